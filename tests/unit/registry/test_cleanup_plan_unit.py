"""Unit tests: the pure policy planner, durations, targets, manifests helpers, report lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor.config.model import CleanupPolicy
from conveyor.errors import BadReference, ConfigError
from conveyor.guard.policy import plan_policy, policy_candidates
from conveyor.registry.errors import ReferenceOutsideRegistry
from conveyor.registry.inventory import TagInfo
from conveyor.registry.manifests import THROWAWAY_CONFIG, parse_timestamp, sha256_digest, throwaway_manifest
from conveyor.stages.cleanup import parse_tag_reference
from conveyor.stages.reports import CleanupReport, TagOutcome

NOW = datetime(2024, 6, 1, tzinfo=UTC)
SHA1 = "1" * 40
SHA2 = "2" * 40


def info(tag: str, days_old: float | None = None, digest: str = "") -> TagInfo:
    created = NOW - timedelta(days=days_old) if days_old is not None else None
    return TagInfo(tag, digest or f"sha256:{tag}", created)


def decisions(tags: list[TagInfo], policy: CleanupPolicy) -> dict[str, tuple[bool, str]]:
    return {e.tag: (e.delete, e.rule) for e in plan_policy("g/a", tags, policy, NOW).entries}


def test_default_policy_deletes_nothing() -> None:
    plan = plan_policy("g/a", [info("a", 100), info("b", 1)], CleanupPolicy(), NOW)
    assert plan.to_delete == []


def test_keep_newest_and_older_than() -> None:
    tags = [info(f"n.{i}", i) for i in range(1, 7)] + [info("n.unknown")]
    result = decisions(tags, CleanupPolicy(delete_regex=r"n\..*", keep_newest=2, older_than=timedelta(days=3)))
    assert result["n.unknown"] == (False, "age")  # unknown creation time: kept, and never ranked
    assert result["n.1"] == (False, "keep-newest")
    assert result["n.2"] == (False, "keep-newest")  # an unknown age does not displace a real image
    assert result["n.3"] == (False, "older-than")  # 3rd newest but not older than 3 days
    assert [t for t, (d, _) in result.items() if d] == ["n.4", "n.5", "n.6"]


def test_unknown_ages_never_count_as_old_nor_as_newest() -> None:
    tags = [info(f"u{i}") for i in range(5)] + [info(f"k{i}", 10 + i) for i in range(3)]
    result = decisions(tags, CleanupPolicy(delete_regex=".*", keep_newest=2))
    assert result == {f"u{i}": (False, "age") for i in range(5)} | {
        "k0": (False, "keep-newest"),
        "k1": (False, "keep-newest"),
        "k2": (True, "delete-regex"),
    }


def test_placeholders_are_not_images_and_are_always_candidates() -> None:
    tags = [info("real", 1)] + [TagInfo(f"p{i}", f"sha256:p{i}", None, placeholder=True) for i in range(3)]
    plan = plan_policy("g/a", tags, CleanupPolicy(delete_regex=".*", keep_newest=1), NOW)
    assert [e.tag for e in plan.entries] == ["real"] and plan.to_delete == []
    candidates, _rules = policy_candidates(plan, {t.tag: t for t in tags})
    assert candidates == {"p0": "placeholder", "p1": "placeholder", "p2": "placeholder"}


def test_short_commit_tags_are_commits_not_branches() -> None:
    short = "abc1234"
    tags = [info(short, digest="sha256:live"), info("main", digest="sha256:live"), info("gone", digest="sha256:x")]
    plan = plan_policy("g/a", tags, CleanupPolicy(gone_branches=True), NOW, frozenset({"main"}))
    assert plan.to_delete == ["gone"]


def test_keep_regex_wins_and_delete_regex_matches_whole_tags() -> None:
    tags = [info("v1.2", 400), info("nightly", 400), info("nightly-x", 400)]
    result = decisions(tags, CleanupPolicy(keep_regex=r"v\d.*", delete_regex="nightly"))
    assert result == {
        "v1.2": (False, "keep-regex"),
        "nightly": (True, "delete-regex"),
        "nightly-x": (False, "delete-regex"),
    }


def test_branches_that_no_longer_exist() -> None:
    tags = [
        info("main", digest="sha256:m"),
        info(SHA1, digest="sha256:m"),
        info("old-feature", digest="sha256:o"),
        info(SHA2, digest="sha256:o"),
        info("prod"),
        info("prod-" + SHA1),
        info("v1.0"),
        info("latest"),
    ]
    plan = plan_policy("g/a", tags, CleanupPolicy(gone_branches=True), NOW, frozenset({"main"}))
    assert sorted(plan.to_delete) == sorted(["old-feature", SHA2])
    reasons = {e.tag: e.reason for e in plan.entries}
    assert reasons[SHA2] == "commit image of removed branch old-feature"
    assert any(line.startswith("delete g/a:old-feature [branch-gone]") for line in plan.lines())


def test_commit_tag_shared_with_a_live_branch_is_kept() -> None:
    tags = [info("main", digest="sha256:s"), info("gone", digest="sha256:s"), info(SHA1, digest="sha256:s")]
    plan = plan_policy("g/a", tags, CleanupPolicy(gone_branches=True), NOW, frozenset({"main"}))
    assert plan.to_delete == ["gone"]


def test_bad_patterns_are_one_line_and_patterns_are_re2() -> None:
    with pytest.raises(ConfigError, match="--delete '\\(' is not an RE2 regular expression"):
        plan_policy("g/a", [info("a")], CleanupPolicy(delete_regex="("), NOW)
    with pytest.raises(ConfigError, match="no lookarounds"):
        plan_policy("g/a", [info("a")], CleanupPolicy(keep_regex="(?!prod).*"), NOW)
    hostile = [info("a" * 5000 + "c")]
    assert plan_policy("g/a", hostile, CleanupPolicy(delete_regex="(a*)*b"), NOW).to_delete == []  # linear, no hang


def test_parse_target() -> None:
    assert parse_tag_reference("r.test:5000/g/a:t", "r.test:5000").repository == "g/a"
    with pytest.raises(ReferenceOutsideRegistry, match=r"not in the configured registry r\.test:5000"):
        parse_tag_reference("other.test/g/a:t", "r.test:5000")
    with pytest.raises(BadReference, match="names no tag"):
        parse_tag_reference("r.test:5000/g/a", "r.test:5000")
    with pytest.raises(BadReference, match="names a digest"):
        parse_tag_reference(f"r.test:5000/g/a@sha256:{'a' * 64}", "r.test:5000")
    with pytest.raises(BadReference):
        parse_tag_reference("r.test:5000/G/a:t", "r.test:5000")


def test_throwaway_manifests_are_unique_and_reference_the_shared_config() -> None:
    first, second = throwaway_manifest("t"), throwaway_manifest("t")
    assert first.digest != second.digest
    assert first.config_digest() == sha256_digest(THROWAWAY_CONFIG)


def test_timestamps_with_nanoseconds() -> None:
    assert parse_timestamp("2024-05-01T10:00:00.123456789Z") == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert parse_timestamp("2024-05-01T10:00:00+02:00") is not None
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp("2024-05-01T10:00:00") is None  # no zone: unknown


def test_report_lines_say_each_tag_once() -> None:
    report = CleanupReport("g/a", (TagOutcome("t", "kept", "used by v1.2", "sha256:x"),))
    assert report.lines() == ["kept g/a:t (sha256:x): used by v1.2"]
