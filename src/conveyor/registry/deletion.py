"""Deleting a tag and nothing else, never another tag sharing its digest, and only with the deletion guard's
permit (conveyor.permits.DeletionPermit): (1) the OCI tag DELETE, else (2) GitLab's tags API when
configured, else (3) a unique throwaway manifest pushed under the tag and deleted by ITS digest, in two
halves (begin: the PUT; finish: the DELETE) so that many tags can be deleted in phases (`delete_tags`, on a
small pool of threads; a stop request starts nothing new but finishes every tag begun).

Whenever the answer to a PUT or DELETE was lost (5xx, a cut connection, a read timeout: the registry may have
acted), this reads what the registry holds under the tag before acting again, instead of blindly doing it
again: a tag that is gone is never brought back, and one pushed anew by someone else is left alone."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Protocol

from conveyor.errors import ConveyorError
from conveyor.interrupt import Stop
from conveyor.permits import DeletionPermit
from conveyor.registry.answers import error_code
from conveyor.registry.errors import (
    AnswerLost,
    NotARegistry,
    RegistryProtocolError,
    RegistryUnavailable,
    RegistryUnreachable,
)
from conveyor.registry.gitlab import GitLabTags
from conveyor.registry.manifests import THROWAWAY_CONFIG, Manifest, throwaway_manifest
from conveyor.registry.transport import Transport, manifest_path

# A digest no manifest has: DELETE on it tells whether the registry accepts deletes at all (404) or not (405).
PROBE_DIGEST = "sha256:" + "0" * 64
THROWAWAY_ROUNDS = 5  # 400 answers to a throwaway PUT (distribution 2.8 racing on its link files)

DeletionMethod = Literal["oci-tag-delete", "gitlab-api", "throwaway-manifest", "absent", "moved", "protected"]
# What the registry holds under a tag after an answer was lost: see TagDeleter._tag_state.
TagState = Literal["gone", "ours", "other", "dangling"]


@dataclass(frozen=True)
class PendingDeletion:
    """A tag now pointing at a throwaway manifest, which TagDeleter.finish deletes by its digest."""

    repository: str
    tag: str
    manifest: Manifest
    previous_digest: str | None = None


@dataclass(frozen=True)
class TagDeletion:
    """How a tag was removed, or why not (`absent`: gone already; `moved`: re-pushed since it was judged,
    left alone; `protected`: GitLab protects it); `previous_digest` is what it pointed at when read again."""

    tag: str
    method: DeletionMethod
    previous_digest: str | None = None


class Manifests(Protocol):
    """The v2 operations tag deletion is built on (RegistryClient's)."""

    def head_digest(self, repository: str, reference: str) -> str | None: ...

    def list_tags(self, repository: str) -> list[str]: ...

    def put_manifest(self, repository: str, reference: str, manifest: Manifest, *, replay: bool = ...) -> str: ...

    def upload_blob(self, repository: str, data: bytes) -> str: ...


class Rounds:
    """The rounds of one step that reads the registry's state after each failed try: each further round
    backs off like a retry, within one deadline from the step's start."""

    def __init__(self, transport: Transport) -> None:
        self._backoff = transport.backoff
        self._deadline = self._backoff.deadline_from_now()
        self.count = 0

    def another(self) -> bool:
        """Count a failed round; back off and answer True when one more fits before the deadline."""
        self.count += 1
        return self._backoff.pause(self.count, self._deadline)


class TagDeleter:
    """Tag deletion for one registry (each RegistryClient has one: `client.deleter`), learning once how the
    registry deletes tags. Thread-safe."""

    def __init__(self, manifests: Manifests, transport: Transport, gitlab: GitLabTags | None = None) -> None:
        self._manifests = manifests
        self._transport = transport
        self._gitlab = gitlab
        self._tag_delete_supported: bool | None = None
        self._deletable: set[str] = set()
        self._throwaway_config: set[str] = set()
        self._lock = threading.Lock()
        self._upload_lock = threading.Lock()

    def check_deletes_allowed(self, repository: str) -> None:
        """Raise NotARegistry unless the address serves the registry API (ping), then DeletesDisabled or
        PermissionDenied unless the registry lets these credentials delete in `repository` (a DELETE of a
        digest no manifest has: 404 = allowed). Cached per repository."""
        with self._lock:
            if repository in self._deletable:
                return
        self._transport.ping()
        response = self._transport.request("DELETE", manifest_path(repository, PROBE_DIGEST), repository=repository)
        self._transport.raise_if_deletes_refused(response)
        if response.status_code not in (200, 202, 404):
            self._transport.fail(response, f"checking that {repository} accepts deletes")
        with self._lock:
            self._deletable.add(repository)

    def delete(self, permit: DeletionPermit) -> TagDeletion:
        """Remove the permit's tag only (see the module's docstring), unless it moved since it was judged."""
        step = self.begin(permit)
        return step if isinstance(step, TagDeletion) else self.finish(step)

    def begin(self, permit: DeletionPermit) -> TagDeletion | PendingDeletion:
        """`_begin`, finished even once a stop is asked for (conveyor.registry.transport's `finishing`)."""
        with self._transport.finishing():
            return self._begin(permit)

    def finish(self, pending: PendingDeletion) -> TagDeletion:
        """`_finish`, finished even once a stop is asked for: no tag is left on a throwaway manifest."""
        with self._transport.finishing():
            return self._finish(pending)

    def _begin(self, permit: DeletionPermit) -> TagDeletion | PendingDeletion:
        """The first half of a deletion: the tag's digest is read again first, and a tag that is gone is
        `absent`, one that moved since the guard judged it (re-pushed: another digest) is `moved` and left
        alone (no registry offers a conditional delete, so a push landing between this read and the
        deletion is still lost: the window is one request). Then done (TagDeletion) when the registry
        deletes tags itself, else the throwaway manifest now under the tag (PendingDeletion), for `finish`.
        Deleting many tags in two phases (every PUT, then every DELETE) keeps distribution 2.8 from reading
        tag links while they are being rewritten, which fails its requests."""
        repository, tag = permit.repository, permit.tag
        previous = self._manifests.head_digest(repository, tag)
        if previous is None:
            return TagDeletion(tag, "absent")
        if previous != permit.digest:
            return TagDeletion(tag, "moved", previous)
        self.check_deletes_allowed(repository)
        if self._tag_delete_supported is not False:
            outcome = self._oci_tag_delete(repository, tag)
            if outcome is not None:
                return TagDeletion(tag, outcome, previous)
        if self._gitlab is not None:
            answer = self._gitlab.delete_tag(repository, tag)
            return TagDeletion(tag, answer, previous)
        self._ensure_throwaway_config(repository)
        pending = PendingDeletion(repository, tag, throwaway_manifest(tag), previous)
        if not self._push_throwaway(pending):
            return TagDeletion(tag, "absent", previous)
        return pending

    def _finish(self, pending: PendingDeletion) -> TagDeletion:
        """Delete the throwaway manifest by its own digest, which removes the tag and nothing else.

        Only a 202 proves the registry also untagged: distribution 2.8 deletes the manifest revision, then
        looks up and removes its tags, and when that second step fails the tag stays listed, dangling. So
        after any other answer, or a lost one, read what the registry holds before acting again: the tag is
        gone (done); it still holds our throwaway (delete again); it dangles (push the throwaway again, delete
        again); it holds another manifest (pushed since by someone else: leave it, ours is gone)."""
        done = TagDeletion(pending.tag, "throwaway-manifest", pending.previous_digest)
        digest = pending.manifest.digest
        rounds = Rounds(self._transport)
        while True:
            last = "404"
            try:
                if self._delete_manifest(pending.repository, digest):
                    return done
            except AnswerLost as lost:
                last = lost.answer
            state = self._tag_state(pending.repository, pending.tag, digest)
            if state in ("gone", "other"):
                return done
            if state == "dangling" and not self._push_throwaway(pending):
                return done
            if not rounds.another():
                raise RegistryUnavailable(
                    f"registry {self._transport.registry} did not confirm deleting tag "
                    f"{pending.repository}:{pending.tag} within {self._transport.deadline:g} s ({rounds.count} "
                    f"rounds; last answer: {last})",
                    "run the cleanup again (it finishes placeholders), or check the registry's logs",
                )

    # ---- steps -------------------------------------------------------------------------------------------

    def _delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete our throwaway manifest by its own digest: True when deleted, False when already gone (404).
        Deleting a digest removes EVERY tag pointing at it: only a throwaway of this deletion is ever passed.
        An answer that was lost raises AnswerLost (the caller reads the state before acting again)."""
        path = manifest_path(repository, digest)
        response = self._transport.request("DELETE", path, repository=repository, replay=False)
        if response.status_code in (200, 202):
            return True
        if response.status_code == 404:
            return False
        self._transport.raise_if_deletes_refused(response)
        self._transport.fail(response, f"deleting {repository}@{digest}")

    def _oci_tag_delete(self, repository: str, tag: str) -> DeletionMethod | None:
        """DELETE the tag itself; None when the registry does not support that (learnt once)."""
        rounds = Rounds(self._transport)
        while True:
            try:
                response = self._transport.request(
                    "DELETE", manifest_path(repository, tag), repository=repository, replay=False
                )
            except AnswerLost as lost:
                if self._tag_state(repository, tag, None) == "gone":
                    self._tag_delete_supported = True  # the registry deleted the tag; its answer was lost
                    return "oci-tag-delete"
                if not rounds.another():
                    raise self._still_lost(lost, rounds.count) from None
                continue
            if response.status_code in (200, 202):
                self._tag_delete_supported = True
                return "oci-tag-delete"
            if response.status_code == 404 and self._tag_delete_supported:
                return "absent"
            if response.status_code in (400, 404, 405) or error_code(response) == "UNSUPPORTED":
                # distribution 2.8 answers 400 DIGEST_INVALID: it reads the tag as a malformed digest.
                self._tag_delete_supported = False
                return None
            self._transport.fail(response, f"deleting tag {repository}:{tag}")

    def _push_throwaway(self, pending: PendingDeletion) -> bool:
        """Put the throwaway manifest under the tag; False when the tag turned out to be gone (after a lost
        answer), in which case nothing is pushed: a tag that is gone is never brought back."""
        rounds = Rounds(self._transport)
        refusals = 0
        while True:
            try:
                digest = self._manifests.put_manifest(pending.repository, pending.tag, pending.manifest, replay=False)
            except AnswerLost as lost:
                state = self._tag_state(pending.repository, pending.tag, pending.manifest.digest)
                if state == "ours":
                    return True  # the PUT went through
                if state == "gone":
                    return False  # deleted meanwhile (by another cleanup)
                if not rounds.another():
                    raise self._still_lost(lost, rounds.count) from None
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
                    f"registry {self._transport.registry} stored the throwaway manifest for "
                    f"{pending.repository}:{pending.tag} as {digest}",
                    f"the tag points at an empty manifest; delete {digest} by hand once no other tag uses it",
                )
            return True

    def _tag_state(self, repository: str, tag: str, ours: str | None) -> TagState:
        """What the registry holds under `tag` now: nothing (gone), our throwaway `ours`, another manifest, or
        a dangling tag (listed, but its manifest is gone: distribution 2.8's half-done untag)."""
        digest = self._manifests.head_digest(repository, tag)
        if digest is not None:
            return "ours" if digest == ours else "other"
        return "dangling" if tag in self._manifests.list_tags(repository) else "gone"

    def clean(self, text: str) -> str:
        return self._transport.clean(text)

    def _still_lost(self, lost: AnswerLost, rounds: int) -> RegistryUnavailable:
        problem = f"{lost.problem}, in each of {rounds} rounds within {self._transport.deadline:g} s"
        return RegistryUnavailable(problem, lost.hint)

    def _ensure_throwaway_config(self, repository: str) -> None:
        """Upload the shared throwaway config blob once per repository (one thread at a time: rewriting its
        link file while other requests read it makes distribution 2.8 fail those requests)."""
        with self._upload_lock:
            if repository in self._throwaway_config:
                return
            self._manifests.upload_blob(repository, THROWAWAY_CONFIG)
            self._throwaway_config.add(repository)


# ---- many tags ---------------------------------------------------------------------------------------

DEFAULT_WORKERS = 8
Outcome = Literal["deleted", "absent", "kept", "failed", "not-started"]


@dataclass(frozen=True)
class Deleted:
    """What became of one permit's tag: deleted (`detail`: how), absent, kept (re-pushed since the plan, or
    protected), failed (`detail`: why) or not started (a stop came first)."""

    permit: DeletionPermit
    outcome: Outcome
    detail: str = ""
    digest: str | None = None

    @property
    def tag(self) -> str:
        return self.permit.tag


Step = TagDeletion | PendingDeletion | str  # a failure is its one-line message


def delete_tags(
    deleter: TagDeleter,
    permits: Sequence[DeletionPermit],
    *,
    workers: int = DEFAULT_WORKERS,
    stop: Stop | None = None,
    on_result: Callable[[Deleted], None] | None = None,
) -> list[Deleted]:
    """Delete the permits' tags (known to exist, e.g. just listed) with up to `workers` in parallel, in two
    phases where the registry needs throwaway manifests (every PUT, then every DELETE). A failure of one tag
    is reported as 'failed' and does not stop the others; refused deletes stop everything before any change.
    Once `stop` is requested no tag is begun, but every begun one is finished (no tag is left on a
    placeholder). `on_result` sees each tag's outcome as soon as it is settled (progress)."""
    permits = list({permit.tag: permit for permit in permits}.values())  # each tag once
    if not permits:
        return []
    deleter.check_deletes_allowed(permits[0].repository)
    gone: list[str] = []  # the registry itself is out of reach: the other tags are not tried

    def begin(permit: DeletionPermit) -> Step | None:
        if stop is not None and stop.requested:
            return None
        if gone:
            return gone[0]
        try:
            return deleter.begin(permit)
        except ConveyorError as error:
            return _failure(deleter, error, gone)

    def finish(permit: DeletionPermit, step: Step | None) -> Deleted:
        result: TagDeletion | str | None
        if isinstance(step, PendingDeletion):
            try:
                result = deleter.finish(step)
            except ConveyorError as error:
                result = _failure(deleter, error, gone)
        else:
            result = step
        outcome = _outcome(permit, result)
        if on_result is not None:
            on_result(outcome)
        return outcome

    first = begin(permits[0])  # learns how this registry deletes tags, once
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cleanup") as pool:
        begun = [first, *pool.map(begin, permits[1:])]
        return list(pool.map(finish, permits, begun))


def _outcome(permit: DeletionPermit, result: TagDeletion | str | None) -> Deleted:
    if result is None:
        return Deleted(permit, "not-started", "interrupted before it began")
    if isinstance(result, str):
        return Deleted(permit, "failed", result)
    if result.method == "absent":
        return Deleted(permit, "absent", "already gone", result.previous_digest)
    if result.method == "moved":
        why = f"re-pushed since the plan (was {permit.digest}, now {result.previous_digest})"
        return Deleted(permit, "kept", why, result.previous_digest)
    if result.method == "protected":
        return Deleted(permit, "kept", "protected (GitLab's tag protection refused the delete)", permit.digest)
    return Deleted(permit, "deleted", f"by {result.method}", result.previous_digest)


def _failure(deleter: TagDeleter, error: ConveyorError, gone: list[str]) -> str:
    """The one-line message; a registry out of reach (or not a registry) is remembered for the other tags."""
    message = deleter.clean(str(error))
    if isinstance(error, RegistryUnreachable | NotARegistry):
        gone.append(message)
    return message
