"""Helpers shared by the Kubernetes integration tests and the rollout benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.k8s_sim.server import KubeSim

NAMESPACE = "conveyor"
REPO = "conveyor/app"


@dataclass
class Env:
    """One simulated cluster with Deployments already rolled out on v1, its kubeconfig and kubectl."""

    sim: KubeSim
    kubeconfig: Path
    kubectl_path: str
    home: Path
    registry: Any  # tests.support.registry.RegistryProcess

    def image(self, tag: str) -> str:
        return f"{self.registry.address}/{REPO}:{tag}"

    def kubectl_argv(self, *args: str) -> list[str]:
        return [self.kubectl_path, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.home / "cache"), *args]

    def kubectl_env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home)}

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.kubectl_argv(*args),
            env=self.kubectl_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kubectl_popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.kubectl_argv(*args), env=self.kubectl_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def conveyor_cli(self, *args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "conveyor.kube", "--kubeconfig", str(kubeconfig or self.kubeconfig), *args]
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=self.kubectl_env() | {"PYTHONPATH": os.pathsep.join(sys.path)},
        )


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def write_agent_kubeconfig(path: Path, server: str, contexts: dict[str, str]) -> Path:
    """A kubeconfig as GitLab's agent for Kubernetes writes it: one context per agent (name -> its namespace,
    empty for none), all on one cluster and user, and no current-context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gitlab", "cluster": {"server": server}}],
        "users": [{"name": "agent", "user": {"token": "agent-token"}}],
        "contexts": [
            {"name": name, "context": {"cluster": "gitlab", "user": "agent", **({"namespace": ns} if ns else {})}}
            for name, ns in contexts.items()
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))  # JSON is YAML: kubectl and the kubernetes client read it
    return path
