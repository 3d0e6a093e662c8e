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
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NoReturn
from urllib.parse import quote, urljoin

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
# Why an attempt got no answer: nothing listens, the host is unknown, no connection within the connect
# timeout, the request may have reached the registry (cut connection, read timeout), or it cannot be sent.
Failure = Literal["refused", "unresolved", "unconnected", "lost", "unsendable"]


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
        """Check that the registry answers the v2 API (authenticating if it asks)."""
        response = self._request("GET", "/v2/", scope="")
        if response.status_code != 200:
            self._fail(response, "GET /v2/")

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
            page = _json(response, self.registry).get("tags") or []
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
        announced = response.headers.get("Docker-Content-Digest", "")
        if announced.startswith("sha256:") and announced != manifest.digest:
            raise RegistryProtocolError(
                f"registry {self.registry} sent a manifest for {repository}:{reference} that does not match its digest",
                "check the registry and any proxy in front of it",
            )
        return manifest

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Store `manifest` under `reference` (a tag, or its own digest); returns its digest."""
        response = self._request(
            "PUT",
            self._manifest_path(repository, reference),
            scope=self._scope(repository),
            headers={"Content-Type": manifest.media_type},
            data=manifest.raw,
        )
        if response.status_code not in (200, 201):
            self._fail(response, f"pushing the manifest {repository}:{reference}")
        return response.headers.get("Docker-Content-Digest") or manifest.digest

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest: True when deleted, False when it was already gone (404).
        This removes EVERY tag pointing at the digest: callers prove first that no surviving tag does."""
        if not digest.startswith("sha256:"):
            raise RegistryProtocolError(f"refusing to delete {digest!r} by digest", "only sha256 digests are deleted")
        response = self._request("DELETE", self._manifest_path(repository, digest), scope=self._scope(repository))
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
        """Raise DeletesDisabled/PermissionDenied unless the registry lets these credentials delete in
        `repository` (a DELETE of a digest no manifest has: 404 = allowed). Cached per repository."""
        with self._lock:
            if repository in self._deletable:
                return
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
        self._push_throwaway(pending)
        return pending

    def finish_tag_deletion(self, pending: PendingDeletion) -> TagDeletion:
        """Delete the throwaway manifest by its own digest, which removes the tag and nothing else."""
        for _ in range(THROWAWAY_ROUNDS):
            # Only a 202 proves the registry also untagged: distribution 2.8 deletes the manifest revision,
            # then looks up and removes its tags; when that second step fails (500, e.g. while other tags are
            # being written) a retry answers 404 and the tag would stay in tags/list, dangling. So after
            # anything but a 202, push the throwaway again and delete it again.
            if self.delete_manifest(pending.repository, pending.manifest.digest):
                return TagDeletion(pending.tag, "throwaway-manifest", pending.previous_digest)
            self._push_throwaway(pending)
        raise RegistryProtocolError(
            f"registry {self.registry} did not confirm deleting tag {pending.repository}:{pending.tag} "
            f"in {THROWAWAY_ROUNDS} rounds",
            "run the cleanup again (it is idempotent), or check the registry's logs",
        )

    # ---- tag deletion steps ----------------------------------------------------------------------------

    def _oci_tag_delete(self, repository: str, tag: str) -> DeletionMethod | None:
        response = self._request("DELETE", self._manifest_path(repository, tag), scope=self._scope(repository))
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

    def _push_throwaway(self, pending: PendingDeletion) -> None:
        refused: RegistryProtocolError | None = None
        for _ in range(THROWAWAY_ROUNDS):
            try:
                digest = self.put_manifest(pending.repository, pending.tag, pending.manifest)
            except RegistryProtocolError as error:
                # The manifest is valid and its config blob is there: distribution 2.8 answers 400
                # DIGEST_INVALID when it reads a link file that another request is rewriting. Try again.
                refused = error
                continue
            if digest != pending.manifest.digest:
                raise RegistryProtocolError(
                    f"registry {self.registry} stored the throwaway manifest for {pending.repository}:{pending.tag} "
                    f"as {digest}",
                    f"the tag points at an empty manifest; delete {digest} by hand once no other tag uses it",
                )
            return
        assert refused is not None
        raise refused

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
    ) -> requests.Response:
        """Send one logical request: authenticate (challenge, cached token, renewal), retry transient
        failures with backoff. Returns the final response (any status); raises on exhausted retries."""
        full_url = url if "://" in url else self.base_url + url
        reauthentications = 0
        attempt = 0
        failure = ""
        while attempt < self.retry.attempts:
            send = dict(headers or {})
            token = self._authorize(send, scope) if auth else None
            try:
                response = self.session.request(
                    method, full_url, headers=send, data=data, params=params, timeout=self.timeout
                )
            except TRANSIENT_ERRORS as error:
                failure = type(error).__name__
                self._backoff(method, full_url, attempt, None, failure)
                attempt += 1
                continue
            except requests.RequestException as error:  # not worth retrying: a malformed URL, too many redirects
                raise RegistryUnreachable(
                    self._clean(f"cannot send {method} to {_host(full_url)} ({type(error).__name__})"),
                    "check the registry address (CI_REGISTRY)",
                ) from None
            if auth and response.status_code == 401 and reauthentications < 2:
                reauthentications += 1
                self._learn_challenge(response, scope, token)
                continue
            if auth and response.status_code in (401, 403):
                self._raise_auth_failure(response, scope)
            if response.status_code in RETRY_STATUSES:
                failure = f"{response.status_code} {_error_code(response)}".strip()
                self._backoff(method, full_url, attempt, _retry_after(response), failure)
                attempt += 1
                continue
            return response
        host = _host(full_url)
        if failure and failure[0].isdigit():
            raise RegistryUnavailable(
                f"{host} kept failing ({failure}) after {self.retry.attempts} attempts",
                "retry later, or check the registry's health and logs",
            )
        raise RegistryUnreachable(
            f"cannot reach {host} ({failure} after {self.retry.attempts} attempts)",
            "check the registry address (CI_REGISTRY) and that it is running",
        )

    def _backoff(self, method: str, url: str, attempt: int, retry_after: float | None, failure: str) -> None:
        if attempt + 1 >= self.retry.attempts:
            return
        delay = self.retry.delay(attempt, retry_after)
        log.debug("%s %s failed (%s); retry %d in %.2fs", method, url.split("?")[0], failure, attempt + 1, delay)
        self._sleep(delay)

    def _authorize(self, headers: dict[str, str], scope: str) -> Token | None:
        """Add the Authorization header this scope needs, as far as the registry's challenge is known."""
        with self._lock:
            challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if self.credentials is not None:
                headers["Authorization"] = _basic(self.credentials)
            return None
        token = self._token(challenge, scope)
        headers["Authorization"] = f"Bearer {token.value}"
        return token

    def _token(self, challenge: Challenge, scope: str) -> Token:
        key = (challenge.realm, challenge.service, scope)
        cached = self._tokens.get(key, self._clock())
        if cached is not None:
            return cached
        params = {"service": challenge.service} if challenge.service else {}
        if scope:
            params["scope"] = scope
        headers = {"Authorization": _basic(self.credentials)} if self.credentials is not None else {}
        response = self._request("GET", challenge.realm, headers=headers, params=params, auth=False)
        if response.status_code in (401, 403):
            user = f" of {self.credentials.user} ({self.credentials.source})" if self.credentials else ""
            raise AuthenticationFailed(
                self._clean(f"token service {challenge.realm} refused the credentials{user} ({response.status_code})"),
                "check CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, the job token or the access token",
            )
        if response.status_code != 200:
            self._fail(response, f"fetching a token from {challenge.realm}")
        try:
            token = token_from_response(_json(response, challenge.realm), self._clock())
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
        code = _error_code(response)
        detail = f"{response.status_code} {code}".strip()
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


def _json(response: requests.Response, origin: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RegistryProtocolError(f"{origin} answered with something that is not a JSON object", "check its logs")
    return data


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
