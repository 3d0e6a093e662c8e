"""Docker Compose v2 as data: command lines are built by pure functions and run by `conveyor.process`.

Every file is passed with -f (which turns off compose's automatic docker-compose.override.yml), with an
explicit project name and the image names in the environment the compose files interpolate."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from conveyor import process
from conveyor.errors import ConfigError, ToolError
from conveyor.process import Command, Completed

MIN_VERSION = (2, 0, 0)
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_QUIET_ENV = {"COMPOSE_BAKE": "false", "COMPOSE_ANSI": "never", "COMPOSE_STATUS_STDOUT": "1"}


@dataclass(frozen=True)
class ComposeProject:
    """One compose project: its files, its name, and the variables its files interpolate."""

    files: tuple[Path, ...]
    name: str
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    def command(self, *args: str | Sequence[str], progress: str = "") -> Command:
        """`docker compose -f … -p NAME [--progress P] ARGS` as data."""
        files = [part for path in self.files for part in ("-f", str(path))]
        global_flags = ["--progress", progress] if progress else []
        return Command(
            argv=process.argv("docker", "compose", files, "-p", self.name, global_flags, *args),
            env={**_QUIET_ENV, **self.env},
            cwd=str(self.cwd) if self.cwd else None,
        )

    def relative(self, path: Path) -> str:
        """`path` as the user wrote it: relative to the project when it is inside it."""
        root = self.cwd
        return str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else str(path)

    def with_name(self, name: str) -> ComposeProject:
        return ComposeProject(files=self.files, name=name, env=self.env, cwd=self.cwd)

    def build(self, services: Sequence[str]) -> Command:
        return self.command("build", list(services), progress="plain")

    def pull(self, services: Sequence[str]) -> Command:
        return self.command("pull", "--quiet", list(services))

    def run(self, service: str, command: Sequence[str], no_deps: bool, keep_as: str = "") -> Command:
        """`run -T` (no TTY in CI); the container is removed when it exits (`--rm`), or kept under the name
        `keep_as`, so that files can be copied out of it before whoever ran it removes it."""
        kept = ["--name", keep_as] if keep_as else ["--rm"]
        flags = [*kept, "-T"] + (["--no-deps"] if no_deps else [])
        return self.command("run", flags, service, list(command), progress="quiet")

    def down(self) -> Command:
        """Remove the project's containers, networks and volumes (test services are throwaway: no grace)."""
        return self.command("down", "--volumes", "--remove-orphans", "--timeout", "0", progress="quiet")

    def services(self) -> Command:
        return self.command("config", "--services")


def version_command() -> Command:
    return Command(argv=("docker", "compose", "version"))


def parse_version(text: str) -> tuple[int, int, int]:
    """(major, minor) from `docker compose version` output, or (0, 0) when unreadable."""
    match = _VERSION.search(text)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else (0, 0, 0)


def check_version(result: Completed) -> str:
    """The compose version, or ToolError when the v2 plugin is missing or too old."""
    version = parse_version(result.output) if result.ok else (0, 0, 0)
    if not result.ok or version < MIN_VERSION:
        detail = result.first_line() or "no output"
        raise ToolError(
            f"Docker Compose v2 is missing (`docker compose version` said: {detail})",
            "install the compose CLI plugin as ~/.docker/cli-plugins/docker-compose (.ci/install does it)",
        )
    return ".".join(str(part) for part in version)


def check_files(files: Sequence[Path]) -> None:
    """Every compose file must exist: compose would otherwise fail late, or silently drop an override."""
    if not files:
        raise ConfigError("no compose files configured", "set CONVEYOR_COMPOSE_FILES or conveyor.compose_files")
    for path in files:
        if not path.is_file():
            raise ConfigError(f"compose file {path} is missing", "create it or fix CONVEYOR_COMPOSE_FILES")


def check_services(wanted: Sequence[str], listed: Completed, files: Sequence[Path]) -> None:
    """Every wanted service must be defined by the compose files."""
    if not listed.ok:
        raise ConfigError(f"compose files are invalid: {listed.last_line()}", "fix " + ", ".join(map(str, files)))
    known = {line.strip() for line in listed.lines if line.strip()}
    for service in wanted:
        if service not in known:
            raise ConfigError(
                f"unknown compose service {service!r}",
                f"the compose files define {', '.join(sorted(known)) or 'none'}; fix the service name in invoke.yaml",
            )


def prod_variable_key(name: str) -> str:
    """A prod image's part of the variables build-prod sets for compose: `CONVEYOR_PROD_IMAGE_<KEY>` and
    `CONVEYOR_PROD_CACHE_<KEY>` (upper case, '-' and '.' as '_')."""
    return name.upper().replace("-", "_").replace(".", "_")
