"""Where registry credentials come from, as one pure function.

Precedence (first that applies wins):
1. `access_token`: a personal/project access token setting (user: `user` when it is not the job-token user,
   else `oauth2`). Chosen first because it is only ever set on purpose, to get rights a job token lacks.
2. `user` + `password`: explicit credentials (GitLab sets CI_REGISTRY_USER / CI_REGISTRY_PASSWORD).
3. `job_token`: GitLab's CI_JOB_TOKEN, sent as user `gitlab-ci-token`.
4. The Docker client config (`<docker_config_dir>/config.json`, `auths.<registry>.auth` = base64 of
   `user:password`, or `username`/`password`). `credsStore`/`credHelpers` are not run (no subprocesses):
   `docker_config_note()` says so in one line.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOB_TOKEN_USER = "gitlab-ci-token"
ACCESS_TOKEN_USER = "oauth2"


@dataclass(frozen=True)
class Credentials:
    """A user and password for Basic auth. The password never appears in repr()."""

    user: str
    password: str = field(repr=False)
    source: str = ""


def resolve_credentials(
    registry: str,
    user: str = "",
    password: str = "",
    job_token: str = "",
    access_token: str = "",
    docker_config_dir: Path | str | None = None,
) -> Credentials | None:
    """The credentials to use for `registry` (host[:port]), or None for anonymous access."""
    if access_token:
        token_user = user if user and user != JOB_TOKEN_USER else ACCESS_TOKEN_USER
        return Credentials(token_user, access_token, "access token")
    if user and password:
        return Credentials(user, password, "user and password")
    if job_token:
        return Credentials(JOB_TOKEN_USER, job_token, "job token")
    if docker_config_dir is None:
        return None
    return _from_docker_config(registry, Path(docker_config_dir))


def docker_config_note(registry: str, docker_config_dir: Path | str | None) -> str:
    """One line when the Docker config delegates `registry` to a credential helper Conveyor does not run."""
    if docker_config_dir is None:
        return ""
    config = _read_config(Path(docker_config_dir))
    helpers = config.get("credHelpers")
    helper = helpers.get(registry) if isinstance(helpers, dict) else None
    store = config.get("credsStore")
    if not helper and not store:
        return ""
    name = helper or store
    return (
        f"the Docker config keeps credentials for {registry} in the credential helper {name!r}, which Conveyor "
        "does not run: set CI_REGISTRY_USER and CI_REGISTRY_PASSWORD (or an access token) instead"
    )


def _from_docker_config(registry: str, config_dir: Path) -> Credentials | None:
    auths = _read_config(config_dir).get("auths")
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if _normalise_host(str(key)) == registry and isinstance(entry, dict):
            found = _decode_entry(entry)
            if found is not None:
                return Credentials(found[0], found[1], f"Docker config {config_dir / 'config.json'}")
    return None


def _read_config(config_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((config_dir / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _normalise_host(key: str) -> str:
    """`https://host:port/v1/` → `host:port`, as the Docker CLI matches `auths` keys."""
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key.split("/", 1)[0]


def _decode_entry(entry: dict[str, Any]) -> tuple[str, str] | None:
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep and user else None
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str) and name and secret:
        return name, secret
    return None
