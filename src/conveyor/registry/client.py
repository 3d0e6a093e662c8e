"""A Docker Registry HTTP API v2 client. Every HTTP call goes through `RegistryClient._request()`, which
answers the 401 challenge (anonymous, Basic, Bearer), caches tokens per scope, renews them on expiry or
refusal, and retries 429/5xx/connection errors with bounded exponential backoff honouring Retry-After for as
long as the operation's deadline allows (a refused connection: twice). Every attempt has a connect and a read
timeout, and a body is read as it arrives, so a silent or drip-feeding server cannot outlast the deadline.

Tag deletion reads the registry's state whenever an answer to a PUT or DELETE was lost (5xx, a cut
connection, a read timeout: the registry may have acted), instead of blindly doing it again."""

from __future__ import annotations

import base64
import email.utils
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NoReturn
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3

from conveyor.redact import Redactor
from conveyor.registry.auth import Challenge, Token, TokenCache, parse_challenge, repository_scope, token_from_response
from conveyor.registry.credentials import Credentials
from conveyor.registry.errors import (
    AnswerLost,
    AuthenticationFailed,
    DeletesDisabled,
    GitLabApiError,
    ManifestNotFound,
    NotARegistry,
    PermissionDenied,
    RegistryProtocolError,
    RegistryUnavailable,
    RegistryUnreachable,
)
from conveyor.registry.manifests import (
    ACCEPT,
    THROWAWAY_CONFIG,
    Manifest,
    config_created,
    sha256_digest,
    throwaway_manifest,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REFUSED_RETRIES = 2  # a refused connection (or an unknown host) is tried three times in all, not until the deadline
DEFAULT_ACTIONS = ("pull", "push", "delete")
API_VERSION_HEADER = "Docker-Distribution-API-Version"
BODY_CHUNK = 65536
# A digest no manifest has: DELETE on it tells whether the registry accepts deletes at all (404) or not (405).
PROBE_DIGEST = "sha256:" + "0" * 64
THROWAWAY_ROUNDS = 5  # 400 answers to a throwaway PUT (distribution 2.8 racing on its link files)

DeletionMethod = Literal["oci-tag-delete", "gitlab-api", "throwaway-manifest", "absent"]
# What the registry holds under a tag after an answer was lost: see RegistryClient._tag_state.
TagState = Literal["gone", "ours", "other", "dangling"]
# Why an attempt failed: nothing listens, the host is unknown, no connection within the connect timeout, the
# request may have reached the registry (cut connection, read timeout), it cannot be sent, or 429/5xx.
Failure = Literal["refused", "unresolved", "unconnected", "lost", "unsendable", "busy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Waits base·2ⁿ seconds (or Retry-After) between tries, never more than `max_delay`; how many tries
    fit is the client's deadline's business."""

    base_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        wanted = retry_after if retry_after is not None else self.base_delay * (2**attempt)
        return max(0.0, min(wanted, self.max_delay))


@dataclass(frozen=True)
class GitLabTagsApi:
    """GitLab's container registry API (`DELETE /projects/:id/registry/repositories/:repo_id/tags/:tag`).
    `token_header` is PRIVATE-TOKEN for personal/project access tokens, JOB-TOKEN for CI_JOB_TOKEN."""

    api_url: str
    project_id: str
    token: str = field(repr=False)
    token_header: str = "PRIVATE-TOKEN"


@dataclass(frozen=True)
class PendingDeletion:
    """A tag now pointing at a throwaway manifest, which finish_tag_deletion deletes by its digest."""

    repository: str
    tag: str
    manifest: Manifest
    previous_digest: str | None = None


@dataclass(frozen=True)
class TagDeletion:
    """How a tag was removed; `previous_digest` is what it pointed at (when it was looked up)."""

    tag: str
    method: DeletionMethod
    previous_digest: str | None = None


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
        `clock` (wall time) dates tokens, `monotonic` measures deadlines, `sleep` waits between tries."""
        self.registry = registry
        self.base_url = f"{scheme}://{registry}"
        self.credentials = credentials
        self.redactor = redactor if redactor is not None else Redactor()
        self._own_session = session is None
        self.session = session if session is not None else _new_session(pool_size)
        self.actions = actions
        self.retry = retry or RetryPolicy()
        self.gitlab = gitlab
        self.deadline = deadline
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self._tokens = TokenCache()
        self._lock = threading.Lock()
        self._upload_lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._proven = False
        self._tag_delete_supported: bool | None = None
        self._deletable: set[str] = set()
        self._throwaway_config: set[str] = set()
        self._gitlab_ids: dict[str, int] = {}
        if credentials is not None:
            self.redactor.add(credentials.password, credentials.user)
        if gitlab is not None:
            self.redactor.add(gitlab.token)

    def __repr__(self) -> str:
        user = self.credentials.user if self.credentials else ""
        return f"RegistryClient(registry={self.registry!r}, user={user!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections, when the session is the client's own (an injected one is the caller's)."""
        if self._own_session:
            self.session.close()

    # ---- operations -------------------------------------------------------------------------------------

    def ping(self) -> None:
        """Prove that the address serves the registry API, once per client: `/v2/` answers 200 or 401 with
        `Docker-Distribution-API-Version: registry/2.0`, as every registry does and a web server does not."""
        with self._lock:
            if self._proven:
                return
        response = self._request("GET", "/v2/", auth=False)
        version = response.headers.get(API_VERSION_HEADER, "").strip().lower()
        if version != "registry/2.0":
            why = f"{API_VERSION_HEADER}: {version}" if version else f"no {API_VERSION_HEADER} header"
            raise NotARegistry(
                self._clean(f"{self.registry} is not a Docker registry API ({why} on /v2/)"),
                "check the registry address (CI_REGISTRY) and scheme (CONVEYOR_REGISTRY_SCHEME)",
            )
        if response.status_code not in (200, 401):
            raise NotARegistry(
                self._clean(f"{self.registry} is not a Docker registry API (/v2/ answered {_describe(response)})"),
                "check the registry address (CI_REGISTRY) and that nothing but the registry answers on it",
            )
        with self._lock:
            self._proven = True

    def list_tags(self, repository: str, page_size: int = 1000) -> list[str]:
        """Every tag of `repository`, following `Link: <…>; rel="next"` pages; [] when the repository is unknown."""
        tags: list[str] = []
        url: str | None = f"/v2/{repository}/tags/list?n={page_size}"
        while url:
            response = self._request("GET", url, scope=self._scope(repository))
            if response.status_code == 404:
                return tags
            if response.status_code != 200:
                self._fail(response, f"listing the tags of {repository}")
            page = _json(response, f"listing the tags of {repository} on {self.registry}").get("tags") or []
            tags.extend(str(tag) for tag in page)
            next_url = response.links.get("next", {}).get("url")
            url = urljoin(response.url or self.base_url, next_url) if next_url else None
        return tags

    def head_digest(self, repository: str, reference: str) -> str | None:
        """The digest `reference` (tag or digest) points at, or None when it does not exist."""
        path = self._manifest_path(repository, reference)
        response = self._request("HEAD", path, scope=self._scope(repository), headers={"Accept": ACCEPT})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._fail(response, f"looking up {repository}:{reference}")
        digest = response.headers.get("Docker-Content-Digest")
        return digest or self.get_manifest(repository, reference).digest

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest as stored (bytes, media type, digest); ManifestNotFound when it does not exist."""
        path = self._manifest_path(repository, reference)
        response = self._request("GET", path, scope=self._scope(repository), headers={"Accept": ACCEPT})
        if response.status_code == 404:
            raise ManifestNotFound(
                f"{self.registry}/{repository}:{reference} does not exist", "check the tag (list the tags to see them)"
            )
        if response.status_code != 200:
            self._fail(response, f"reading the manifest of {repository}:{reference}")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        manifest = Manifest.from_bytes(response.content, media_type)
        try:
            manifest.json()
        except ValueError:
            raise RegistryProtocolError(
                self._clean(
                    f"registry {self.registry} answered {_describe(response)} instead of the manifest "
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
        `replay`, an answer that was lost raises AnswerLost (see _request)."""
        response = self._request(
            "PUT",
            self._manifest_path(repository, reference),
            scope=self._scope(repository),
            headers={"Content-Type": manifest.media_type},
            data=manifest.raw,
            replay=replay,
        )
        if response.status_code not in (200, 201):
            self._fail(response, f"pushing the manifest {repository}:{reference}")
        return response.headers.get("Docker-Content-Digest") or manifest.digest

    def delete_manifest(self, repository: str, digest: str, *, replay: bool = True) -> bool:
        """Delete a manifest by digest: True when deleted, False when it was already gone (404).
        This removes EVERY tag pointing at the digest: callers prove first that no surviving tag does.
        Without `replay`, an answer that was lost raises AnswerLost (see _request)."""
        if not digest.startswith("sha256:"):
            raise RegistryProtocolError(f"refusing to delete {digest!r} by digest", "only sha256 digests are deleted")
        path = self._manifest_path(repository, digest)
        response = self._request("DELETE", path, scope=self._scope(repository), replay=replay)
        if response.status_code in (200, 202):
            return True
        if response.status_code == 404:
            return False
        self._raise_if_deletes_refused(response)
        self._fail(response, f"deleting {repository}@{digest}")

    def blob_exists(self, repository: str, digest: str) -> bool:
        response = self._request("HEAD", f"/v2/{repository}/blobs/{digest}", scope=self._scope(repository))
        if response.status_code not in (200, 404):
            self._fail(response, f"looking up blob {digest} in {repository}")
        return response.status_code == 200

    def get_blob(self, repository: str, digest: str) -> bytes:
        response = self._request("GET", f"/v2/{repository}/blobs/{digest}", scope=self._scope(repository))
        if response.status_code != 200:
            self._fail(response, f"reading blob {digest} of {repository}")
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
            start = self._request("POST", f"/v2/{repository}/blobs/uploads/", scope=self._scope(repository))
            if start.status_code != 202 or "Location" not in start.headers:
                self._fail(start, f"starting a blob upload to {repository}")
            location = urljoin(self.base_url + "/", start.headers["Location"])
            done = self._request(
                "PUT",
                location,
                scope=self._scope(repository),
                params={"digest": digest},
                headers={"Content-Type": "application/octet-stream"},
                data=data,
            )
            if done.status_code in (201, 204):
                return digest
            if done.status_code != 404:  # 404: the upload session is gone (a retried PUT); check and restart
                self._fail(done, f"uploading blob {digest} to {repository}")
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

    def check_deletes_allowed(self, repository: str) -> None:
        """Raise NotARegistry unless the address serves the registry API (ping), then DeletesDisabled or
        PermissionDenied unless the registry lets these credentials delete in `repository` (a DELETE of a
        digest no manifest has: 404 = allowed). Cached per repository."""
        with self._lock:
            if repository in self._deletable:
                return
        self.ping()
        response = self._request("DELETE", self._manifest_path(repository, PROBE_DIGEST), scope=self._scope(repository))
        self._raise_if_deletes_refused(response)
        if response.status_code not in (200, 202, 404):
            self._fail(response, f"checking that {repository} accepts deletes")
        with self._lock:
            self._deletable.add(repository)

    def delete_tag(self, repository: str, tag: str, *, look_up: bool = True) -> TagDeletion:
        """Remove `tag` only, never another tag sharing its digest: (1) OCI tag DELETE, else (2) GitLab's tags
        API when configured, else (3) push a unique throwaway manifest under the tag and delete that by ITS
        digest. With `look_up`, a missing tag is reported as absent (already gone) without any change."""
        step = self.begin_tag_deletion(repository, tag, look_up=look_up)
        return step if isinstance(step, TagDeletion) else self.finish_tag_deletion(step)

    def begin_tag_deletion(self, repository: str, tag: str, *, look_up: bool = True) -> TagDeletion | PendingDeletion:
        """The first half of delete_tag: done (TagDeletion) when the registry deletes tags itself, else the
        throwaway manifest now under the tag (PendingDeletion), for finish_tag_deletion. Deleting many tags
        in two phases (every PUT, then every DELETE) keeps distribution 2.8 from reading tag links while
        they are being rewritten, which fails its requests."""
        previous = self.head_digest(repository, tag) if look_up else None
        if look_up and previous is None:
            return TagDeletion(tag, "absent")
        self.check_deletes_allowed(repository)
        if self._tag_delete_supported is not False:
            outcome = self._oci_tag_delete(repository, tag)
            if outcome is not None:
                return TagDeletion(tag, outcome, previous)
        if self.gitlab is not None:
            return TagDeletion(tag, self._gitlab_delete_tag(repository, tag), previous)
        self._ensure_throwaway_config(repository)
        pending = PendingDeletion(repository, tag, throwaway_manifest(tag), previous)
        if not self._push_throwaway(pending):
            return TagDeletion(tag, "absent", previous)
        return pending

    def finish_tag_deletion(self, pending: PendingDeletion) -> TagDeletion:
        """Delete the throwaway manifest by its own digest, which removes the tag and nothing else.

        Only a 202 proves the registry also untagged: distribution 2.8 deletes the manifest revision, then
        looks up and removes its tags, and when that second step fails the tag stays listed, dangling. So
        after any other answer, or a lost one, read what the registry holds before acting again: the tag is
        gone (done); it still holds our throwaway (delete again); it dangles (push the throwaway again, delete
        again); it holds another manifest (pushed since by someone else: leave it, ours is gone)."""
        done = TagDeletion(pending.tag, "throwaway-manifest", pending.previous_digest)
        digest = pending.manifest.digest
        deadline = self._monotonic() + self.deadline
        rounds = 0
        while True:
            last = "404"
            try:
                if self.delete_manifest(pending.repository, digest, replay=False):
                    return done
            except AnswerLost as lost:
                last = lost.answer
            state = self._tag_state(pending.repository, pending.tag, digest)
            if state in ("gone", "other"):
                return done
            if state == "dangling" and not self._push_throwaway(pending):
                return done
            rounds += 1
            if not self._pause(rounds, deadline):
                raise RegistryUnavailable(
                    f"registry {self.registry} did not confirm deleting tag {pending.repository}:{pending.tag} "
                    f"within {self.deadline:g} s ({rounds} rounds; last answer: {last})",
                    "run the cleanup again (it finishes placeholders), or check the registry's logs",
                )

    # ---- tag deletion steps ----------------------------------------------------------------------------

    def _oci_tag_delete(self, repository: str, tag: str) -> DeletionMethod | None:
        deadline = self._monotonic() + self.deadline
        rounds = 0
        while True:
            try:
                response = self._request(
                    "DELETE", self._manifest_path(repository, tag), scope=self._scope(repository), replay=False
                )
            except AnswerLost as lost:
                if self._tag_state(repository, tag, None) == "gone":
                    self._tag_delete_supported = True  # the registry deleted the tag; its answer was lost
                    return "oci-tag-delete"
                rounds += 1
                if not self._pause(rounds, deadline):
                    raise self._still_lost(lost, rounds) from None
                continue
            if response.status_code in (200, 202):
                self._tag_delete_supported = True
                return "oci-tag-delete"
            if response.status_code == 404 and self._tag_delete_supported:
                return "absent"
            if response.status_code in (400, 404, 405) or _error_code(response) == "UNSUPPORTED":
                # distribution 2.8 answers 400 DIGEST_INVALID: it reads the tag as a malformed digest.
                self._tag_delete_supported = False
                return None
            self._fail(response, f"deleting tag {repository}:{tag}")

    def _push_throwaway(self, pending: PendingDeletion) -> bool:
        """Put the throwaway manifest under the tag; False when the tag turned out to be gone (after a lost
        answer), in which case nothing is pushed: a tag that is gone is never brought back."""
        deadline = self._monotonic() + self.deadline
        rounds = refusals = 0
        while True:
            try:
                digest = self.put_manifest(pending.repository, pending.tag, pending.manifest, replay=False)
            except AnswerLost as lost:
                state = self._tag_state(pending.repository, pending.tag, pending.manifest.digest)
                if state == "ours":
                    return True  # the PUT went through
                if state == "gone":
                    return False  # deleted meanwhile (by another cleanup)
                rounds += 1
                if not self._pause(rounds, deadline):
                    raise self._still_lost(lost, rounds) from None
                continue
            except RegistryProtocolError:
                # The manifest is valid and its config blob is there: distribution 2.8 answers 400
                # DIGEST_INVALID when it reads a link file that another request is rewriting. Try again.
                refusals += 1
                if refusals >= THROWAWAY_ROUNDS:
                    raise
                continue
            if digest != pending.manifest.digest:
                raise RegistryProtocolError(
                    f"registry {self.registry} stored the throwaway manifest for {pending.repository}:{pending.tag} "
                    f"as {digest}",
                    f"the tag points at an empty manifest; delete {digest} by hand once no other tag uses it",
                )
            return True

    def _tag_state(self, repository: str, tag: str, ours: str | None) -> TagState:
        """What the registry holds under `tag` now: nothing (gone), our throwaway `ours`, another manifest, or
        a dangling tag (listed, but its manifest is gone: distribution 2.8's half-done untag)."""
        digest = self.head_digest(repository, tag)
        if digest is not None:
            return "ours" if digest == ours else "other"
        return "dangling" if tag in self.list_tags(repository) else "gone"

    def _still_lost(self, lost: AnswerLost, rounds: int) -> RegistryUnavailable:
        problem = f"{lost.problem}, in each of {rounds} rounds within {self.deadline:g} s"
        return RegistryUnavailable(problem, lost.hint)

    def _pause(self, rounds: int, deadline: float) -> bool:
        """Back off before round `rounds` + 1; False (without waiting) when the wait would pass `deadline`."""
        delay = self.retry.delay(rounds - 1, None)
        if self._monotonic() + delay >= deadline:
            return False
        self._sleep(delay)
        return True

    def _ensure_throwaway_config(self, repository: str) -> None:
        """Upload the shared throwaway config blob once per repository (one thread at a time: rewriting its
        link file while other requests read it makes distribution 2.8 fail those requests)."""
        with self._upload_lock:
            if repository in self._throwaway_config:
                return
            self.upload_blob(repository, THROWAWAY_CONFIG)
            self._throwaway_config.add(repository)

    def _gitlab_delete_tag(self, repository: str, tag: str) -> DeletionMethod:
        assert self.gitlab is not None
        repository_id = self._gitlab_repository_id(repository)
        url = f"{self._gitlab_project_url()}/registry/repositories/{repository_id}/tags/{quote(tag, safe='')}"
        response = self._request("DELETE", url, auth=False, headers=self._gitlab_headers())
        if response.status_code in (200, 202, 204):
            return "gitlab-api"
        if response.status_code == 404:
            return "absent"
        raise self._gitlab_error(response, f"deleting tag {tag} of {repository}")

    def _gitlab_repository_id(self, repository: str) -> int:
        with self._lock:
            if repository in self._gitlab_ids:
                return self._gitlab_ids[repository]
        page = 1
        while True:
            response = self._request(
                "GET",
                f"{self._gitlab_project_url()}/registry/repositories",
                auth=False,
                headers=self._gitlab_headers(),
                params={"per_page": "100", "page": str(page)},
            )
            if response.status_code != 200:
                raise self._gitlab_error(response, "listing the project's registry repositories")
            items = response.json()
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and item.get("path") == repository:
                    with self._lock:
                        self._gitlab_ids[repository] = int(item["id"])
                    return int(item["id"])
            if not response.headers.get("X-Next-Page"):
                raise GitLabApiError(
                    f"GitLab project {self.gitlab.project_id if self.gitlab else ''} has no registry repository "
                    f"{repository}",
                    "check the project id setting and the image path",
                )
            page += 1

    def _gitlab_project_url(self) -> str:
        assert self.gitlab is not None
        return f"{self.gitlab.api_url.rstrip('/')}/projects/{quote(self.gitlab.project_id, safe='')}"

    def _gitlab_headers(self) -> dict[str, str]:
        assert self.gitlab is not None
        return {self.gitlab.token_header: self.gitlab.token}

    def _gitlab_error(self, response: requests.Response, action: str) -> GitLabApiError:
        hint = (
            "the GitLab token needs the api scope and Maintainer role (job tokens may not use this endpoint)"
            if response.status_code in (401, 403)
            else "check the GitLab API URL and project id settings"
        )
        return GitLabApiError(self._clean(f"GitLab API answered {response.status_code} when {action}"), hint)

    # ---- the one place that does HTTP ------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        scope: str = "",
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        auth: bool = True,
        replay: bool = True,
        deadline: float | None = None,
    ) -> requests.Response:
        """Send one logical request within `deadline` (monotonic; by default `self.deadline` seconds from
        now): authenticate (challenge, cached token, renewal) and try again after what the registry did not
        act on (429, no connection; a refused one only twice) and, with `replay`, after what it may have acted
        on (5xx, a cut connection, a read timeout). Without `replay` those raise AnswerLost, so that the caller
        reads the registry's state before acting again. Returns the final response (any other status)."""
        full_url = url if "://" in url else self.base_url + url
        what = f"{method} {urlsplit(full_url).path}"
        started = self._monotonic()
        deadline = started + self.deadline if deadline is None else deadline
        attempts = refusals = reauthentications = 0
        failure: Failure | None = None
        answer = ""
        while (remaining := deadline - self._monotonic()) > 0:
            send = dict(headers or {})
            token = self._authorize(send, scope, deadline) if auth else None
            attempts += 1
            retry_after: float | None = None
            try:
                timeout = (min(self.connect_timeout, remaining), min(self.read_timeout, remaining))
                response = self.session.request(
                    method, full_url, headers=send, data=data, params=params, timeout=timeout, stream=True
                )
                if not self._read_body(response, deadline):
                    raise RegistryUnreachable(
                        self._clean(
                            f"registry {_host(full_url)} was still sending its answer to {what} when the deadline "
                            f"passed ({self._monotonic() - started:.1f} s)"
                        ),
                        "check the registry and any proxy in front of it, or raise CONVEYOR_REGISTRY_TIMEOUT",
                    )
            except requests.RequestException as error:
                failure, answer = _failure(error)
                if failure == "unsendable":  # a malformed URL, too many redirects: not worth trying again
                    raise RegistryUnreachable(
                        self._clean(f"cannot send {what} to {_host(full_url)} ({answer})"),
                        "check the registry address (CI_REGISTRY)",
                    ) from None
                if failure in ("refused", "unresolved"):
                    refusals += 1
                    if refusals > REFUSED_RETRIES:
                        break
                if failure == "lost" and not replay:
                    raise self._answer_lost(full_url, what, answer) from None
            else:
                if auth and response.status_code == 401 and reauthentications < 2:
                    reauthentications += 1
                    self._learn_challenge(response, scope, token)
                    continue
                if auth and response.status_code in (401, 403):
                    self._raise_auth_failure(response, scope)
                if response.status_code not in RETRY_STATUSES:
                    return response
                failure, answer = "busy", _describe(response)
                if response.status_code != 429 and not replay:
                    raise self._answer_lost(full_url, what, answer)
                retry_after = _retry_after(response)
            delay = self.retry.delay(attempts - 1, retry_after)
            if self._monotonic() + delay >= deadline:
                break
            log.debug("%s failed (%s); try %d in %.2fs", what, answer, attempts + 1, delay)
            self._sleep(delay)
        raise self._gave_up(full_url, what, failure, answer, attempts, self._monotonic() - started)

    def _read_body(self, response: requests.Response, deadline: float) -> bool:
        """Read the body as it arrives; False (connection closed) when `deadline` passes first. A read
        timeout bounds the wait for each byte only, so a server dripping bytes is stopped here."""
        chunks: list[bytes] = []
        try:
            while chunk := response.raw.read1(BODY_CHUNK, decode_content=True):
                chunks.append(chunk)
                if self._monotonic() > deadline:
                    response.close()
                    return False
        except urllib3.exceptions.ReadTimeoutError as error:
            response.close()
            raise requests.ReadTimeout(error) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            response.close()
            raise requests.ConnectionError(error) from error
        response._content = b"".join(chunks)  # what Response.content would read, already read
        return True

    def _answer_lost(self, url: str, what: str, answer: str) -> AnswerLost:
        return AnswerLost(
            self._clean(f"registry {_host(url)} lost its answer to {what} ({answer})"),
            "run the cleanup again (it reads the state and goes on), or check the registry's health and logs",
            answer,
        )

    def _gave_up(
        self, url: str, what: str, failure: Failure | None, answer: str, attempts: int, seconds: float
    ) -> RegistryUnreachable | RegistryUnavailable:
        """The one-line error for a request that never got a usable answer: the registry, what was tried,
        how often and for how long, and what to do."""
        host = _host(url)
        tried = f"{attempts} attempt{'s' if attempts != 1 else ''} in {seconds:.1f} s"
        if failure == "busy":
            return RegistryUnavailable(
                self._clean(f"registry {host} kept answering {what} with {answer} ({tried})"),
                "retry later, or check the registry's health and logs (CONVEYOR_REGISTRY_TIMEOUT sets how long to try)",
            )
        if failure in ("refused", "unresolved", "unconnected"):
            return RegistryUnreachable(
                self._clean(f"cannot reach {host}: {answer} ({what}, {tried})"),
                "check the registry address (CI_REGISTRY) and that it is running",
            )
        return RegistryUnreachable(
            self._clean(f"registry {host} did not answer {what} ({answer or 'no time left'}; {tried})"),
            "check that the registry is up and reachable, or raise CONVEYOR_REGISTRY_TIMEOUT",
        )

    def _authorize(self, headers: dict[str, str], scope: str, deadline: float) -> Token | None:
        """Add the Authorization header this scope needs, as far as the registry's challenge is known."""
        with self._lock:
            challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if self.credentials is not None:
                headers["Authorization"] = _basic(self.credentials)
            return None
        token = self._token(challenge, scope, deadline)
        headers["Authorization"] = f"Bearer {token.value}"
        return token

    def _token(self, challenge: Challenge, scope: str, deadline: float) -> Token:
        key = (challenge.realm, challenge.service, scope)
        cached = self._tokens.get(key, self._clock())
        if cached is not None:
            return cached
        params = {"service": challenge.service} if challenge.service else {}
        if scope:
            params["scope"] = scope
        headers = {"Authorization": _basic(self.credentials)} if self.credentials is not None else {}
        response = self._request("GET", challenge.realm, headers=headers, params=params, auth=False, deadline=deadline)
        if response.status_code in (401, 403):
            user = f" of {self.credentials.user} ({self.credentials.source})" if self.credentials else ""
            raise AuthenticationFailed(
                self._clean(f"token service {challenge.realm} refused the credentials{user} ({response.status_code})"),
                "check CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, the job token or the access token",
            )
        if response.status_code != 200:
            self._fail(response, f"fetching a token from {challenge.realm}")
        try:
            token = token_from_response(_json(response, f"the token request to {challenge.realm}"), self._clock())
        except ValueError as error:
            raise RegistryProtocolError(str(error), f"check the token service {challenge.realm}") from None
        self.redactor.add(token.value)
        self._tokens.put(key, token)
        return token

    def _learn_challenge(self, response: requests.Response, scope: str, refused: Token | None) -> None:
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if (
            challenge is None
            or challenge.scheme not in ("basic", "bearer")
            or (challenge.scheme == "bearer" and not challenge.realm)
        ):
            raise AuthenticationFailed(
                f"registry {self.registry} asks for authentication it does not describe (no usable WWW-Authenticate)",
                "check the registry's auth configuration",
            )
        if challenge.scheme == "basic" and self.credentials is None:
            raise self._no_credentials()
        if refused is not None:
            self._tokens.discard((challenge.realm, challenge.service, scope), refused)
        with self._lock:
            self._challenge = Challenge(challenge.scheme, {"realm": challenge.realm, "service": challenge.service})

    def _raise_auth_failure(self, response: requests.Response, scope: str) -> None:
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        wanted = scope or "access"
        if response.status_code == 403 or (challenge is not None and challenge.error == "insufficient_scope"):
            who = self.credentials.user if self.credentials else "anonymous users"
            raise PermissionDenied(
                f"registry {self.registry} did not grant {wanted} to {who}",
                "use credentials with those rights (delete needs Maintainer; or a personal access token)",
            )
        if self.credentials is None:
            raise self._no_credentials()
        raise AuthenticationFailed(
            self._clean(
                f"registry {self.registry} refused the credentials of {self.credentials.user} "
                f"({self.credentials.source})"
            ),
            "check CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, the job token or the access token",
        )

    def _no_credentials(self) -> AuthenticationFailed:
        return AuthenticationFailed(
            f"registry {self.registry} requires credentials and none were given",
            "set CI_REGISTRY_USER and CI_REGISTRY_PASSWORD (or a job/access token), or docker login",
        )

    # ---- helpers ----------------------------------------------------------------------------------------

    def _scope(self, repository: str) -> str:
        return repository_scope(repository, self.actions)

    @staticmethod
    def _manifest_path(repository: str, reference: str) -> str:
        return f"/v2/{repository}/manifests/{reference}"

    def _raise_if_deletes_refused(self, response: requests.Response) -> None:
        code = _error_code(response)
        if response.status_code == 405 or code == "UNSUPPORTED":
            raise DeletesDisabled(
                f"registry {self.registry} refused deletes ({response.status_code} {code or 'Method Not Allowed'})",
                "enable storage.delete.enabled in the registry config",
            )

    def _fail(self, response: requests.Response, action: str) -> NoReturn:
        detail = _describe(response)
        if response.status_code == 404:
            problem = self._clean(f"registry {self.registry}: {action} failed ({detail})")
            raise ManifestNotFound(problem, "check the repository and tag names")
        raise RegistryProtocolError(
            self._clean(f"registry {self.registry} answered {detail} when {action}"),
            "check the registry's logs",
        )

    def _clean(self, text: str) -> str:
        return self.redactor.clean(" ".join(text.split()))


def _new_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _basic(credentials: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{credentials.user}:{credentials.password}".encode()).decode()


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RegistryProtocolError(
            f"{what} got {_describe(response)}, not a JSON object", "check the address and any proxy in front of it"
        )
    return data


def _describe(response: requests.Response) -> str:
    """A status for messages: `404 MANIFEST_UNKNOWN` for a registry error, `502 and a text/html body` for a
    body that is not one, else the bare status."""
    code = _error_code(response)
    if code:
        return f"{response.status_code} {code}"
    kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "untyped"
    return f"{response.status_code} and a {kind} body" if response.content else str(response.status_code)


def _failure(error: requests.RequestException) -> tuple[Failure, str]:
    """Why an attempt failed, from requests' exception and its causes, and how to say it."""
    causes = _causes(error)
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "refused", "connection refused"
    if any(isinstance(cause, urllib3.exceptions.NameResolutionError) for cause in causes):
        return "unresolved", "the name does not resolve"
    if isinstance(error, requests.ConnectTimeout) or any(
        isinstance(cause, urllib3.exceptions.NewConnectionError) for cause in causes
    ):
        return "unconnected", "no connection"
    if isinstance(error, requests.ReadTimeout):
        return "lost", "read timeout"
    if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return "lost", "connection cut"
    return "unsendable", type(error).__name__


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and what it wraps: requests' and urllib3's exceptions keep the socket's error in args,
    `reason` and the exception chain."""
    found: list[BaseException] = []
    pending: list[object] = [error]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or any(item is seen for seen in found):
            continue
        found.append(item)
        pending.extend((*item.args, getattr(item, "reason", None), item.__cause__, item.__context__))
    return found


def _error_code(response: requests.Response) -> str:
    """The first `errors[].code` of a registry error body ("" when there is none)."""
    if not response.content or "json" not in response.headers.get("Content-Type", "json"):
        return ""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return ""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code", ""))
    return ""


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
