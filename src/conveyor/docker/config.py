"""A temporary Docker config for one run. `docker login` writes the run's registry credentials there, not
into the user's Docker config, where the password (base64 of `user:password`) would stay after the task.
It keeps what compose and the Docker CLI need from the user's config: everything beside config.json (CLI
plugins such as compose, contexts) is linked in, and the user's credential helpers stay in charge of every
other registry. The directory is removed when the run ends, however it ends."""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CONFIG = "config.json"


def for_run(config: Mapping[str, Any], registry: str) -> dict[str, Any]:
    """The user's config without any credentials for `registry` (the run logs in there itself): its
    `auths` entry and `credHelpers` entry go, and a `credsStore` becomes a helper per other registry it
    holds, so that `docker login` writes to the temporary file and nowhere else."""
    result = copy.deepcopy(dict(config))
    auths = {k: v for k, v in (result.get("auths") or {}).items() if _host(str(k)) != registry}
    helpers = {k: v for k, v in (result.get("credHelpers") or {}).items() if _host(str(k)) != registry}
    store = result.pop("credsStore", None)
    if isinstance(store, str) and store:
        for key in auths:
            helpers.setdefault(key, store)
    result["auths"] = auths
    result["credHelpers"] = helpers
    return result


@contextmanager
def temporary_config(user_dir: Path, registry: str) -> Iterator[Path]:
    """A private directory (mode 0700) to use as DOCKER_CONFIG for this run, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="conveyor-docker-") as name:
        directory = Path(name)
        user_config = _read(user_dir / CONFIG)
        (directory / CONFIG).write_text(json.dumps(for_run(user_config, registry), indent=2))
        if user_dir.is_dir():
            for entry in user_dir.iterdir():
                if entry.name != CONFIG:
                    (directory / entry.name).symlink_to(entry.resolve())
        yield directory


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _host(key: str) -> str:
    """`https://host:port/v1/` -> `host:port`, as the Docker CLI matches `auths` keys."""
    for prefix in ("https://", "http://"):
        key = key.removeprefix(prefix)
    return key.split("/", 1)[0]
