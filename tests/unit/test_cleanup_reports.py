"""What a cleanup task says at its end (conveyor.stages.reports): counts by action and by rule, the
garbage-collection reminder once and only when something was deleted, and the JSON document of --json and
--plan-out; a plan read back (conveyor.stages.plans) is refused for another registry image, when older than
a day, or when it is not a complete dry run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conveyor.errors import ConfigError
from conveyor.interrupt import Stop
from conveyor.stages.plans import read_plan
from conveyor.stages.reports import GC_NOTE, SCHEMA, CleanupReport, Reports, TagOutcome
from tests.support.factories import console

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
IMAGE = "r.test/group/app"


def reports(printed: list[str], out: list[str] | None = None, plan: Path | None = None) -> Reports:
    json_out = out.append if out is not None else None
    return Reports(console(printed), Stop(), "cleanup.policy", IMAGE, json_out, plan, lambda: NOW)


def sample() -> CleanupReport:
    return CleanupReport(
        "group/app/ci",
        (
            TagOutcome("old", "deleted", "matches '.*'", "sha256:1", "delete-regex", NOW - timedelta(days=40)),
            TagOutcome("main", "kept", "branch main still exists on origin", "sha256:2", "branch"),
            TagOutcome("latest", "kept", "a policy never deletes latest", "sha256:3", "latest"),
            TagOutcome("ghost", "skipped", "listed, manifest missing: skipped", rule="skipped"),
        ),
    )


def test_the_end_counts_by_action_and_rule_and_reminds_of_gc_once() -> None:
    printed: list[str] = []
    done = reports(printed)
    done.show([sample(), sample()])
    done.finish()
    assert printed[-2] == (
        "cleanup.policy: 2 deleted, 4 kept, 2 skipped "
        "(2 deleted: delete-regex, 2 kept: branch, 2 kept: latest, 2 skipped: skipped)"
    )
    assert printed[-1] == f"note: {GC_NOTE}" and printed.count(f"note: {GC_NOTE}") == 1


def test_no_gc_reminder_when_nothing_was_deleted() -> None:
    printed: list[str] = []
    done = reports(printed)
    done.show([CleanupReport("group/app/ci", (TagOutcome("main", "kept", "in use", "sha256:2", "in-use"),))])
    done.finish()
    assert not any("garbage collection" in line for line in printed)


def test_the_json_document_has_every_tag_with_digest_age_action_rule_and_reason() -> None:
    out: list[str] = []
    done = reports([], out)
    done.show([sample()])
    done.finish()
    document = json.loads(out[0])
    assert (document["schema"], document["task"], document["registry_image"]) == (SCHEMA, "cleanup.policy", IMAGE)
    (repository,) = document["repositories"]
    assert repository["tags"][0] == {
        "tag": "old",
        "digest": "sha256:1",
        "created": (NOW - timedelta(days=40)).isoformat(),
        "action": "deleted",
        "rule": "delete-regex",
        "reason": "matches '.*'",
    }
    assert repository["counts"] == {"deleted": 1, "kept": 2, "skipped": 1}
    assert document["counts"]["actions"] == {"deleted": 1, "kept": 2, "skipped": 1}


def write_plan(path: Path, **changes: object) -> Path:
    done = reports([], plan=path)
    done.show([CleanupReport("group/app/ci", (TagOutcome("old", "would-delete", "x", "sha256:1", "r"),), dry_run=True)])
    done.finish()
    document = json.loads(path.read_text()) | changes
    path.write_text(json.dumps(document))
    return path


def test_a_plan_is_read_back_with_its_deletions_and_their_digests(tmp_path: Path) -> None:
    plan = read_plan(write_plan(tmp_path / "plan.json"), IMAGE, NOW + timedelta(hours=2))
    ((repository, (deletion,)),) = plan.deletions.items()
    assert (repository, deletion.tag, deletion.digest, deletion.rule) == ("group/app/ci", "old", "sha256:1", "r")


@pytest.mark.parametrize(
    ("changes", "now", "words"),
    [
        ({}, NOW + timedelta(days=2), "more than a day ago"),
        ({"registry_image": "r.test/other/app"}, NOW, "not this project's"),
        ({"dry_run": False}, NOW, "not the report of a complete dry run"),
        ({"complete": False}, NOW, "not the report of a complete dry run"),
        ({"schema": "something/9"}, NOW, "is not a Conveyor cleanup plan"),
    ],
)
def test_a_plan_that_does_not_fit_is_refused(
    tmp_path: Path, changes: dict[str, object], now: datetime, words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        read_plan(write_plan(tmp_path / "plan.json", **changes), IMAGE, now)
