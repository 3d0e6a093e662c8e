"""The cleanup engine: what the registry holds, policy plans, promotion, and tag deletion.

Safety rules (design §3 "cleanup"):
- A tag is removed by tag deletion only (RegistryClient.delete_tag), never by deleting the digest it points
  at, because deleting a digest removes every tag sharing it (the commit tag and the branch tag of a CI
  image share one digest, and a cluster may run an image by its digest).
- What may be deleted is decided by the deletion guard (conveyor.guard.decision); this module carries it out.
- Storage comes back only after the registry's garbage collection: every report says so.

Every function returns a CleanupReport (deleted / kept with reason / already gone / failed, and notes);
nothing here prints. Planning (`plan_policy`) is a pure function of the tags and the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from conveyor import tagnames
from conveyor.config.patterns import Pattern, compile_pattern
from conveyor.errors import BadReference, ConveyorError
from conveyor.guard.decision import TagInfo, Verdict
from conveyor.interrupt import Stop
from conveyor.reference import ImageReference
from conveyor.registry.client import RegistryClient
from conveyor.registry.deletion import PendingDeletion, TagDeletion
from conveyor.registry.errors import ManifestNotFound, NotARegistry, ReferenceOutsideRegistry, RegistryUnreachable
from conveyor.registry.manifests import Manifest

GC_NOTE = (
    "storage is freed only when the registry's garbage collection runs "
    "(distribution: `registry garbage-collect --delete-untagged <config>`; GitLab schedules its own)"
)
DEFAULT_WORKERS = 8

Action = Literal["deleted", "would-delete", "kept", "absent", "failed", "not-started"]


@dataclass(frozen=True)
class TagOutcome:
    """What happened to one tag, and why."""

    tag: str
    action: Action
    reason: str = ""
    digest: str | None = None

    def line(self, repository: str) -> str:
        digest = f" ({self.digest})" if self.digest else ""
        reason = f": {self.reason}" if self.reason else ""
        return f"{self.action} {repository}:{self.tag}{digest}{reason}"


@dataclass(frozen=True)
class CleanupReport:
    """The result of one cleanup: one outcome per tag considered, plus notes (always the GC note)."""

    repository: str
    outcomes: tuple[TagOutcome, ...] = ()
    notes: tuple[str, ...] = (GC_NOTE,)
    dry_run: bool = False

    def tags(self, action: Action) -> list[str]:
        return [outcome.tag for outcome in self.outcomes if outcome.action == action]

    @property
    def deleted(self) -> list[str]:
        return self.tags("deleted")

    @property
    def kept(self) -> list[str]:
        return self.tags("kept")

    @property
    def absent(self) -> list[str]:
        return self.tags("absent")

    @property
    def failed(self) -> list[str]:
        return self.tags("failed")

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        """Human-readable lines: one per tag, then the notes."""
        prefix = "dry run: " if self.dry_run else ""
        return [prefix + o.line(self.repository) for o in self.outcomes] + [f"note: {n}" for n in self.notes]


# ---- references --------------------------------------------------------------------------------------


def parse_target(text: str, registry: str) -> ImageReference:
    """Parse a `registry/repository:tag` to clean up; it must be in `registry` and name a tag (not a digest)."""
    reference = ImageReference.parse(text)
    if reference.registry != registry:
        raise ReferenceOutsideRegistry(
            f"{text} is not in the configured registry {registry}",
            "give a reference under CI_REGISTRY_IMAGE, or set CI_REGISTRY to its registry",
        )
    if reference.digest:
        raise BadReference(
            f"{text} names a digest",
            "cleanup deletes tags (deleting a digest deletes every tag on it): give registry/repository:tag",
        )
    if not reference.tag:
        raise BadReference(f"{text} names no tag", "add :<tag> (cleanup never assumes :latest)")
    return reference


# ---- one tag ------------------------------------------------------------------------------------------


def delete_tag(client: RegistryClient, repository: str, tag: str, dry_run: bool = False) -> CleanupReport:
    """Delete one tag, and only it: other tags on the same image stay. A missing tag is 'absent' (success).
    The mechanism only: the cleanup stage asks the deletion guard (conveyor.guard.decision) first."""
    if dry_run:
        digest = client.head_digest(repository, tag)
        outcome = (
            TagOutcome(tag, "would-delete", "tag deletion leaves other tags on this image untouched", digest)
            if digest
            else TagOutcome(tag, "absent", "no such tag (already gone)")
        )
        return CleanupReport(repository, (outcome,), dry_run=True)
    deletion = client.delete_tag(repository, tag)
    if deletion.method == "absent":
        outcome = TagOutcome(tag, "absent", "no such tag (already gone)", deletion.previous_digest)
    else:
        outcome = TagOutcome(tag, "deleted", f"by {deletion.method}", deletion.previous_digest)
    return CleanupReport(repository, (outcome,))


# ---- many tags ---------------------------------------------------------------------------------------


def delete_tags(
    client: RegistryClient,
    repository: str,
    tags: Sequence[str],
    *,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
    reasons: dict[str, str] | None = None,
    stop: Stop | None = None,
) -> CleanupReport:
    """Delete `tags` (known to exist, e.g. just listed) with up to `workers` in parallel, in two phases where
    the registry needs throwaway manifests (every PUT, then every DELETE). A failure of one tag is reported
    as 'failed' and does not stop the others; refused deletes stop everything before any change. Once `stop`
    is requested no tag is begun, but every begun one is finished (no tag is left on a placeholder)."""
    reasons = reasons or {}
    tags = list(dict.fromkeys(tags))  # each tag once: two throwaways racing for one tag would be wasted work
    if dry_run:
        outcomes = tuple(TagOutcome(tag, "would-delete", reasons.get(tag, "")) for tag in tags)
        return CleanupReport(repository, outcomes, dry_run=True)
    if not tags:
        return CleanupReport(repository)
    client.check_deletes_allowed(repository)

    gone: list[str] = []  # the registry itself is out of reach: the other tags are not tried

    def begin(tag: str) -> Step | None:
        if stop is not None and stop.requested:
            return None
        return gone[0] if gone else _begin(client, repository, tag, gone)

    def finish(step: Step | None) -> TagDeletion | str | None:
        return step if step is None or isinstance(step, str) else _finish(client, step, gone)

    first = begin(tags[0])  # learns how this registry deletes tags, once
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cleanup") as pool:
        begun = [first, *pool.map(begin, tags[1:])]
        done = list(pool.map(finish, begun))
    results: list[TagOutcome] = []
    for tag, result in zip(tags, done, strict=True):
        if result is None:
            results.append(TagOutcome(tag, "not-started", "interrupted before it began"))
        elif isinstance(result, str):
            results.append(TagOutcome(tag, "failed", result))
        else:
            why = reasons.get(tag, "")
            action: Action = "absent" if result.method == "absent" else "deleted"
            results.append(TagOutcome(tag, action, f"{why}; by {result.method}" if why else f"by {result.method}"))
    return CleanupReport(repository, tuple(results))


Step = TagDeletion | PendingDeletion | str  # a failure is its one-line message


def _begin(client: RegistryClient, repository: str, tag: str, gone: list[str]) -> Step:
    try:
        return client.begin_tag_deletion(repository, tag, look_up=False)
    except ConveyorError as error:
        return _failure(client, error, gone)


def _finish(client: RegistryClient, step: Step, gone: list[str]) -> TagDeletion | str:
    if not isinstance(step, PendingDeletion):
        return step
    try:
        return client.finish_tag_deletion(step)
    except ConveyorError as error:
        return _failure(client, error, gone)


def _failure(client: RegistryClient, error: ConveyorError, gone: list[str]) -> str:
    """The one-line message; a registry out of reach (or not a registry) is remembered for the other tags."""
    message = client.redactor.clean(str(error))
    if isinstance(error, RegistryUnreachable | NotARegistry):
        gone.append(message)
    return message


def apply_verdicts(
    client: RegistryClient,
    repository: str,
    verdicts: Sequence[Verdict],
    *,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
    notes: Sequence[str] = (),
    stop: Stop | None = None,
) -> CleanupReport:
    """Delete the tags the guard let go (by tag deletion only); report every verdict with its reason."""
    doomed = [v.tag for v in verdicts if v.action == "delete"]
    reasons = {v.tag: v.reason for v in verdicts if v.action == "delete"}
    report = delete_tags(client, repository, doomed, dry_run=dry_run, workers=workers, reasons=reasons, stop=stop)
    settled = tuple(
        TagOutcome(v.tag, "kept" if v.action == "keep" else "absent", v.reason, v.digest)
        for v in verdicts
        if v.action != "delete"
    )
    return CleanupReport(repository, settled + report.outcomes, (*notes, GC_NOTE), dry_run)


# ---- what the registry holds ---------------------------------------------------------------------------


def collect_tags(
    client: RegistryClient,
    repository: str,
    *,
    only: Collection[str] | None = None,
    created_for: Callable[[str], bool] = tagnames.is_release,
    workers: int = DEFAULT_WORKERS,
) -> dict[str, TagInfo]:
    """The tags of `repository` (with `only`: those, plus every release and promotion tag, which the guard
    weighs), each with its digest, whether it is a placeholder, and for tags `created_for` selects, its
    image's creation time (None when it cannot be read: the guard then keeps it). Looked up in parallel."""
    listed = client.list_tags(repository)
    names = [t for t in listed if only is None or t in only or tagnames.is_release(t) or tagnames.is_promotion(t)]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="lookup") as pool:
        manifests = list(pool.map(lambda tag: _manifest_or_none(client, repository, tag), names))
        found = {tag: m for tag, m in zip(names, manifests, strict=True) if m is not None}
        dated = {m.digest: m for tag, m in found.items() if created_for(tag) and not m.is_placeholder}
        times = list(pool.map(lambda m: _created_or_none(client, repository, m), dated.values()))
    created = dict(zip(dated, times, strict=True))
    return {tag: TagInfo(tag, m.digest, created.get(m.digest), m.is_placeholder) for tag, m in sorted(found.items())}


def _manifest_or_none(client: RegistryClient, repository: str, tag: str) -> Manifest | None:
    try:
        return client.get_manifest(repository, tag)
    except ManifestNotFound:
        return None  # deleted since it was listed


def _created_or_none(client: RegistryClient, repository: str, manifest: Manifest) -> datetime | None:
    try:
        return client.image_created(repository, manifest)
    except ConveyorError:
        return None  # an age that cannot be read is unknown: the guard keeps the tag


# ---- promotion -----------------------------------------------------------------------------------------


def promote(client: RegistryClient, repository: str, release: str, generic: str, dry_run: bool = False) -> str:
    """Point `generic` at what `release` points at, server-side; answers what happened, in words."""
    new_digest = client.head_digest(repository, release)
    if new_digest is None:
        raise ManifestNotFound(
            f"release {client.registry}/{repository}:{release} does not exist", "run inv build-prod first"
        )
    if client.head_digest(repository, generic) == new_digest:
        return f"{generic} already points at {release} ({new_digest})"
    if not dry_run:
        client.retag(repository, release, generic)
    return f"{'would promote' if dry_run else 'promoted'} {generic} to {release} ({new_digest})"


# ---- policy --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """Cleanup rules, GitLab-style. Tags matching `keep_regex` always stay. Of the tags matching
    `delete_regex` (empty: none), the `keep_newest` newest stay and the rest go if older than `older_than`
    (or at once when no age is set); a tag whose age cannot be read stays. With `live_branches` (slugs of
    the branches on origin), branch tags of branches that no longer exist go, and commit tags sharing their
    digest. Regexes match whole tags. What the plan deletes, the deletion guard still weighs."""

    keep_regex: str = ""
    delete_regex: str = ""
    keep_newest: int | None = None
    older_than: timedelta | None = None
    live_branches: frozenset[str] | None = None

    @property
    def needs_created(self) -> bool:
        return bool(self.delete_regex) and (self.keep_newest is not None or self.older_than is not None)


@dataclass(frozen=True)
class PlannedTag:
    tag: str
    delete: bool
    rule: str
    reason: str
    digest: str | None = None


@dataclass(frozen=True)
class Plan:
    repository: str
    entries: tuple[PlannedTag, ...] = field(default_factory=tuple)

    @property
    def to_delete(self) -> list[str]:
        return [entry.tag for entry in self.entries if entry.delete]

    def lines(self) -> list[str]:
        return [
            f"{'delete' if e.delete else 'keep'} {self.repository}:{e.tag} [{e.rule}] {e.reason}" for e in self.entries
        ]


def plan_policy(repository: str, tags: Sequence[TagInfo], policy: Policy, now: datetime) -> Plan:
    """Decide, for each tag, keep or delete by the rules and why (pure). Placeholders are not images: the
    caller finishes them."""
    tags = [info for info in tags if not info.placeholder]
    keep = _compile(policy.keep_regex, "--keep")
    delete = _compile(policy.delete_regex, "--delete")
    decided: dict[str, PlannedTag] = {}
    for info in tags:
        if keep is not None and keep.fullmatch(info.tag):
            decided[info.tag] = PlannedTag(info.tag, False, "keep-regex", f"matches {policy.keep_regex!r}", info.digest)
    _plan_dead_branches(tags, policy, decided)
    candidates = []
    for info in tags:
        if info.tag in decided:
            continue
        if delete is None or not delete.fullmatch(info.tag):
            why = f"does not match {policy.delete_regex!r}" if delete is not None else "no delete rule applies"
            decided[info.tag] = PlannedTag(info.tag, False, "delete-regex", why, info.digest)
        else:
            candidates.append(info)
    _plan_age(candidates, policy, now, decided)
    return Plan(repository, tuple(decided[info.tag] for info in sorted(tags, key=lambda i: i.tag)))


def _compile(pattern: str, flag: str) -> Pattern | None:
    return compile_pattern(pattern, flag) if pattern else None


def _plan_dead_branches(tags: Sequence[TagInfo], policy: Policy, decided: dict[str, PlannedTag]) -> None:
    live = policy.live_branches
    if live is None:
        return
    dead_digests: dict[str, str] = {}
    for info in tags:
        if info.tag in decided or not tagnames.is_branch_tag(info.tag) or info.tag in live:
            continue
        decided[info.tag] = PlannedTag(info.tag, True, "branch-gone", "no branch on origin has this slug", info.digest)
        if info.digest:
            dead_digests[info.digest] = info.tag
    live_digests = {i.digest for i in tags if i.tag in live and i.digest}
    for info in tags:
        if info.tag in decided or not tagnames.is_commit(info.tag) or info.tag in live:
            continue
        if info.digest not in dead_digests or info.digest in live_digests:
            continue
        reason = f"commit image of removed branch {dead_digests[info.digest]}"
        decided[info.tag] = PlannedTag(info.tag, True, "branch-gone", reason, info.digest)


def _plan_age(candidates: list[TagInfo], policy: Policy, now: datetime, decided: dict[str, PlannedTag]) -> None:
    """Rank by creation time (newest first); a tag whose age is unknown is kept and never displaces one."""
    aged = policy.keep_newest is not None or policy.older_than is not None
    known = sorted((i for i in candidates if i.created is not None), key=lambda i: (i.created, i.tag), reverse=True)
    for info in candidates:
        if aged and info.created is None:
            decided[info.tag] = PlannedTag(info.tag, False, "age", "creation time unknown", info.digest)
    for rank, info in enumerate(known if aged else candidates):
        decided[info.tag] = _by_age(info, rank, policy, now)


def _by_age(info: TagInfo, rank: int, policy: Policy, now: datetime) -> PlannedTag:
    if policy.keep_newest is not None and rank < policy.keep_newest:
        return PlannedTag(info.tag, False, "keep-newest", f"one of the {policy.keep_newest} newest", info.digest)
    if policy.older_than is None or info.created is None:
        why = f"matches {policy.delete_regex!r}" + (
            f" and is not one of the {policy.keep_newest} newest" if policy.keep_newest is not None else ""
        )
        return PlannedTag(info.tag, True, "delete-regex", why, info.digest)
    if info.created < now - policy.older_than:
        why = f"created {info.created.isoformat()}, older than {policy.older_than}"
        return PlannedTag(info.tag, True, "older-than", why, info.digest)
    why = f"created {info.created.isoformat()}, younger than {policy.older_than}"
    return PlannedTag(info.tag, False, "older-than", why, info.digest)


def policy_candidates(plan: Plan, tags: Mapping[str, TagInfo]) -> dict[str, str]:
    """What the plan deletes, with its rule, plus every placeholder (never an image: always finished)."""
    wanted = {e.tag: f"[{e.rule}] {e.reason}" for e in plan.entries if e.delete}
    placeholders = {tag: "placeholder" for tag, info in tags.items() if info.placeholder}
    return wanted | placeholders
