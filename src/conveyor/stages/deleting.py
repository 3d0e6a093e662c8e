"""Deleting through the deletion guard, for every stage that deletes: ask the guard about the candidate
tags (conveyor.guard.decision), delete what it permits (conveyor.registry.deletion, by tag only, never by a
digest other tags share), and report every tag with what became of it and why. Storage comes back only after
the registry's garbage collection: every report says so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from conveyor.console import Console
from conveyor.errors import RegistryError
from conveyor.guard.decision import GuardVerdict, decide
from conveyor.interrupt import Stop
from conveyor.permits import DeletionPermit
from conveyor.registry.client import RegistryClient
from conveyor.registry.deletion import DEFAULT_WORKERS, delete_tags
from conveyor.registry.inventory import TagInfo, collect_tags
from conveyor.stages.knowledge import Knowledge

GC_NOTE = (
    "storage is freed only when the registry's garbage collection runs "
    "(distribution: `registry garbage-collect --delete-untagged <config>`; GitLab schedules its own)"
)

Action = Literal["deleted", "would-delete", "kept", "absent", "skipped", "failed", "not-started"]


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


def guarded(
    client: RegistryClient,
    known: Knowledge,
    repository: str,
    candidates: Mapping[str, str],
    stop: Stop,
    tags: Mapping[str, TagInfo] | None = None,
    dry_run: bool = False,
    notes: Sequence[str] = (),
) -> CleanupReport:
    """Ask the deletion guard about `candidates` (tag -> why), then delete what it lets go."""
    tags = tags if tags is not None else collect_tags(client, repository, only=set(candidates))
    facts = known.facts(repository, tags, candidates)
    verdicts = decide(candidates, facts)
    notes = (*notes, facts.cluster_note) if facts.cluster_note else tuple(notes)
    return carry_out(client, repository, verdicts, stop, dry_run=dry_run, notes=notes)


def carry_out(
    client: RegistryClient,
    repository: str,
    verdicts: Sequence[GuardVerdict],
    stop: Stop | None = None,
    *,
    dry_run: bool = False,
    notes: Sequence[str] = (),
) -> CleanupReport:
    """Delete the tags the guard permitted (by tag deletion only); report every verdict with its reason."""
    permits = [v.permit for v in verdicts if v.permit is not None]
    settled = tuple(TagOutcome(v.tag, _settled(v), v.reason, v.digest) for v in verdicts if v.permit is None)
    return CleanupReport(repository, settled + deletions(client, permits, stop, dry_run), (*notes, GC_NOTE), dry_run)


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
) -> tuple[TagOutcome, ...]:
    """Delete the permits' tags (or, dry, say they would go), each with its reason and how it went."""
    if dry_run:
        return tuple(TagOutcome(permit.tag, "would-delete", permit.reason) for permit in permits)
    done = delete_tags(client.deleter, permits, workers=workers, stop=stop)
    outcomes = []
    for result in done:
        why = result.permit.reason
        settled = result.outcome in ("deleted", "absent") and why
        detail = f"{why}; {result.detail}" if settled else result.detail
        outcomes.append(
            TagOutcome(result.tag, result.outcome, detail, result.digest if result.outcome == "kept" else None)
        )
    return tuple(outcomes)


def show(reports: Sequence[CleanupReport], console: Console, stop: Stop) -> None:
    """Print every report; fail (after printing all) when a tag could not be cleaned up."""
    for report in reports:
        for line in report.lines():
            console.line(line)
    deleted = sum(len(report.deleted) for report in reports)
    waiting = sum(len(report.tags("not-started")) for report in reports)
    stop.check(f"{deleted} tags deleted, {waiting} not started (see the lines above)")
    failed = [f"{report.repository}:{tag}" for report in reports for tag in report.failed]
    if failed:
        raise RegistryError(f"cleanup failed for {', '.join(failed)}", "see the lines above; run the task again")
