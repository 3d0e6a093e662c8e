"""GitLab's cleanup-policy rules, on the cases GitLab's own tests use (spec/services/projects/
container_repository/third_party/cleanup_tags_service_spec.rb): tags latest, A, Ba, Bb, C, D, E, where latest
and A share a digest created an hour ago, Ba and Bb one created 5 days ago, C a month ago, and D and E have
no creation time. Conveyor follows GitLab's order and readings, and is stricter where they would lose a tag:
a tag of unknown age stays and never takes a keep-n slot, and a delete regex must match the whole tag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor.config.model import CleanupPolicy
from conveyor.guard.policy import plan_policy
from conveyor.registry.inventory import TagInfo

NOW = datetime(2024, 6, 1, tzinfo=UTC)
CREATED = {"A": timedelta(hours=1), "B": timedelta(days=5), "C": timedelta(days=30)}
DIGESTS = {"latest": "A", "A": "A", "Ba": "B", "Bb": "B", "C": "C", "D": "D", "E": "E"}


def gitlab_fixture() -> list[TagInfo]:
    tags = []
    for tag, config in DIGESTS.items():
        age = CREATED.get(config)
        tags.append(TagInfo(tag, f"sha256:{config.lower() * 64}", NOW - age if age else None))
    return tags


def deleted(policy: CleanupPolicy, tags: list[TagInfo] | None = None) -> list[str]:
    return plan_policy("g/a", tags or gitlab_fixture(), policy, NOW).to_delete


@pytest.mark.parametrize(
    ("policy", "gitlab_deletes", "conveyor_deletes"),
    [
        pytest.param(CleanupPolicy(delete_regex=".*"), "A Ba Bb C D E", "A Ba Bb C D E", id="everything-but-latest"),
        pytest.param(CleanupPolicy(delete_regex="C|D"), "C D", "C D", id="delete-regex"),
        pytest.param(CleanupPolicy(delete_regex="C|D", keep_regex="C"), "D", "D", id="keep-overrides-delete"),
        pytest.param(CleanupPolicy(delete_regex=".*", keep_regex="B.*"), "A C D E", "A C D E", id="allow-regex"),
        pytest.param(CleanupPolicy(delete_regex="A|B.*|C", keep_newest=1), "Ba Bb C", "Ba Bb C", id="keep-n-1"),
        pytest.param(CleanupPolicy(delete_regex="A|B.*|C"), "A Ba Bb C", "A Ba Bb C", id="no-keep-n"),
        # GitLab counts D and E (no date) as now: they and A take the 3 slots. Conveyor keeps them without a
        # slot, so the 3 newest known (A, Ba, Bb) stay: one tag fewer deleted.
        pytest.param(CleanupPolicy(delete_regex=".*", keep_newest=3), "Ba Bb C", "C", id="keep-3-unknown-ages"),
        pytest.param(
            CleanupPolicy(delete_regex=".*", older_than=timedelta(days=1)), "Ba Bb C", "Ba Bb C", id="older-than-1d"
        ),
        pytest.param(
            CleanupPolicy(delete_regex=".*", keep_newest=1, older_than=timedelta(days=1)),
            "Ba Bb C",
            "Ba Bb C",
            id="combined",
        ),
    ],
)
def test_gitlabs_own_cases(policy: CleanupPolicy, gitlab_deletes: str, conveyor_deletes: str) -> None:
    assert sorted(deleted(policy)) == sorted(conveyor_deletes.split())
    assert set(conveyor_deletes.split()) <= set(gitlab_deletes.split()), "never more than GitLab deletes"


def test_latest_is_never_deleted_by_a_policy() -> None:
    plan = plan_policy("g/a", gitlab_fixture(), CleanupPolicy(delete_regex=".*"), NOW)
    latest = next(entry for entry in plan.entries if entry.tag == "latest")
    assert (latest.delete, latest.rule) == (False, "latest")


def test_keep_newest_counts_after_latest_and_the_keep_regex_are_set_aside() -> None:
    tags = [TagInfo("latest", "sha256:l", NOW), TagInfo("v1", "sha256:v", NOW - timedelta(hours=1))]
    tags += [TagInfo(f"build-{n}", f"sha256:{n}", NOW - timedelta(days=n)) for n in range(1, 4)]
    policy = CleanupPolicy(delete_regex=".*", keep_regex="v.*", keep_newest=1)
    assert sorted(deleted(policy, tags)) == ["build-2", "build-3"]  # build-1 has the one slot, not latest or v1


@pytest.mark.parametrize(
    ("tag", "kept"),
    [
        ("main", True),
        ("release", True),
        ("main-2024", True),  # starts with main: GitLab's \Amain|release\z
        ("hotfix-release", True),  # ends with release
        ("feature-main-x", False),
        ("release-candidate", False),
    ],
)
def test_a_keep_regex_keeps_what_either_reading_keeps(tag: str, kept: bool) -> None:
    policy = CleanupPolicy(delete_regex=".*", keep_regex="main|release")
    plan = plan_policy("g/a", [TagInfo(tag, "sha256:x", NOW - timedelta(days=9))], policy, NOW)
    (entry,) = plan.entries
    assert entry.delete is not kept
    if kept:
        assert entry.rule == "keep-regex" and "main|release" in entry.reason


@pytest.mark.parametrize(
    ("tag", "gone"), [("main", True), ("release", True), ("main-2024", False), ("x-release", False)]
)
def test_a_delete_regex_deletes_only_whole_tag_matches(tag: str, gone: bool) -> None:
    policy = CleanupPolicy(delete_regex="main|release")
    assert deleted(policy, [TagInfo(tag, "sha256:x", NOW)]) == ([tag] if gone else [])


def test_a_listed_tag_without_a_manifest_is_skipped_with_its_own_line() -> None:
    plan = plan_policy("g/a", [TagInfo("ghost", missing=True)], CleanupPolicy(delete_regex=".*"), NOW)
    (entry,) = plan.entries
    assert (entry.delete, entry.rule, entry.reason) == (False, "skipped", "listed, manifest missing: skipped")


def test_durations_are_said_as_the_user_wrote_them() -> None:
    policy = CleanupPolicy(delete_regex=".*", older_than=timedelta(days=30), older_than_text="30d")
    (entry,) = plan_policy("g/a", [TagInfo("old", "sha256:o", NOW - timedelta(days=40))], policy, NOW).entries
    assert entry.reason.endswith("older than 30d")
    unwritten = CleanupPolicy(delete_regex=".*", older_than=timedelta(days=30))
    (entry,) = plan_policy("g/a", [TagInfo("old", "sha256:o", NOW - timedelta(days=40))], unwritten, NOW).entries
    assert entry.reason.endswith("older than 30d") and "days," not in entry.reason
