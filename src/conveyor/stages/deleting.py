"""Deleting through the deletion guard, for every stage that deletes: ask the guard about the candidate
tags (conveyor.guard.decision), delete what it permits (conveyor.registry.deletion, by tag only, never by a
digest other tags share), and report every tag with what became of it, by which rule and why
(conveyor.stages.reports). A deletion of more than a few seconds prints its progress every few seconds,
and a second Ctrl-C or SIGTERM says which tags were deleted before it stops at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from conveyor.console import Console
from conveyor.guard.decision import GuardVerdict, decide
from conveyor.interrupt import Stop
from conveyor.permits import DeletionPermit
from conveyor.registry.client import RegistryClient
from conveyor.registry.deletion import DEFAULT_WORKERS, Deleted, delete_tags
from conveyor.registry.inventory import TagInfo, collect_tags
from conveyor.stages.knowledge import Knowledge
from conveyor.stages.reports import Action, CleanupReport, TagOutcome

PROGRESS_EVERY = 5.0  # seconds between progress lines


@dataclass(frozen=True)
class Candidates:
    """The tags a stage proposes to delete: tag -> why, and tag -> the rule that proposed it."""

    reasons: Mapping[str, str]
    rules: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, reasons: Mapping[str, str], rule: str) -> Candidates:
        return cls(reasons, dict.fromkeys(reasons, rule))


def guarded(
    client: RegistryClient,
    known: Knowledge,
    repository: str,
    candidates: Candidates,
    stop: Stop,
    tags: Mapping[str, TagInfo] | None = None,
    dry_run: bool = False,
    notes: Sequence[str] = (),
    console: Console | None = None,
) -> CleanupReport:
    """Ask the deletion guard about the candidates, then delete what it lets go (`console`: where progress
    goes)."""
    reasons = candidates.reasons
    tags = tags if tags is not None else collect_tags(client, repository, only=set(reasons))
    facts = known.facts(repository, tags, reasons)
    verdicts = decide(reasons, facts)
    notes = (*notes, facts.cluster_note) if facts.cluster_note else tuple(notes)
    report = carry_out(client, repository, verdicts, stop, dry_run=dry_run, notes=notes, console=console)
    dated = tuple(_dated(outcome, candidates.rules, tags) for outcome in report.outcomes)
    return CleanupReport(repository, dated, report.notes, dry_run)


def _dated(outcome: TagOutcome, rules: Mapping[str, str], tags: Mapping[str, TagInfo]) -> TagOutcome:
    """The outcome with the rule that proposed its tag (unless the guard's own rule kept it) and its age."""
    info = tags.get(outcome.tag)
    rule = outcome.rule or rules.get(outcome.tag, "")
    return TagOutcome(outcome.tag, outcome.action, outcome.reason, outcome.digest, rule, info.created if info else None)


def carry_out(
    client: RegistryClient,
    repository: str,
    verdicts: Sequence[GuardVerdict],
    stop: Stop | None = None,
    *,
    dry_run: bool = False,
    notes: Sequence[str] = (),
    console: Console | None = None,
) -> CleanupReport:
    """Delete the tags the guard permitted (by tag deletion only); an outcome for every verdict, with the
    guard's rule for what it kept."""
    permits = [v.permit for v in verdicts if v.permit is not None]
    settled = tuple(TagOutcome(v.tag, _settled(v), v.reason, v.digest, v.rule) for v in verdicts if v.permit is None)
    outcomes = settled + deletions(client, permits, stop, dry_run, console=console)
    return CleanupReport(repository, outcomes, tuple(notes), dry_run)


def _settled(verdict: GuardVerdict) -> Action:
    """A verdict that deletes nothing: kept, absent (gone already) or skipped (no manifest)."""
    if verdict.action == "absent":
        return "absent"
    return "skipped" if verdict.action == "skipped" else "kept"


def deletions(
    client: RegistryClient,
    permits: Sequence[DeletionPermit],
    stop: Stop | None,
    dry_run: bool,
    workers: int = DEFAULT_WORKERS,
    console: Console | None = None,
) -> tuple[TagOutcome, ...]:
    """Delete the permits' tags (or, dry, say they would go), each with its reason and how it went."""
    if dry_run:
        return tuple(TagOutcome(permit.tag, "would-delete", permit.reason, permit.digest) for permit in permits)
    progress = Progress(len(permits), console, stop)
    try:
        done = delete_tags(client.deleter, permits, workers=workers, stop=stop, on_result=progress.done)
    finally:
        progress.close()
    return tuple(_reported(result) for result in done)


def _reported(result: Deleted) -> TagOutcome:
    why = result.permit.reason
    settled = result.outcome in ("deleted", "absent") and why
    detail = f"{why}; {result.detail}" if settled else result.detail
    digest = result.digest if result.outcome == "kept" else result.permit.digest
    return TagOutcome(result.tag, result.outcome, detail, digest)


@dataclass
class Progress:
    """Deletion progress: a line every PROGRESS_EVERY seconds (done/total and the rate) when there is a
    console, and what was deleted so far, which a second signal prints before it stops at once."""

    total: int
    console: Console | None
    stop: Stop | None
    clock: Callable[[], float] = time.monotonic
    finished: list[Deleted] = field(default_factory=list)
    started: float = 0.0
    shown: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.shown = self.clock()
        if self.stop is not None:
            self.stop.at_once(self.last_words)

    def done(self, result: Deleted) -> None:
        self.finished.append(result)
        now = self.clock()
        if self.console is not None and now - self.shown >= PROGRESS_EVERY:
            self.shown = now
            rate = len(self.finished) / max(now - self.started, 1e-9)
            self.console.line(f"progress: {len(self.finished)}/{self.total} tags done ({rate:.1f}/s)")

    def last_words(self) -> str:
        deleted = [result.tag for result in list(self.finished) if result.outcome == "deleted"]
        return f"deleted before the stop: {', '.join(deleted) or 'nothing'} ({len(deleted)} of {self.total})"

    def close(self) -> None:
        if self.stop is not None:
            self.stop.at_once(None)
