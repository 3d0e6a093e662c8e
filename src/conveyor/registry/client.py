"""The registry's HTTP API v2 as Conveyor uses it: tags, manifests and blobs of one registry, retagging
server-side, and an image's creation time, built on the Transport (the one place that does HTTP). Deleting
a tag without touching the tags that share its digest is its `deleter`'s (conveyor.registry.deletion), and
only with the deletion guard's permit."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urljoin

from conveyor.redact import Redactor
from conveyor.registry.answers import describe, json_object
from conveyor.registry.credentials import Credentials
from conveyor.registry.deletion import TagDeleter
from conveyor.registry.errors import ManifestNotFound, RegistryProtocolError, RegistryUnavailable, RegistryUnreachable
from conveyor.registry.gitlab import GitLabTags
from conveyor.registry.manifests import ACCEPT, Manifest, config_created, sha256_digest
from conveyor.registry.options import RegistryOptions
from conveyor.registry.paging import TagPages
from conveyor.registry.transport import Transport, manifest_path


class RegistryClient:
    """One registry (host[:port]). Thread-safe: share one instance between worker threads."""

    def __init__(
        self, registry: str, credentials: Credentials | None = None, options: RegistryOptions | None = None
    ) -> None:
        """`options`: how to talk to the registry (scheme, deadline, timeouts, retries, session, GitLab's tags
        API; conveyor.registry.options)."""
        self.options = options if options is not None else RegistryOptions()
        self.transport = Transport(registry, credentials, self.options)
        gitlab = self.options.gitlab
        tags_api = GitLabTags(gitlab, self.transport) if gitlab is not None else None
        self.deleter = TagDeleter(self, self.transport, tags_api)
        """Deletes tags of this registry, each only with the deletion guard's permit."""

    @property
    def registry(self) -> str:
        return self.transport.registry

    @property
    def credentials(self) -> Credentials | None:
        return self.transport.credentials

    @property
    def redactor(self) -> Redactor:
        """Knows this client's secrets (credentials, GitLab token, fetched tokens): clean what you print."""
        return self.transport.redactor

    def __repr__(self) -> str:
        user = self.credentials.user if self.credentials else ""
        return f"RegistryClient(registry={self.registry!r}, user={user!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections, when the session is the client's own (an injected one is the caller's)."""
        self.transport.close()

    # ---- v2 operations -----------------------------------------------------------------------------------

    def ping(self) -> None:
        """Prove that the address serves the registry API, once per client (see Transport.ping)."""
        self.transport.ping()

    def list_tags(self, repository: str, page_size: int = 1000) -> list[str]:
        """Every tag of `repository`, following `Link: <…>; rel="next"` pages; [] when the repository is unknown.
        One operation: one deadline from its start across all pages. A Link back to a page already fetched,
        to another host, or past MAX_PAGES pages is a RegistryProtocolError (conveyor.registry.paging)."""
        deadline = self.transport.backoff.deadline_from_now()
        pages = TagPages(self.registry, self.transport.base_url, repository)
        url: str | None = f"{self.transport.base_url}/v2/{repository}/tags/list?n={page_size}"
        while url:
            pages.fetching(url)
            if pages.count > 1 and self.options.monotonic() >= deadline:
                raise self._unfinished(pages)
            try:
                response = self.transport.request("GET", url, repository=repository, deadline=deadline)
            except (RegistryUnreachable, RegistryUnavailable):
                if pages.count > 1 and self.options.monotonic() >= deadline:
                    raise self._unfinished(pages) from None
                raise
            if response.status_code == 404:
                return pages.tags
            if response.status_code != 200:
                self.transport.fail(response, f"listing the tags of {repository}")
            page = json_object(response, f"listing the tags of {repository} on {self.registry}").get("tags") or []
            next_url = response.links.get("next", {}).get("url")
            pages.add(page if isinstance(page, list) else [], url, bool(next_url))
            url = pages.next_url(next_url, url) if next_url else None
        return pages.tags

    def _unfinished(self, pages: TagPages) -> RegistryUnreachable:
        return RegistryUnreachable(
            f"registry {self.registry} did not finish listing the tags of {pages.repository} within "
            f"{self.transport.deadline:g} s (page {pages.count:,} unanswered; {pages.count - 1:,} pages and "
            f"{len(pages.tags):,} tags so far)",
            "check the registry and any proxy in front of it (a tags list without end), "
            "or raise CONVEYOR_REGISTRY_TIMEOUT",
        )

    def head_digest(self, repository: str, reference: str) -> str | None:
        """The digest `reference` (tag or digest) points at, or None when it does not exist."""
        deadline = self.transport.backoff.deadline_from_now()
        path = manifest_path(repository, reference)
        response = self.transport.request(
            "HEAD", path, repository=repository, headers={"Accept": ACCEPT}, deadline=deadline
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self.transport.fail(response, f"looking up {repository}:{reference}")
        digest = response.headers.get("Docker-Content-Digest")
        return digest or self.get_manifest(repository, reference, deadline=deadline).digest

    def get_manifest(self, repository: str, reference: str, *, deadline: float | None = None) -> Manifest:
        """The manifest as stored (bytes, media type, digest); ManifestNotFound when it does not exist.
        `deadline`: the operation's, when this is part of one (monotonic)."""
        path = manifest_path(repository, reference)
        response = self.transport.request(
            "GET", path, repository=repository, headers={"Accept": ACCEPT}, deadline=deadline
        )
        if response.status_code == 404:
            raise ManifestNotFound(
                f"{self.registry}/{repository}:{reference} does not exist", "check the tag (list the tags to see them)"
            )
        if response.status_code != 200:
            self.transport.fail(response, f"reading the manifest of {repository}:{reference}")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        manifest = Manifest.from_bytes(response.content, media_type)
        try:
            manifest.json()
        except ValueError:
            raise RegistryProtocolError(
                self.transport.clean(
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

    def put_manifest(
        self, repository: str, reference: str, manifest: Manifest, *, replay: bool = True, deadline: float | None = None
    ) -> str:
        """Store `manifest` under `reference` (a tag, or its own digest); returns its digest. Without
        `replay`, an answer that was lost raises AnswerLost (see Transport.request)."""
        response = self.transport.request(
            "PUT",
            manifest_path(repository, reference),
            repository=repository,
            headers={"Content-Type": manifest.media_type},
            data=manifest.raw,
            replay=replay,
            deadline=deadline,
        )
        if response.status_code not in (200, 201):
            self.transport.fail(response, f"pushing the manifest {repository}:{reference}")
        return response.headers.get("Docker-Content-Digest") or manifest.digest

    def blob_exists(self, repository: str, digest: str, *, deadline: float | None = None) -> bool:
        path = _blob_path(repository, digest)
        response = self.transport.request("HEAD", path, repository=repository, deadline=deadline)
        if response.status_code not in (200, 404):
            self.transport.fail(response, f"looking up blob {digest} in {repository}")
        return response.status_code == 200

    def get_blob(self, repository: str, digest: str, *, deadline: float | None = None) -> bytes:
        """The blob's bytes, checked against its digest; a registry's redirect to its storage is followed
        (without the registry's credentials when the storage is another host)."""
        path = _blob_path(repository, digest)
        response = self.transport.request("GET", path, repository=repository, deadline=deadline)
        if response.status_code != 200:
            self.transport.fail(response, f"reading blob {digest} of {repository}")
        if sha256_digest(response.content) != digest:
            raise RegistryProtocolError(
                f"registry {self.registry} sent blob {digest} with other content", "check the registry's storage"
            )
        return response.content

    def upload_blob(self, repository: str, data: bytes) -> str:
        """Upload a small blob in one piece (POST, then PUT with the digest); skipped when it exists. One
        operation: one deadline."""
        digest = sha256_digest(data)
        deadline = self.transport.backoff.deadline_from_now()
        for _ in range(3):
            if self.blob_exists(repository, digest, deadline=deadline):
                return digest
            start = self.transport.request(
                "POST", f"/v2/{repository}/blobs/uploads/", repository=repository, deadline=deadline
            )
            if start.status_code != 202 or "Location" not in start.headers:
                self.transport.fail(start, f"starting a blob upload to {repository}")
            location = urljoin(self.transport.base_url + "/", start.headers["Location"])
            done = self.transport.request(
                "PUT",
                location,
                repository=repository,
                params={"digest": digest},
                headers={"Content-Type": "application/octet-stream"},
                data=data,
                deadline=deadline,
            )
            if done.status_code in (201, 204):
                return digest
            if done.status_code != 404:  # 404: the upload session is gone (a retried PUT); check and restart
                self.transport.fail(done, f"uploading blob {digest} to {repository}")
        raise RegistryProtocolError(
            f"registry {self.registry} lost the upload of blob {digest} to {repository} three times",
            "check the registry's storage and logs",
        )

    def retag(self, repository: str, source: str, tag: str) -> str:
        """Point `tag` at what `source` points at, server-side (GET the manifest, PUT it): no layer moves."""
        self.ping()
        deadline = self.transport.backoff.deadline_from_now()
        manifest = self.get_manifest(repository, source, deadline=deadline)
        digest = self.put_manifest(repository, tag, manifest, deadline=deadline)
        if digest != manifest.digest:
            raise RegistryProtocolError(
                f"registry {self.registry} stored {repository}:{tag} as {digest}, not {manifest.digest}",
                "the registry rewrote the manifest; retag with a registry that keeps manifests byte for byte",
            )
        return digest

    def image_created(self, repository: str, manifest: Manifest) -> datetime | None:
        """The image config's `created` time (the first platform's for an index), None when unknown."""
        deadline = self.transport.backoff.deadline_from_now()
        if manifest.is_index:
            children = manifest.child_digests()
            if not children:
                return None
            manifest = self.get_manifest(repository, children[0], deadline=deadline)
        config = manifest.config_digest()
        return config_created(self.get_blob(repository, config, deadline=deadline)) if config else None


def _blob_path(repository: str, digest: str) -> str:
    return f"/v2/{repository}/blobs/{digest}"
