"""The client and the cleanup engine against a real registry (distribution 2.8) without auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from registry_helpers import fast_retry, push_image

from conveyor.config.model import CleanupPolicy
from conveyor.errors import BadReference, ConveyorError
from conveyor.gitinfo import Branches
from conveyor.guard import policy
from conveyor.guard.decision import Facts, decide
from conveyor.guard.references import ClusterView, Use
from conveyor.registry import RegistryClient, RegistryOptions, inventory, promotion
from conveyor.registry.errors import DeletesDisabled, ManifestNotFound, ReferenceOutsideRegistry, RegistryUnreachable
from conveyor.registry.manifests import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    THROWAWAY_CONFIG,
    Manifest,
    throwaway_manifest,
)
from conveyor.stages import deleting, reports
from conveyor.stages.cleanup import parse_tag_reference
from tests.support import deletions
from tests.support.factories import permit
from tests.support.registry import RegistryProcess, free_port

pytestmark = pytest.mark.integration
REPO = "group/app"
SHA = "0123456789abcdef0123456789abcdef01234567"
OLD_SHA = "fedcba9876543210fedcba9876543210fedcba98"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def test_basic_operations(client: RegistryClient) -> None:
    client.ping()
    digest = push_image(client, REPO, ["a"], "one", media_type=DOCKER_MANIFEST)
    assert client.head_digest(REPO, "a") == digest
    assert client.head_digest(REPO, "missing") is None
    manifest = client.get_manifest(REPO, "a")
    assert (manifest.digest, manifest.media_type) == (digest, DOCKER_MANIFEST)
    assert client.retag(REPO, "a", "b") == digest
    assert sorted(client.list_tags(REPO)) == ["a", "b"]
    assert client.list_tags("group/unknown") == []
    with pytest.raises(ManifestNotFound):
        client.get_manifest(REPO, "missing")


def test_manifest_list_is_copied_byte_for_byte(client: RegistryClient) -> None:
    child = push_image(client, REPO, ["amd64"], "child", media_type=DOCKER_MANIFEST)
    size = len(client.get_manifest(REPO, child).raw)
    platform = '"platform":{"architecture":"amd64","os":"linux"}'
    raw = (
        f'{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}",'
        f'"digest":"{child}","size":{size},{platform}}}]}}'
    ).encode()
    index = Manifest.from_bytes(raw, DOCKER_MANIFEST_LIST)
    client.put_manifest(REPO, "multi", index)
    assert client.retag(REPO, "multi", "multi-copy") == index.digest
    copied = client.get_manifest(REPO, "multi-copy")
    assert copied.raw == raw and copied.is_index
    assert client.image_created(REPO, client.get_manifest(REPO, "multi")) == datetime(2024, 1, 1, tzinfo=UTC)


def test_tags_are_paginated(client: RegistryClient) -> None:
    tags = [f"t{i:02d}" for i in range(23)]
    push_image(client, REPO, tags, "many")
    assert sorted(client.list_tags(REPO, page_size=5)) == tags


def test_tag_delete_on_registry_2_8_falls_back_to_a_throwaway_manifest(client: RegistryClient) -> None:
    digest = push_image(client, REPO, ["x", "y"], "shared")
    deletion = client.deleter.delete(permit(REPO, "x", digest))
    assert (deletion.method, deletion.previous_digest) == ("throwaway-manifest", digest)
    assert client.list_tags(REPO) == ["y"]
    assert client.head_digest(REPO, "y") == digest


def test_ci_image_commit_tag_deleted_branch_tag_stays_pullable(client: RegistryClient) -> None:
    digest = push_image(client, REPO, [SHA, "feature-x"], "ci")
    report = deletions.delete_tag(client, REPO, SHA)
    assert report.deleted == [SHA]
    assert client.list_tags(REPO) == ["feature-x"]
    assert client.get_manifest(REPO, "feature-x").digest == digest
    assert client.get_blob(REPO, client.get_manifest(REPO, "feature-x").config_digest())


def test_delete_tag_dry_run_changes_nothing(client: RegistryClient) -> None:
    push_image(client, REPO, ["keep-me"], "dry")
    report = deletions.delete_tag(client, REPO, "keep-me", dry_run=True)
    assert report.tags("would-delete") == ["keep-me"] and report.dry_run
    assert client.list_tags(REPO) == ["keep-me"]


def test_unknown_tag_is_already_gone(client: RegistryClient) -> None:
    push_image(client, REPO, ["other"], "x")
    report = deletions.delete_tag(client, REPO, "never-pushed")
    assert report.absent == ["never-pushed"] and report.ok
    assert client.list_tags(REPO) == ["other"]


def guarded_run(
    client: RegistryClient, candidates: dict[str, str], facts: Facts, dry_run: bool = False
) -> reports.CleanupReport:
    return deleting.carry_out(client, REPO, decide(candidates, facts), dry_run=dry_run)


def test_promote_equal_digests_changes_nothing(client: RegistryClient) -> None:
    digest = push_image(client, REPO, ["prod", f"prod-{SHA}"], "prod")
    assert "already points at" in promotion.move_tag(client, REPO, f"prod-{SHA}", "prod")
    assert sorted(client.list_tags(REPO)) == ["prod", f"prod-{SHA}"]
    assert client.head_digest(REPO, "prod") == digest


def test_releases_outside_the_kept_sets_are_deleted_by_tag_only(client: RegistryClient) -> None:
    """Promote, then delete releases that are neither among the newest 2, promoted, nor in use."""
    releases = {
        f"prod-{c * 40}": push_image(client, REPO, [f"prod-{c * 40}"], c, f"2024-05-0{i}T00:00:00Z")
        for i, c in enumerate("abcde", start=1)
    }
    newest = f"prod-{'e' * 40}"
    used = f"prod-{'a' * 40}"
    client.retag(REPO, f"prod-{'c' * 40}", "v1.2")  # a hand-made tag on a release
    assert promotion.move_tag(client, REPO, newest, "prod").startswith("promoted prod")
    tags = inventory.collect_tags(client, REPO, only=())
    cluster = ClusterView("sim", (Use(f"{client.registry}/{REPO}:{used}", "deployment/web (revision 1)"),))
    facts = Facts(client.registry, REPO, tags, (cluster,), keep_releases=2, branches=Branches())
    older = {tag: "an older release" for tag in releases if tag != newest}
    dry = guarded_run(client, older, facts, dry_run=True)
    assert dry.tags("would-delete") == [f"prod-{'b' * 40}", f"prod-{'c' * 40}"]
    report = guarded_run(client, older, facts)
    assert sorted(report.deleted) == [f"prod-{'b' * 40}", f"prod-{'c' * 40}"]
    assert dict((o.tag, o.reason) for o in report.outcomes if o.action == "kept") == {
        used: "in use by deployment/web (revision 1)",
        f"prod-{'d' * 40}": "one of the 2 newest releases (kept for rollback)",
    }
    assert sorted(client.list_tags(REPO)) == sorted(["prod", "v1.2", used, f"prod-{'d' * 40}", newest])
    assert client.head_digest(REPO, "v1.2") == releases[f"prod-{'c' * 40}"]  # shared image: tag deletion only
    assert client.head_digest(REPO, "prod") == releases[newest]


def test_placeholders_left_by_an_interrupted_run_are_finished_and_never_ranked(client: RegistryClient) -> None:
    for day in range(1, 6):
        push_image(client, REPO, [f"nightly.{day}"], f"n{day}", f"2024-05-0{day}T00:00:00Z")
    client.upload_blob(REPO, THROWAWAY_CONFIG)
    client.put_manifest(REPO, "nightly.8", throwaway_manifest("nightly.8"))  # an interrupted deletion
    client.put_manifest(REPO, "nightly.9", throwaway_manifest("nightly.9"))
    tags = inventory.collect_tags(client, REPO, created_for=lambda _tag: True)
    assert [t for t, i in tags.items() if i.placeholder] == ["nightly.8", "nightly.9"]
    plan = policy.plan_policy(REPO, list(tags.values()), CleanupPolicy(delete_regex="nightly.*", keep_newest=2), NOW)
    candidates = policy.policy_candidates(plan, tags)[0]
    report = guarded_run(client, candidates, Facts(client.registry, REPO, tags, None, branches=Branches()))
    assert sorted(report.deleted) == ["nightly.1", "nightly.2", "nightly.3", "nightly.8", "nightly.9"]
    assert sorted(client.list_tags(REPO)) == ["nightly.4", "nightly.5"]


def test_policy_on_a_real_registry(client: RegistryClient) -> None:
    for day in range(1, 6):
        push_image(client, REPO, [f"nightly.{day}"], f"b{day}", created=f"2024-05-0{day}T00:00:00.123456789Z")
    push_image(client, REPO, ["main", SHA], "main")
    push_image(client, REPO, ["gone-branch", OLD_SHA], "gone")
    push_image(client, REPO, ["v1.0"], "release")
    rules = CleanupPolicy(
        keep_regex=r"v\d.*",
        delete_regex=r"nightly\.\d+",
        keep_newest=2,
        older_than=timedelta(days=1),
        gone_branches=True,
    )
    tags = inventory.collect_tags(client, REPO, created_for=lambda _tag: True)
    plan = policy.plan_policy(REPO, list(tags.values()), rules, NOW, frozenset({"main"}))
    assert sorted(plan.to_delete) == sorted(["nightly.1", "nightly.2", "nightly.3", "gone-branch", OLD_SHA])
    facts = Facts(client.registry, REPO, tags, None, branches=Branches(frozenset({"main"})))
    report = guarded_run(client, policy.policy_candidates(plan, tags)[0], facts, dry_run=True)
    assert report.dry_run and len(client.list_tags(REPO)) == 10
    report = guarded_run(client, policy.policy_candidates(plan, tags)[0], facts)
    assert sorted(report.deleted) == sorted(plan.to_delete)
    assert sorted(client.list_tags(REPO)) == sorted(["nightly.4", "nightly.5", "main", SHA, "v1.0"])


def test_deletes_disabled_gives_one_clear_line_and_changes_nothing(tmp_path: object) -> None:
    from pathlib import Path

    from registry_helpers import require_registry

    require_registry()
    process = RegistryProcess(Path(str(tmp_path)) / "ro", delete_enabled=False).start()
    try:
        client = RegistryClient(process.address, options=RegistryOptions(scheme="http", retry=fast_retry()))
        digest = push_image(client, REPO, ["t1", "t2"], "ro")
        with pytest.raises(DeletesDisabled) as raised:
            deletions.delete_tag(client, REPO, "t1")
        message = str(raised.value)
        assert "\n" not in message and "storage.delete.enabled" in message and "405 UNSUPPORTED" in message
        with pytest.raises(DeletesDisabled):
            deletions.delete_tags(client, REPO, ["t1", "t2"])
        assert sorted(client.list_tags(REPO)) == ["t1", "t2"]
        assert client.head_digest(REPO, "t1") == digest
    finally:
        process.stop()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("127.0.0.1:5000/Group/App:tag", BadReference),
        ("127.0.0.1:5000/group/app:bad tag", BadReference),
        ("127.0.0.1:5000/group/app", BadReference),
        (f"127.0.0.1:5000/group/app@sha256:{'a' * 64}", BadReference),
        ("registry.example.com/group/app:tag", ReferenceOutsideRegistry),
    ],
)
def test_bad_references_are_one_line_and_delete_nothing(client: RegistryClient, text: str, error: type) -> None:
    push_image(client, REPO, ["tag"], "bad-input")
    with pytest.raises(error) as raised:
        parse_tag_reference(text.replace("127.0.0.1:5000", client.registry), client.registry)
    assert isinstance(raised.value, ConveyorError) and "\n" not in str(raised.value)
    assert client.list_tags(REPO) == ["tag"]


def test_unreachable_registry_is_one_line() -> None:
    client = RegistryClient(
        f"127.0.0.1:{free_port()}", options=RegistryOptions(scheme="http", retry=fast_retry(), sleep=lambda s: None)
    )
    with pytest.raises(RegistryUnreachable) as raised:
        deletions.delete_tag(client, REPO, "x")
    assert "\n" not in str(raised.value) and "cannot reach" in str(raised.value)


def test_promote_without_a_previous_prod_and_with_a_missing_release(client: RegistryClient) -> None:
    new = push_image(client, REPO, [f"prod-{SHA}"], "first")
    assert promotion.move_tag(client, REPO, f"prod-{SHA}", "prod").startswith("promoted prod")
    assert client.head_digest(REPO, "prod") == new
    with pytest.raises(ManifestNotFound, match="run inv build-prod first"):
        promotion.move_tag(client, REPO, f"prod-{OLD_SHA}", "prod")
    assert client.head_digest(REPO, "prod") == new
