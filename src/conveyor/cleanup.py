"""The cleanup engine: plan and delete registry tags safely.

Safety rules (design §3 "cleanup"):
- A tag is removed by tag deletion only (RegistryClient.delete_tag), never by deleting the digest it points
  at, because deleting a digest removes every tag sharing it (the commit tag and the branch tag of a CI
  image share one digest).
- A digest is deleted only after listing every tag and proving that none that must survive points at it.
- Storage comes back only after the registry's garbage collection: every report says so.

Every function returns a CleanupReport (deleted / kept with reason / already gone / failed, and notes);
nothing here prints. Planning (`plan_policy`) is a pure function of the tags and the rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from conveyor.errors import BadReference, ConfigError, ConveyorError
from conveyor.reference import ImageReference
from conveyor.registry.client import PendingDeletion, RegistryClient, TagDeletion
from conveyor.registry.errors import ManifestNotFound, ReferenceOutsideRegistry

GC_NOTE = (
    "storage is freed only when the registry's garbage collection runs "
    "(distribution: `registry garbage-collect --delete-untagged <config>`; GitLab schedules its own)"
)
DEFAULT_WORKERS = 8
# Tags that look like branch slugs: not a 40-hex commit sha, not prod/prod-*, not latest, not v<digit>….
DEFAULT_BRANCH_TAG = r"(?!prod$|prod-|latest$|v\d)(?![0-9a-f]{40}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
COMMIT_TAG = re.compile(r"[0-9a-f]{40}")

Action = Literal["deleted", "would-delete", "kept", "absent", "failed"]


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


# ---- one tag -----------------------------------------------------------------------------------------


def delete_tag(client: RegistryClient, repository: str, tag: str, dry_run: bool = False) -> CleanupReport:
    """Delete one tag, and only it: other tags on the same image stay. A missing tag is 'absent' (success)."""
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


def cleanup_ci_image(
    client: RegistryClient, repository: str, commit_tag: str, branch_tag: str = "", dry_run: bool = False
) -> CleanupReport:
    """Delete this commit's CI image tag only. The branch tag shares its digest and stays pullable."""
    if commit_tag == branch_tag:
        why = "the commit tag is the branch tag: deleting it would take the branch's image"
        return CleanupReport(repository, (TagOutcome(commit_tag, "kept", why),), dry_run=dry_run)
    before = client.head_digest(repository, branch_tag) if branch_tag else None
    report = delete_tag(client, repository, commit_tag, dry_run)
    if not branch_tag:
        return report
    after = before if dry_run else client.head_digest(repository, branch_tag)
    if after is None:
        note = f"branch tag {branch_tag} does not exist"
    elif after == before:
        note = f"branch tag {branch_tag} still points at {after}"
    else:
        note = f"branch tag {branch_tag} now points at {after} (pushed meanwhile)"
    return CleanupReport(repository, report.outcomes, (note, *report.notes), dry_run)


# ---- many tags ---------------------------------------------------------------------------------------


def delete_tags(
    client: RegistryClient,
    repository: str,
    tags: Sequence[str],
    *,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
    reasons: dict[str, str] | None = None,
) -> CleanupReport:
    """Delete `tags` (known to exist, e.g. just listed) with up to `workers` in parallel, in two phases where
    the registry needs throwaway manifests (every PUT, then every DELETE). A failure of one tag is reported
    as 'failed' and does not stop the others; refused deletes stop everything before any change."""
    reasons = reasons or {}
    tags = list(dict.fromkeys(tags))  # each tag once: two throwaways racing for one tag would be wasted work
    if dry_run:
        outcomes = tuple(TagOutcome(tag, "would-delete", reasons.get(tag, "")) for tag in tags)
        return CleanupReport(repository, outcomes, dry_run=True)
    if not tags:
        return CleanupReport(repository)
    client.check_deletes_allowed(repository)
    first = _begin(client, repository, tags[0])  # learns how this registry deletes tags, once
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cleanup") as pool:
        begun = [first, *pool.map(lambda tag: _begin(client, repository, tag), tags[1:])]
        done = list(pool.map(lambda step: _finish(client, step), begun))
    results: list[TagOutcome] = []
    for tag, result in zip(tags, done, strict=True):
        if isinstance(result, str):
            results.append(TagOutcome(tag, "failed", result))
            continue
        why = reasons.get(tag, "")
        action: Action = "absent" if result.method == "absent" else "deleted"
        results.append(TagOutcome(tag, action, f"{why}; by {result.method}" if why else f"by {result.method}"))
    return CleanupReport(repository, tuple(results))


Step = TagDeletion | PendingDeletion | str  # a failure is its one-line message


def _begin(client: RegistryClient, repository: str, tag: str) -> Step:
    try:
        return client.begin_tag_deletion(repository, tag, look_up=False)
    except ConveyorError as error:
        return client.redactor.clean(str(error))


def _finish(client: RegistryClient, step: Step) -> TagDeletion | str:
    if not isinstance(step, PendingDeletion):
        return step
    try:
        return client.finish_tag_deletion(step)
    except ConveyorError as error:
        return client.redactor.clean(str(error))


def digests_of(
    client: RegistryClient, repository: str, tags: Iterable[str], workers: int = DEFAULT_WORKERS
) -> dict[str, str | None]:
    """What each tag points at now (None: gone), looked up in parallel."""
    names = list(tags)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="lookup") as pool:
        digests = list(pool.map(lambda tag: client.head_digest(repository, tag), names))
    return dict(zip(names, digests, strict=True))


def tags_pointing_at(
    client: RegistryClient, repository: str, digest: str, workers: int = DEFAULT_WORKERS, skip: Iterable[str] = ()
) -> list[str]:
    """Every tag of `repository` (except `skip`) that points at `digest` right now, sorted."""
    skipped = set(skip)
    tags = [tag for tag in client.list_tags(repository) if tag not in skipped]
    return sorted(tag for tag, found in digests_of(client, repository, tags, workers).items() if found == digest)


def delete_digest_safely(
    client: RegistryClient,
    repository: str,
    digest: str,
    may_go: Callable[[str], bool],
    workers: int = DEFAULT_WORKERS,
) -> tuple[bool, list[str]]:
    """Delete `digest` only when every tag pointing at it satisfies `may_go`. Returns (deleted, survivors):
    the survivors are the tags that must stay and point at it (then nothing is deleted)."""
    holders = tags_pointing_at(client, repository, digest, workers)
    survivors = [tag for tag in holders if not may_go(tag)]
    if survivors:
        return False, survivors
    return client.delete_manifest(repository, digest), []


# ---- old prod ----------------------------------------------------------------------------------------


def promote_and_delete_old_prod(
    client: RegistryClient,
    repository: str,
    new_tag: str,
    *,
    generic_tag: str = "prod",
    doomed_prefix: str = "prod-",
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
) -> CleanupReport:
    """Point `generic_tag` at `new_tag` (server-side), then delete the image `generic_tag` pointed at before:
    its `prod-*` tags by tag deletion, then its digest once no tag points at it. Kept (with the reason) when
    the digests are equal or a tag that must survive (not `prod-*`, e.g. a release tag) points at it."""
    new_digest = client.head_digest(repository, new_tag)
    if new_digest is None:
        raise ManifestNotFound(
            f"new prod image {client.registry}/{repository}:{new_tag} does not exist", "run build-prod first"
        )
    old_digest = client.head_digest(repository, generic_tag)
    notes: list[str] = []
    if old_digest == new_digest:
        notes.append(f"{generic_tag} already points at {new_tag} ({new_digest}): nothing to promote or delete")
        return CleanupReport(repository, (), (*notes, GC_NOTE), dry_run)
    if not dry_run:
        client.retag(repository, new_tag, generic_tag)
    notes.append(f"{'would promote' if dry_run else 'promoted'} {generic_tag} to {new_tag} ({new_digest})")
    if old_digest is None:
        notes.append(f"there was no previous {generic_tag} image: nothing to delete")
        return CleanupReport(repository, (), (*notes, GC_NOTE), dry_run)
    skip = (generic_tag,) if dry_run else ()
    holders = tags_pointing_at(client, repository, old_digest, workers, skip=skip)
    doomed = [tag for tag in holders if tag.startswith(doomed_prefix) and tag != new_tag]
    survivors = [tag for tag in holders if tag not in doomed]
    if survivors:
        why = f"previous prod image {old_digest} is still used by {', '.join(survivors)}: kept"
        outcomes = tuple(TagOutcome(tag, "kept", why, old_digest) for tag in doomed)
        return CleanupReport(repository, outcomes, (*notes, why, GC_NOTE), dry_run)
    reasons = {tag: f"previous prod image {old_digest}" for tag in doomed}
    report = delete_tags(client, repository, doomed, dry_run=dry_run, workers=workers, reasons=reasons)
    if dry_run or not report.ok:
        return CleanupReport(repository, report.outcomes, (*notes, GC_NOTE), dry_run)
    deleted, late = delete_digest_safely(client, repository, old_digest, lambda tag: False, workers)
    if late:
        notes.append(f"previous prod image {old_digest} kept: tagged meanwhile as {', '.join(late)}")
    else:
        notes.append(f"previous prod image {old_digest} {'deleted' if deleted else 'was already gone'}")
    return CleanupReport(repository, report.outcomes, (*notes, GC_NOTE), dry_run)


# ---- policy ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """Cleanup rules, GitLab-style. Tags matching `keep_regex` always stay. Of the tags matching
    `delete_regex` (empty: none), the `keep_newest` newest stay and the rest go if older than `older_than`
    (or at once when no age is set). With `live_branches` (slugs), tags of branches that no longer exist
    (tags matching `branch_tag_regex`), and commit tags sharing their digest, go too. Regexes match whole tags."""

    keep_regex: str = ""
    delete_regex: str = ""
    keep_newest: int | None = None
    older_than: timedelta | None = None
    live_branches: frozenset[str] | None = None
    branch_tag_regex: str = DEFAULT_BRANCH_TAG

    @property
    def needs_created(self) -> bool:
        return bool(self.delete_regex) and (self.keep_newest is not None or self.older_than is not None)


@dataclass(frozen=True)
class TagInfo:
    """A tag, its digest, and its image's creation time (None when not looked up or unknown)."""

    tag: str
    digest: str | None = None
    created: datetime | None = None


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


_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """`90m`, `12h`, `30d`, `2w` → timedelta (ConfigError when malformed)."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise ConfigError(f"malformed duration {text!r}", "write a number and a unit: 90m, 12h, 30d, 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def plan_policy(repository: str, tags: Sequence[TagInfo], policy: Policy, now: datetime) -> Plan:
    """Decide, for each tag, keep or delete and why (pure)."""
    keep = _compile(policy.keep_regex)
    delete = _compile(policy.delete_regex)
    branch = _compile(policy.branch_tag_regex)
    decided: dict[str, PlannedTag] = {}
    for info in tags:
        if keep is not None and keep.fullmatch(info.tag):
            decided[info.tag] = PlannedTag(info.tag, False, "keep-regex", f"matches {policy.keep_regex!r}", info.digest)
    _plan_dead_branches(tags, policy, branch, decided)
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


def _compile(pattern: str) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"malformed tag pattern {pattern!r} ({error})", "write a Python regular expression") from None


def _plan_dead_branches(
    tags: Sequence[TagInfo], policy: Policy, branch: re.Pattern[str] | None, decided: dict[str, PlannedTag]
) -> None:
    if policy.live_branches is None or branch is None:
        return
    dead_digests: dict[str, str] = {}
    for info in tags:
        if info.tag in decided or not branch.fullmatch(info.tag) or info.tag in policy.live_branches:
            continue
        decided[info.tag] = PlannedTag(info.tag, True, "branch-gone", "no live branch has this slug", info.digest)
        if info.digest:
            dead_digests[info.digest] = info.tag
    live_digests = {i.digest for i in tags if i.tag in policy.live_branches and i.digest}
    for info in tags:
        if info.tag in decided or not COMMIT_TAG.fullmatch(info.tag) or info.digest not in dead_digests:
            continue
        if info.digest in live_digests:
            continue
        reason = f"commit image of removed branch {dead_digests[info.digest]}"
        decided[info.tag] = PlannedTag(info.tag, True, "branch-gone", reason, info.digest)


def _plan_age(candidates: list[TagInfo], policy: Policy, now: datetime, decided: dict[str, PlannedTag]) -> None:
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(candidates, key=lambda i: (i.created is None, i.created or oldest, i.tag), reverse=True)
    for rank, info in enumerate(ranked):
        if policy.keep_newest is not None and rank < policy.keep_newest:
            why = f"one of the {policy.keep_newest} newest"
            decided[info.tag] = PlannedTag(info.tag, False, "keep-newest", why, info.digest)
        elif policy.older_than is None:
            why = f"matches {policy.delete_regex!r}" + (
                f" and is not one of the {policy.keep_newest} newest" if policy.keep_newest is not None else ""
            )
            decided[info.tag] = PlannedTag(info.tag, True, "delete-regex", why, info.digest)
        elif info.created is None:
            decided[info.tag] = PlannedTag(info.tag, False, "older-than", "creation time unknown", info.digest)
        elif info.created < now - policy.older_than:
            why = f"created {info.created.isoformat()}, older than {policy.older_than}"
            decided[info.tag] = PlannedTag(info.tag, True, "older-than", why, info.digest)
        else:
            why = f"created {info.created.isoformat()}, younger than {policy.older_than}"
            decided[info.tag] = PlannedTag(info.tag, False, "older-than", why, info.digest)


def collect_tags(
    client: RegistryClient, repository: str, need_created: bool, workers: int = DEFAULT_WORKERS
) -> list[TagInfo]:
    """Every tag with its digest and (when `need_created`) its image's creation time, looked up in parallel."""
    digests = digests_of(client, repository, client.list_tags(repository), workers)
    created: dict[str, datetime | None] = {}
    if need_created:
        unique = sorted({digest for digest in digests.values() if digest})
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="created") as pool:
            times = list(pool.map(lambda digest: client.image_created(repository, digest), unique))
        created = dict(zip(unique, times, strict=True))
    return [
        TagInfo(tag, digest, created.get(digest) if digest else None)
        for tag, digest in digests.items()
        if digest is not None
    ]


def execute_plan(
    client: RegistryClient, plan: Plan, *, dry_run: bool = True, workers: int = DEFAULT_WORKERS
) -> CleanupReport:
    """Carry out `plan` (dry run by default): kept tags are reported with their rule, the rest deleted."""
    doomed = plan.to_delete
    reasons = {e.tag: f"[{e.rule}] {e.reason}" for e in plan.entries if e.delete}
    report = delete_tags(client, plan.repository, doomed, dry_run=dry_run, workers=workers, reasons=reasons)
    kept = tuple(TagOutcome(e.tag, "kept", f"[{e.rule}] {e.reason}", e.digest) for e in plan.entries if not e.delete)
    return CleanupReport(plan.repository, kept + report.outcomes, report.notes, dry_run)


def cleanup_policy(
    client: RegistryClient,
    repository: str,
    policy: Policy,
    *,
    now: datetime | None = None,
    dry_run: bool = True,
    workers: int = DEFAULT_WORKERS,
) -> tuple[Plan, CleanupReport]:
    """Collect the tags, plan by `policy`, execute (dry run by default)."""
    tags = collect_tags(client, repository, policy.needs_created, workers)
    plan = plan_policy(repository, tags, policy, now or datetime.now(UTC))
    return plan, execute_plan(client, plan, dry_run=dry_run, workers=workers)
