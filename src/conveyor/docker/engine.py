"""The Docker engine through the docker SDK: tag, push, pull and digest look-ups, and files read out of a
(stopped) container through the engine's archive API, which is what `docker cp` uses and which works the
same against a remote engine (docker-in-docker): nothing is bind-mounted.

The SDK's push and pull answer HTTP 200 and report failures inside the JSON stream, so every chunk is
decoded and `error`/`errorDetail` raise DockerError. `docker` is imported only when an Engine is made."""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.errors import DockerError, RegistryError
from conveyor.reference import ImageReference

if TYPE_CHECKING:
    import docker

Observer = Callable[[Mapping[str, Any]], None]
"""Sees every chunk of a push or pull stream (for progress)."""


@dataclass(frozen=True)
class Auth:
    username: str
    password: str

    def as_sdk(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def stream_errors(chunks: Iterable[Mapping[str, Any]], observe: Observer | None = None) -> list[Mapping[str, Any]]:
    """Consume a push/pull stream, show each chunk to `observe`, and raise on the first error chunk."""
    seen: list[Mapping[str, Any]] = []
    for chunk in chunks:
        seen.append(chunk)
        error = chunk.get("errorDetail") or chunk.get("error")
        if error:
            message = error.get("message", str(error)) if isinstance(error, Mapping) else str(error)
            raise DockerError(f"the Docker engine reported: {message}")
        if observe is not None:
            observe(chunk)
    return seen


def pushed_digest(chunks: Iterable[Mapping[str, Any]]) -> str:
    """The manifest digest the push stream reported (its `aux` record)."""
    for chunk in chunks:
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("Digest"):
            return str(aux["Digest"])
    raise DockerError("the push finished without reporting a digest", "check the registry's logs")


class Engine:
    """A connection to one Docker engine."""

    def __init__(self, environment: Mapping[str, str], auth: Auth | None = None) -> None:
        import docker.errors

        import docker

        self._errors = docker.errors
        self._auth = auth
        try:
            self._client: docker.DockerClient = docker.from_env(environment=dict(environment))
            self._client.ping()
        except docker.errors.DockerException as exc:
            host = environment.get("DOCKER_HOST", "the local socket")
            raise DockerError(
                f"cannot reach the Docker daemon at {host} ({_first_line(exc)})",
                "start dockerd (.ci/services start) or set DOCKER_HOST",
            ) from None

    def _auth_config(self) -> dict[str, str] | None:
        return self._auth.as_sdk() if self._auth else None

    def tag(self, source: ImageReference, target: ImageReference) -> None:
        try:
            self._client.api.tag(str(source), target.name, target.tag, force=True)
        except self._errors.APIError as exc:
            raise DockerError(f"cannot tag {source} as {target} ({_first_line(exc)})") from None

    def push(self, ref: ImageReference, observe: Observer | None = None) -> str:
        """Push `ref` and return the manifest digest the registry stored."""
        try:
            stream = self._client.api.push(
                ref.name, tag=ref.tag, stream=True, decode=True, auth_config=self._auth_config()
            )
            return pushed_digest(stream_errors(stream, observe))
        except self._errors.APIError as exc:
            raise DockerError(f"cannot push {ref} ({_first_line(exc)})") from None

    def pull(self, ref: ImageReference, observe: Observer | None = None) -> None:
        try:
            stream = self._client.api.pull(
                ref.name, tag=ref.tag, stream=True, decode=True, auth_config=self._auth_config()
            )
            stream_errors(stream, observe)
        except self._errors.APIError as exc:
            raise DockerError(f"cannot pull {ref} ({_first_line(exc)})") from None

    def registry_digest(self, ref: ImageReference) -> str | None:
        """The digest `ref` has in its registry (asked through the engine), or None when it is absent.

        An unreachable or refusing registry raises RegistryError: absence and failure are different."""
        try:
            found = self._client.api.inspect_distribution(str(ref), auth_config=self._auth_config())  # type: ignore[no-untyped-call]
        except self._errors.NotFound:
            return None
        except self._errors.APIError as exc:
            raise RegistryError(
                f"cannot reach registry {ref.registry} for {ref} ({_first_line(exc)})",
                "start the registry or fix CI_REGISTRY / CI_REGISTRY_IMAGE and the credentials",
            ) from None
        return str(found["Descriptor"]["digest"])

    def container_file(self, container: str, path: str) -> bytes | None:
        """The content of the regular file `path` in `container` (running or stopped; a relative path is taken
        from the container's working directory), or None when there is no such file."""
        try:
            if not posixpath.isabs(path):
                config = self._client.api.inspect_container(container)["Config"]
                path = posixpath.join(config.get("WorkingDir") or "/", path)
            chunks, _ = self._client.api.get_archive(container, posixpath.normpath(path))
            archive = b"".join(chunks)
        except self._errors.NotFound:
            return None
        except self._errors.APIError as exc:
            raise DockerError(f"cannot copy {path} out of container {container} ({_first_line(exc)})") from None
        return only_file(archive)

    def remove_container(self, container: str) -> None:
        """Remove `container` (stopping it first), with its anonymous volumes; gone already is fine."""
        try:
            self._client.api.remove_container(container, v=True, force=True)
        except self._errors.NotFound:
            return
        except self._errors.APIError as exc:
            raise DockerError(
                f"cannot remove container {container} ({_first_line(exc)})", f"remove it: docker rm -f {container}"
            ) from None


def only_file(archive: bytes) -> bytes | None:
    """The content of the one regular file an archive of a single path holds; None when that path is not a
    regular file (a directory, a link)."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        first = tar.next()
        if first is None or not first.isfile():
            return None
        extracted = tar.extractfile(first)
        return extracted.read() if extracted is not None else None


def _first_line(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None) or str(exc)
    return str(explanation).strip().splitlines()[0] if str(explanation).strip() else type(exc).__name__
