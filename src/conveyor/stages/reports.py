"""What a cleanup reports: one outcome per tag (its action, the rule that decided it, why, its digest and age),
gathered per repository, printed as each repository is done, and at the end of the task counted by action
and by rule, with the garbage-collection reminder once when anything was deleted. With `--json` the same is
one JSON document on stdout (schema `conveyor.cleanup/1`, README "Cleanup reports"), and the human lines go
to stderr; `cleanup.policy --plan-out` writes that document of a dry run as a plan to execute later."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from conveyor.console import Console
from conveyor.errors import RegistryError
from conveyor.interrupt import Stop

SCHEMA = "conveyor.cleanup/1"
GC_NOTE = (
    "storage is freed only when the registry's garbage collection runs "
    "(distribution: `registry garbage-collect --delete-untagged <config>`; GitLab schedules its own)"
)

Action = Literal["deleted", "would-delete", "kept", "absent", "skipped", "failed", "not-started"]


@dataclass(frozen=True)
class TagOutcome:
    """What happened to one tag, by which rule, and why."""

    tag: str
    action: Action
    reason: str = ""
    digest: str | None = None
    rule: str = ""
    created: datetime | None = None

    def line(self, repository: str) -> str:
        digest = f" ({self.digest})" if self.digest else ""
        rule = f"[{self.rule}] " if self.rule and self.action in ("kept", "would-delete", "deleted") else ""
        reason = f": {rule}{self.reason}" if self.reason or rule else ""
        return f"{self.action} {repository}:{self.tag}{digest}{reason}"

    def document(self) -> dict[str, Any]:
        created = self.created.isoformat() if self.created else None
        return {
            "tag": self.tag,
            "digest": self.digest,
            "created": created,
            "action": self.action,
            "rule": self.rule,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class CleanupReport:
    """The result of one cleanup of one repository: one outcome per tag considered, plus notes."""

    repository: str
    outcomes: tuple[TagOutcome, ...] = ()
    notes: tuple[str, ...] = ()
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

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(outcome.action for outcome in self.outcomes).items()))

    def document(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "tags": [outcome.document() for outcome in self.outcomes],
            "counts": self.counts(),
            "notes": list(self.notes),
        }


@dataclass
class Reports:
    """Every report of one cleanup task. `show` prints a repository's lines as it is done and fails (after
    printing) when a tag could not be cleaned up; `finish` ends the task with the counts, the GC reminder
    once when anything was deleted, and the JSON document when `json_out` is given."""

    console: Console
    stop: Stop
    task: str
    registry_image: str = ""
    json_out: Callable[[str], None] | None = None
    plan_out: Path | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    shown: list[CleanupReport] = field(default_factory=list)
    complete: bool = True

    def show(self, reports: Sequence[CleanupReport]) -> None:
        for report in reports:
            self.shown.append(report)
            for line in report.lines():
                self.console.line(line)
        deleted = sum(len(report.deleted) for report in reports)
        waiting = sum(len(report.tags("not-started")) for report in reports)
        self.stop.check(f"{deleted} tags deleted, {waiting} not started (see the lines above)")
        failed = [f"{report.repository}:{tag}" for report in reports for tag in report.failed]
        if failed:
            raise RegistryError(f"cleanup failed for {', '.join(failed)}", "see the lines above; run the task again")

    def counts(self) -> dict[str, dict[str, int]]:
        outcomes = [outcome for report in self.shown for outcome in report.outcomes]
        actions = Counter(outcome.action for outcome in outcomes)
        rules = Counter(f"{outcome.action}: {outcome.rule or 'asked'}" for outcome in outcomes)
        return {"actions": dict(sorted(actions.items())), "rules": dict(sorted(rules.items()))}

    def summary(self) -> list[str]:
        """The task's last lines: counts by action, then by rule; the GC reminder when anything went."""
        counts = self.counts()
        if not counts["actions"]:
            return [f"{self.task}: nothing to clean up"]
        actions = ", ".join(f"{count} {action}" for action, count in counts["actions"].items())
        rules = ", ".join(f"{count} {rule}" for rule, count in counts["rules"].items())
        lines = [f"{self.task}: {actions} ({rules})"]
        if counts["actions"].get("deleted"):
            lines.append(f"note: {GC_NOTE}")
        return lines

    def document(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "task": self.task,
            "registry_image": self.registry_image,
            "created": self.clock().isoformat(),
            "dry_run": all(report.dry_run for report in self.shown) if self.shown else True,
            "complete": self.complete,
            "repositories": [report.document() for report in self.shown],
            "counts": self.counts(),
        }

    def finish(self) -> None:
        for line in self.summary():
            self.console.line(line)
        document = json.dumps(self.document(), indent=2)
        if self.json_out is not None:
            self.json_out(document)
        if self.plan_out is not None and self.complete:
            self.plan_out.write_text(document + "\n", encoding="utf-8")
            self.console.line(
                f"wrote the plan {self.plan_out}: run it with cleanup.policy --execute --plan {self.plan_out}"
            )


def read_document(text: str, where: str) -> Mapping[str, Any]:
    """A cleanup document (a plan written by --plan-out) as data; ValueError naming `where` when it is not."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{where} is not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise ValueError(f"{where} is not a Conveyor cleanup plan (schema {SCHEMA})")
    return document
