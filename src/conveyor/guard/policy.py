r"""Cleanup policies, GitLab-style, planned as a pure function of a repository's tags, in the order of
GitLab's cleanup service (app/services/projects/container_repository/cleanup_tags_base_service.rb):

1. `latest` is never deleted by a policy (GitLab's `keep_latest`);
2. a tag the keep regex matches stays: Conveyor keeps it when the regex matches the WHOLE tag, and also
   when it matches GitLab's way, which wraps the pattern as `\A` + pattern + `\z` without a group, so
   `main|release` keeps every tag starting with `main` and every tag ending with `release`;
3. with the live branches, tags of branches origin no longer has go, and commit tags sharing their digest;
4. a tag goes only when the delete regex matches the whole tag (GitLab's wider reading would delete more);
5. of those, the `keep_newest` newest stay, counted after `latest` and the keep regex's tags are set aside;
   a tag whose age cannot be read stays and never takes a slot (GitLab counts it as now: stricter here);
6. the rest go when older than `older_than` (or at once when no age is set).

A tag the registry lists but whose manifest cannot be read is skipped, with its own line. What the plan
deletes, the deletion guard still weighs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from conveyor import tagnames
from conveyor.config.durations import describe
from conveyor.config.model import CleanupPolicy
from conveyor.config.patterns import Pattern, compile_pattern
from conveyor.registry.inventory import TagInfo

LATEST = "latest"


@dataclass(frozen=True)
class PlannedTag:
    """What the rules say of one tag: delete or keep, by which rule, and why."""

    tag: str
    delete: bool
    rule: str
    reason: str
    digest: str | None = None

    @property
    def action(self) -> Literal["would-delete", "kept", "skipped"]:
        """How a report names it while the guard has not weighed it."""
        if self.delete:
            return "would-delete"
        return "skipped" if self.rule == "skipped" else "kept"


@dataclass(frozen=True)
class PolicyPlan:
    """What the rules decide for each tag of one repository (before the deletion guard weighs it)."""

    repository: str
    entries: tuple[PlannedTag, ...] = field(default_factory=tuple)

    @property
    def to_delete(self) -> list[str]:
        return [entry.tag for entry in self.entries if entry.delete]

    def lines(self) -> list[str]:
        return [
            f"{'delete' if e.delete else 'keep'} {self.repository}:{e.tag} [{e.rule}] {e.reason}" for e in self.entries
        ]


def plan_policy(
    repository: str,
    tags: Sequence[TagInfo],
    policy: CleanupPolicy,
    now: datetime,
    live_branches: frozenset[str] | None = None,
) -> PolicyPlan:
    """Decide, for each tag, keep or delete by the rules and why (pure). `live_branches`: the slugs of the
    branches on origin, for `gone_branches` (None: that rule is off). Placeholders are not images: the
    caller finishes them."""
    tags = [info for info in tags if not info.placeholder]
    keep = _keep_readings(policy.keep_regex)
    delete = _compile(policy.delete_regex, "--delete")
    decided: dict[str, PlannedTag] = {}
    for info in tags:
        if info.missing:
            decided[info.tag] = PlannedTag(info.tag, False, "skipped", "listed, manifest missing: skipped")
        elif info.tag == LATEST:
            decided[info.tag] = PlannedTag(info.tag, False, "latest", "a policy never deletes latest", info.digest)
        elif reading := _kept_by(keep, info.tag):
            why = f"matches {policy.keep_regex!r}{reading}"
            decided[info.tag] = PlannedTag(info.tag, False, "keep-regex", why, info.digest)
    _plan_dead_branches(tags, live_branches if policy.gone_branches else None, decided)
    candidates = []
    for info in tags:
        if info.tag in decided:
            continue
        if delete is None or not delete.fullmatch(info.tag):
            why = f"does not match {policy.delete_regex!r} (whole tag)" if delete is not None else "no delete rule"
            decided[info.tag] = PlannedTag(info.tag, False, "delete-regex", why, info.digest)
        else:
            candidates.append(info)
    _plan_age(candidates, policy, now, decided)
    return PolicyPlan(repository, tuple(decided[info.tag] for info in sorted(tags, key=lambda i: i.tag)))


def _compile(pattern: str, flag: str) -> Pattern | None:
    return compile_pattern(pattern, flag) if pattern else None


def _keep_readings(pattern: str) -> tuple[Pattern, Pattern] | None:
    r"""The keep regex read two ways: as a whole-tag match, and as GitLab compiles it (`\A` + pattern + `\z`,
    matched anywhere)."""
    if not pattern:
        return None
    whole = compile_pattern(pattern, "--keep")
    return whole, compile_pattern(f"\\A{pattern}\\z", "--keep")


def _kept_by(readings: tuple[Pattern, Pattern] | None, tag: str) -> str:
    """Why the keep regex keeps `tag` ("" when it does not): whole-tag, or only as GitLab reads it."""
    if readings is None:
        return ""
    whole, gitlab = readings
    if whole.fullmatch(tag):
        return " (whole tag)"
    return " (as GitLab reads it: \\A + pattern + \\z)" if gitlab.search(tag) else ""


def _plan_dead_branches(tags: Sequence[TagInfo], live: frozenset[str] | None, decided: dict[str, PlannedTag]) -> None:
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


def _plan_age(candidates: list[TagInfo], policy: CleanupPolicy, now: datetime, decided: dict[str, PlannedTag]) -> None:
    """Rank by creation time (newest first); a tag whose age is unknown is kept and never displaces one."""
    aged = policy.keep_newest is not None or policy.older_than is not None
    known = sorted((i for i in candidates if i.created is not None), key=lambda i: (i.created, i.tag), reverse=True)
    for info in candidates:
        if aged and info.created is None:
            decided[info.tag] = PlannedTag(info.tag, False, "age", "creation time unknown", info.digest)
    for rank, info in enumerate(known if aged else candidates):
        decided[info.tag] = _by_age(info, rank, policy, now)


def _by_age(info: TagInfo, rank: int, policy: CleanupPolicy, now: datetime) -> PlannedTag:
    if policy.keep_newest is not None and rank < policy.keep_newest:
        return PlannedTag(info.tag, False, "keep-newest", f"one of the {policy.keep_newest} newest", info.digest)
    if policy.older_than is None or info.created is None:
        why = f"matches {policy.delete_regex!r}" + (
            f" and is not one of the {policy.keep_newest} newest" if policy.keep_newest is not None else ""
        )
        return PlannedTag(info.tag, True, "delete-regex", why, info.digest)
    age = policy.older_than_text or describe(policy.older_than)
    if info.created < now - policy.older_than:
        why = f"created {info.created.isoformat()}, older than {age}"
        return PlannedTag(info.tag, True, "older-than", why, info.digest)
    why = f"created {info.created.isoformat()}, younger than {age}"
    return PlannedTag(info.tag, False, "older-than", why, info.digest)


def policy_candidates(plan: PolicyPlan, tags: Mapping[str, TagInfo]) -> tuple[dict[str, str], dict[str, str]]:
    """What the plan deletes (tag -> why, tag -> its rule), plus every placeholder (never an image: always
    finished)."""
    placeholders = [tag for tag, info in tags.items() if info.placeholder]
    reasons = {e.tag: e.reason for e in plan.entries if e.delete} | dict.fromkeys(placeholders, "placeholder")
    rules = {e.tag: e.rule for e in plan.entries if e.delete} | dict.fromkeys(placeholders, "placeholder")
    return reasons, rules
