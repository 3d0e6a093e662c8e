"""A real registry (Debian's docker-registry, distribution 2.8) started for the tests on a free loopback
port, with its own storage directory, stopped by its process id."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

REGISTRY_BINARY = "docker-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def registry_available() -> str:
    """Empty when the registry binary can run here, else the reason it cannot."""
    if shutil.which(REGISTRY_BINARY) is None:
        return f"{REGISTRY_BINARY} is not installed (apt-get install docker-registry; .ci/run does it)"
    return ""


@dataclass
class RegistryProcess:
    """One registry process. `extra_config` is merged into the generated config.yml (e.g. `auth`)."""

    root: Path
    delete_enabled: bool = True
    extra_config: dict[str, Any] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "data")},
                "delete": {"enabled": self.delete_enabled},
            },
            "http": {"addr": self.address},
        }
        config.update(self.extra_config)
        return config

    def start(self) -> RegistryProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        config_path = self.root / "config.yml"
        config_path.write_text(yaml.safe_dump(self.config()))
        log = (self.root / "registry.log").open("ab")
        self.proc = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config_path)], stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"registry exited: {(self.root / 'registry.log').read_text()[-2000:]}")
            try:
                requests.get(f"{self.url}/v2/", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("registry did not start within 15 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
