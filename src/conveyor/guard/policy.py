"""Cleanup policies, GitLab-style, planned as a pure function of a repository's tags: tags matching the keep
regex always stay; of those matching the delete regex (empty: none), the `keep_newest` newest stay and the
rest go if older than `older_than` (or at once when no age is set); a tag whose age cannot be read stays and
never displaces one. With the live branches, branch tags of branches that no longer exist go, and commit
tags sharing their digest. Regexes match whole tags. What the plan deletes, the deletion guard still
weighs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from conveyor import tagnames
from conveyor.config.model import CleanupPolicy
from conveyor.config.patterns import Pattern, compile_pattern
from conveyor.registry.inventory import TagInfo


@dataclass(frozen=True)
class PlannedTag:
    tag: str
    delete: bool
    rule: str
    reason: str
    digest: str | None = None


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
    keep = _compile(policy.keep_regex, "--keep")
    delete = _compile(policy.delete_regex, "--delete")
    decided: dict[str, PlannedTag] = {}
    for info in tags:
        if keep is not None and keep.fullmatch(info.tag):
            decided[info.tag] = PlannedTag(info.tag, False, "keep-regex", f"matches {policy.keep_regex!r}", info.digest)
    _plan_dead_branches(tags, live_branches if policy.gone_branches else None, decided)
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
    return PolicyPlan(repository, tuple(decided[info.tag] for info in sorted(tags, key=lambda i: i.tag)))


def _compile(pattern: str, flag: str) -> Pattern | None:
    return compile_pattern(pattern, flag) if pattern else None


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
    if info.created < now - policy.older_than:
        why = f"created {info.created.isoformat()}, older than {policy.older_than}"
        return PlannedTag(info.tag, True, "older-than", why, info.digest)
    why = f"created {info.created.isoformat()}, younger than {policy.older_than}"
    return PlannedTag(info.tag, False, "older-than", why, info.digest)


def policy_candidates(plan: PolicyPlan, tags: Mapping[str, TagInfo]) -> dict[str, str]:
    """What the plan deletes, with its rule, plus every placeholder (never an image: always finished)."""
    wanted = {e.tag: f"[{e.rule}] {e.reason}" for e in plan.entries if e.delete}
    placeholders = {tag: "placeholder" for tag, info in tags.items() if info.placeholder}
    return wanted | placeholders
