"""The registry's HTTP API v2 as Conveyor uses it: tags, manifests and blobs of one registry, retagging
server-side, and an image's creation time, built on the Transport (the one place that does HTTP). Deleting
a tag without touching the tags that share its digest is TagDeleter's (conveyor.registry.deletion); the
client offers it too, so that one object stands for the registry."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urljoin

import requests

from conveyor.redact import Redactor
from conveyor.registry.credentials import Credentials
from conveyor.registry.deletion import PendingDeletion, TagDeleter, TagDeletion
from conveyor.registry.errors import ManifestNotFound, RegistryProtocolError
from conveyor.registry.gitlab import GitLabTags, GitLabTagsApi
from conveyor.registry.manifests import ACCEPT, Manifest, config_created, sha256_digest
from conveyor.registry.transport import (
    DEFAULT_ACTIONS,
    RetryPolicy,
    Transport,
    describe,
    json_object,
    manifest_path,
)


class RegistryClient:
    """One registry (host[:port]). Thread-safe: share one instance between worker threads."""

    def __init__(
        self,
        registry: str,
        credentials: Credentials | None = None,
        *,
        scheme: str = "https",
        redactor: Redactor | None = None,
        session: requests.Session | None = None,
        actions: tuple[str, ...] = DEFAULT_ACTIONS,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        gitlab: GitLabTagsApi | None = None,
        deadline: float = 60.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        pool_size: int = 16,
    ) -> None:
        """`deadline`: seconds one operation may take, retries included (CONVEYOR_REGISTRY_TIMEOUT); each
        attempt also gives up after `connect_timeout` without a connection and `read_timeout` without a byte.
        `clock` (wall time) dates tokens, `monotonic` measures deadlines, `sleep` waits between tries.
        `gitlab`: GitLab's tags API, for registries that cannot delete a tag themselves."""
        self._transport = Transport(
            registry,
            credentials,
            scheme=scheme,
            redactor=redactor,
            session=session,
            actions=actions,
            retry=retry,
            sleep=sleep,
            clock=clock,
            monotonic=monotonic,
            deadline=deadline,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            pool_size=pool_size,
        )
        tags_api = GitLabTags(gitlab, self._transport) if gitlab is not None else None
        self._deletion = TagDeleter(self, self._transport, tags_api)

    @property
    def registry(self) -> str:
        return self._transport.registry

    @property
    def credentials(self) -> Credentials | None:
        return self._transport.credentials

    @property
    def redactor(self) -> Redactor:
        """Knows this client's secrets (credentials, GitLab token, fetched tokens): clean what you print."""
        return self._transport.redactor

    def __repr__(self) -> str:
        user = self.credentials.user if self.credentials else ""
        return f"RegistryClient(registry={self.registry!r}, user={user!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections, when the session is the client's own (an injected one is the caller's)."""
        self._transport.close()

    # ---- v2 operations -----------------------------------------------------------------------------------

    def ping(self) -> None:
        """Prove that the address serves the registry API, once per client (see Transport.ping)."""
        self._transport.ping()

    def list_tags(self, repository: str, page_size: int = 1000) -> list[str]:
        """Every tag of `repository`, following `Link: <…>; rel="next"` pages; [] when the repository is unknown."""
        tags: list[str] = []
        url: str | None = f"/v2/{repository}/tags/list?n={page_size}"
        while url:
            response = self._transport.request("GET", url, repository=repository)
            if response.status_code == 404:
                return tags
            if response.status_code != 200:
                self._transport.fail(response, f"listing the tags of {repository}")
            page = json_object(response, f"listing the tags of {repository} on {self.registry}").get("tags") or []
            tags.extend(str(tag) for tag in page)
            next_url = response.links.get("next", {}).get("url")
            url = urljoin(response.url or self._transport.base_url, next_url) if next_url else None
        return tags

    def head_digest(self, repository: str, reference: str) -> str | None:
        """The digest `reference` (tag or digest) points at, or None when it does not exist."""
        path = manifest_path(repository, reference)
        response = self._transport.request("HEAD", path, repository=repository, headers={"Accept": ACCEPT})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._transport.fail(response, f"looking up {repository}:{reference}")
        digest = response.headers.get("Docker-Content-Digest")
        return digest or self.get_manifest(repository, reference).digest

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest as stored (bytes, media type, digest); ManifestNotFound when it does not exist."""
        path = manifest_path(repository, reference)
        response = self._transport.request("GET", path, repository=repository, headers={"Accept": ACCEPT})
        if response.status_code == 404:
            raise ManifestNotFound(
                f"{self.registry}/{repository}:{reference} does not exist", "check the tag (list the tags to see them)"
            )
        if response.status_code != 200:
            self._transport.fail(response, f"reading the manifest of {repository}:{reference}")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        manifest = Manifest.from_bytes(response.content, media_type)
        try:
            manifest.json()
        except ValueError:
            raise RegistryProtocolError(
                self._transport.clean(
                    f"registry {self.registry} answered {describe(response)} instead of the manifest "
                    f"{repository}:{reference}"
                ),
                "check the registry address (CI_REGISTRY) and any proxy in front of it",
            ) from None
        announced = response.headers.get("Docker-Content-Digest", "")
        if announced.startswith("sha256:") and announced != manifest.digest:
            raise RegistryProtocolError(
                f"registry {self.registry} sent a manifest for {repository}:{reference} that does not match its digest",
                "check the registry and any proxy in front of it",
            )
        return manifest

    def put_manifest(self, repository: str, reference: str, manifest: Manifest, *, replay: bool = True) -> str:
        """Store `manifest` under `reference` (a tag, or its own digest); returns its digest. Without
        `replay`, an answer that was lost raises AnswerLost (see Transport.request)."""
        response = self._transport.request(
            "PUT",
            manifest_path(repository, reference),
            repository=repository,
            headers={"Content-Type": manifest.media_type},
            data=manifest.raw,
            replay=replay,
        )
        if response.status_code not in (200, 201):
            self._transport.fail(response, f"pushing the manifest {repository}:{reference}")
        return response.headers.get("Docker-Content-Digest") or manifest.digest

    def delete_manifest(self, repository: str, digest: str, *, replay: bool = True) -> bool:
        """Delete a manifest by digest: True when deleted, False when it was already gone (404).
        This removes EVERY tag pointing at the digest: callers prove first that no surviving tag does.
        Without `replay`, an answer that was lost raises AnswerLost (see Transport.request)."""
        if not digest.startswith("sha256:"):
            raise RegistryProtocolError(f"refusing to delete {digest!r} by digest", "only sha256 digests are deleted")
        path = manifest_path(repository, digest)
        response = self._transport.request("DELETE", path, repository=repository, replay=replay)
        if response.status_code in (200, 202):
            return True
        if response.status_code == 404:
            return False
        self._transport.raise_if_deletes_refused(response)
        self._transport.fail(response, f"deleting {repository}@{digest}")

    def blob_exists(self, repository: str, digest: str) -> bool:
        response = self._transport.request("HEAD", _blob_path(repository, digest), repository=repository)
        if response.status_code not in (200, 404):
            self._transport.fail(response, f"looking up blob {digest} in {repository}")
        return response.status_code == 200

    def get_blob(self, repository: str, digest: str) -> bytes:
        response = self._transport.request("GET", _blob_path(repository, digest), repository=repository)
        if response.status_code != 200:
            self._transport.fail(response, f"reading blob {digest} of {repository}")
        if sha256_digest(response.content) != digest:
            raise RegistryProtocolError(
                f"registry {self.registry} sent blob {digest} with other content", "check the registry's storage"
            )
        return response.content

    def upload_blob(self, repository: str, data: bytes) -> str:
        """Upload a small blob in one piece (POST, then PUT with the digest); skipped when it exists."""
        digest = sha256_digest(data)
        for _ in range(3):
            if self.blob_exists(repository, digest):
                return digest
            start = self._transport.request("POST", f"/v2/{repository}/blobs/uploads/", repository=repository)
            if start.status_code != 202 or "Location" not in start.headers:
                self._transport.fail(start, f"starting a blob upload to {repository}")
            location = urljoin(self._transport.base_url + "/", start.headers["Location"])
            done = self._transport.request(
                "PUT",
                location,
                repository=repository,
                params={"digest": digest},
                headers={"Content-Type": "application/octet-stream"},
                data=data,
            )
            if done.status_code in (201, 204):
                return digest
            if done.status_code != 404:  # 404: the upload session is gone (a retried PUT); check and restart
                self._transport.fail(done, f"uploading blob {digest} to {repository}")
        raise RegistryProtocolError(
            f"registry {self.registry} lost the upload of blob {digest} to {repository} three times",
            "check the registry's storage and logs",
        )

    def retag(self, repository: str, source: str, tag: str) -> str:
        """Point `tag` at what `source` points at, server-side (GET the manifest, PUT it): no layer moves."""
        self.ping()
        manifest = self.get_manifest(repository, source)
        digest = self.put_manifest(repository, tag, manifest)
        if digest != manifest.digest:
            raise RegistryProtocolError(
                f"registry {self.registry} stored {repository}:{tag} as {digest}, not {manifest.digest}",
                "the registry rewrote the manifest; retag with a registry that keeps manifests byte for byte",
            )
        return digest

    def image_created(self, repository: str, manifest: Manifest) -> datetime | None:
        """The image config's `created` time (the first platform's for an index), None when unknown."""
        if manifest.is_index:
            children = manifest.child_digests()
            if not children:
                return None
            manifest = self.get_manifest(repository, children[0])
        config = manifest.config_digest()
        return config_created(self.get_blob(repository, config)) if config else None

    # ---- tag deletion (conveyor.registry.deletion) ---------------------------------------------------------

    def check_deletes_allowed(self, repository: str) -> None:
        """Raise unless the address is a registry that lets these credentials delete in `repository`
        (see TagDeleter.check_deletes_allowed)."""
        self._deletion.check_deletes_allowed(repository)

    def delete_tag(self, repository: str, tag: str, *, look_up: bool = True) -> TagDeletion:
        """Remove `tag` only, never another tag sharing its digest (see TagDeleter.delete_tag)."""
        return self._deletion.delete_tag(repository, tag, look_up=look_up)

    def begin_tag_deletion(self, repository: str, tag: str, *, look_up: bool = True) -> TagDeletion | PendingDeletion:
        """The first half of delete_tag (see TagDeleter.begin)."""
        return self._deletion.begin(repository, tag, look_up=look_up)

    def finish_tag_deletion(self, pending: PendingDeletion) -> TagDeletion:
        """The second half of delete_tag (see TagDeleter.finish)."""
        return self._deletion.finish(pending)


def _blob_path(repository: str, digest: str) -> str:
    return f"/v2/{repository}/blobs/{digest}"
