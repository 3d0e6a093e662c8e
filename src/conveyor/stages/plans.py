"""A cleanup plan handed over: `cleanup.policy --plan-out FILE` writes a dry run's report (schema
conveyor.cleanup/1), and `cleanup.policy --execute --plan FILE` deletes that plan's deletions and nothing
else. The rules are not run again (the plan is the decision), but every deletion is still weighed: a
repository outside the project is refused, a tag re-pushed since the plan is kept, the deletion guard keeps
what a cluster now runs, and placeholders of an interrupted run are finished as always. A plan for another
registry image, older than a day, or not a dry run, is refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from conveyor.errors import ConfigError
from conveyor.registry.client import RegistryClient
from conveyor.registry.inventory import collect_tags
from conveyor.stages.deleting import Candidates, guarded
from conveyor.stages.knowledge import Knowledge
from conveyor.stages.reports import CleanupReport, Reports, TagOutcome, read_document

MAX_AGE = timedelta(days=1)


@dataclass(frozen=True)
class PlannedDeletion:
    """One tag the plan deletes: the digest it had when the plan was made, the rule and the reason."""

    tag: str
    digest: str | None
    rule: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """The deletions of a plan, by repository."""

    source: str
    deletions: Mapping[str, tuple[PlannedDeletion, ...]]


def read_plan(path: Path, registry_image: str, now: datetime) -> Plan:
    """The plan in `path`, refused (one line) unless it is a dry run of this registry image made within a day."""
    flag = f"--plan {path}"
    try:
        document = read_document(path.read_text(encoding="utf-8"), flag)
    except OSError as error:
        raise ConfigError(f"{flag}: cannot read it ({error.strerror})", "give the file --plan-out wrote") from None
    except ValueError as error:
        raise ConfigError(str(error), "give the file cleanup.policy --plan-out wrote") from None
    if document.get("registry_image") != registry_image:
        raise ConfigError(
            f"{flag} is a plan for {document.get('registry_image')!r}, not this project's {registry_image!r}",
            "make the plan here with cleanup.policy --plan-out FILE",
        )
    if not document.get("dry_run") or not document.get("complete"):
        raise ConfigError(
            f"{flag} is not the report of a complete dry run", "write it with --plan-out, without --execute"
        )
    made = _made(document, flag)
    if now - made > MAX_AGE:
        raise ConfigError(
            f"{flag} was made {made.isoformat()}, more than a day ago: the registry and the clusters have moved on",
            "make a new plan with cleanup.policy --plan-out FILE",
        )
    return Plan(str(path), {repository["repository"]: _deletions(repository) for repository in _repositories(document)})


def _made(document: Mapping[str, Any], flag: str) -> datetime:
    try:
        made = datetime.fromisoformat(str(document.get("created")))
    except ValueError:
        raise ConfigError(f"{flag} has no readable creation time", "make a new plan with --plan-out") from None
    if made.tzinfo is None:
        raise ConfigError(f"{flag} has a creation time without a time zone", "make a new plan with --plan-out")
    return made


def _repositories(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    repositories = document.get("repositories")
    if not isinstance(repositories, list) or not all(isinstance(r, dict) and "repository" in r for r in repositories):
        raise ConfigError("the plan lists no repositories", "make a new plan with --plan-out")
    return repositories


def _deletions(repository: Mapping[str, Any]) -> tuple[PlannedDeletion, ...]:
    return tuple(
        PlannedDeletion(str(tag["tag"]), tag.get("digest"), str(tag.get("rule", "")), str(tag.get("reason", "")))
        for tag in repository.get("tags") or []
        if isinstance(tag, dict) and tag.get("action") == "would-delete"
    )


def execute_plan(plan: Plan, client: RegistryClient, known: Knowledge, reports: Reports) -> None:
    """Delete each repository's planned deletions that the guard still lets go (see the module's docstring)."""
    for repository, planned in plan.deletions.items():
        known.check(repository)
        tags = collect_tags(client, repository, only={deletion.tag for deletion in planned})
        moved = [d for d in planned if d.tag in tags and tags[d.tag].digest != d.digest]
        kept = tuple(
            TagOutcome(
                d.tag,
                "kept",
                f"re-pushed since the plan (was {d.digest}, now {tags[d.tag].digest})",
                tags[d.tag].digest,
                "re-pushed",
            )
            for d in moved
        )
        rest = [d for d in planned if d not in moved]
        placeholders = [tag for tag, info in tags.items() if info.placeholder]
        reasons = {d.tag: d.reason for d in rest} | dict.fromkeys(placeholders, "placeholder")
        rules = {d.tag: d.rule for d in rest} | dict.fromkeys(placeholders, "placeholder")
        note = f"the plan {plan.source}: {len(planned)} deletions planned"
        report = guarded(
            client,
            known,
            repository,
            Candidates(reasons, rules),
            reports.stop,
            tags,
            notes=(note,),
            console=reports.console,
        )
        reports.show([_with(report, kept)])


def _with(report: CleanupReport, kept: Sequence[TagOutcome]) -> CleanupReport:
    return CleanupReport(report.repository, (*kept, *report.outcomes), report.notes, report.dry_run)
