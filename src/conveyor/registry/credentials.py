"""Where registry credentials come from, as one pure function.

Precedence (first that applies wins):
1. `access_token`: a personal/project access token setting (user: `user` when it is not the job-token user,
   else `oauth2`). Chosen first because it is only ever set on purpose, to get rights a job token lacks.
2. `user` + `password`: explicit credentials (GitLab sets CI_REGISTRY_USER / CI_REGISTRY_PASSWORD).
3. `job_token`: GitLab's CI_JOB_TOKEN, sent as user `gitlab-ci-token`.
4. The Docker client config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), read by the
   Docker SDK's own auth support: `auths` entries, and credential helpers (`credsStore`, `credHelpers`),
   which the SDK runs as `docker-credential-<name> get` (the server address on stdin, never in argv).

The same credentials serve the registry API client, the Docker SDK's pushes and pulls, and compose (through
a `docker login` into a temporary Docker config, see conveyor.docker.config).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conveyor.registry.errors import AuthenticationFailed

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


def _from_docker_config(registry: str, config_dir: Path) -> Credentials | None:
    """What the Docker CLI would use for `registry`: the config's `auths`, or its credential helper."""
    from docker.auth import load_config
    from docker.errors import DockerException

    path = config_dir / "config.json"
    if not path.is_file():
        return None
    try:
        entry = load_config(config_path=str(path)).resolve_authconfig(registry) or {}
    except ValueError:  # a malformed `auth` entry (bad base64): as if there were none; the registry will say
        return None
    except DockerException as error:
        raise AuthenticationFailed(
            f"the credential helper in {path} failed for {registry}: {str(error).splitlines()[0]}",
            "fix the helper, or set CI_REGISTRY_USER and CI_REGISTRY_PASSWORD",
        ) from None
    user = entry.get("Username") or entry.get("username")
    secret = entry.get("Password") or entry.get("password")
    if isinstance(user, str) and isinstance(secret, str) and user and secret:
        return Credentials(user, secret, f"Docker config {path}")
    return None
