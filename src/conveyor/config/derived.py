"""Settings a project need not write down, derived the way GitLab and compose would: the registry image
from `origin`'s project path, the compose files by compose's own default names, and the compose project
name from the files' `name:` or the project directory. None of them is bound to the bundled example."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from conveyor.errors import ConfigError

# compose-go's own order (cli.getConfigPathsFromOptions): the first default file, then the first override.
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_NAMES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)(?P<path>.+)$")  # git@gitlab.com:group/project.git
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+/(?P<path>.+)$")  # https://host/group/project.git


def project_path(remote_url: str) -> str | None:
    """`group/sub/project` from a remote URL as GitLab gives them (https, ssh, scp-like), lower-cased as
    GitLab names registry images; None for a local path or anything else."""
    match = _SCP_LIKE.match(remote_url) or _URL.match(remote_url)
    if match is None:
        return None
    path = match.group("path").strip("/").removesuffix(".git").lower()
    return path if "/" in path else None


def registry_image(registry: str, origin_url: str | None) -> str:
    """`<registry>/<origin's project path>`, or a one-line error naming the setting to set."""
    path = project_path(origin_url or "")
    if not registry:
        raise ConfigError(
            "no registry is configured (CI_REGISTRY is not set)",
            "set CI_REGISTRY (host[:port]) in the environment, .env or invoke.yaml (conveyor.registry)",
        )
    if path is None:
        why = "origin is not a GitLab project URL" if origin_url else "this checkout has no origin"
        raise ConfigError(
            f"no registry image is configured (CI_REGISTRY_IMAGE is not set and {why})",
            f"set CI_REGISTRY_IMAGE, e.g. {registry}/group/project (.env, invoke.yaml or the environment)",
        )
    return f"{registry}/{path}"


def default_files(names: Iterable[str]) -> tuple[str, ...]:
    """Compose's own choice in a directory holding `names`: the first default file, then the first override
    file; nothing without a default file."""
    present = set(names)
    base = next((name for name in COMPOSE_NAMES if name in present), None)
    if base is None:
        return ()
    override = next((name for name in OVERRIDE_NAMES if name in present), None)
    return (base, override) if override else (base,)


def compose_files(project_dir: Path) -> tuple[str, ...]:
    """The compose files compose itself would take in the project directory."""
    if not project_dir.is_dir():
        return ()
    return default_files(entry.name for entry in project_dir.iterdir() if entry.is_file())


def compose_project(files: Sequence[Path], project_dir: Path) -> str:
    """The last `name:` the compose files set, else the project directory's name, normalised as compose
    does (lower case; only letters, digits, '-' and '_'; starting with a letter or digit)."""
    names = [name for path in files if (name := _compose_name(path))]
    raw = names[-1] if names else project_dir.name
    return re.sub(r"^[^a-z0-9]+", "", re.sub(r"[^a-z0-9_-]", "", raw.lower()))


def _compose_name(path: Path) -> str:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ""  # compose itself will say what is wrong with the file
    name = document.get("name") if isinstance(document, dict) else None
    return name if isinstance(name, str) else ""
