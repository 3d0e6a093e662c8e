"""The client and the cleanup engine against a real registry (distribution 2.8) without auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from registry_helpers import fast_retry, push_image

from conveyor import cleanup
from conveyor.errors import BadReference, ConveyorError
from conveyor.registry import RegistryClient
from conveyor.registry.errors import DeletesDisabled, ManifestNotFound, ReferenceOutsideRegistry, RegistryUnreachable
from conveyor.registry.manifests import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, Manifest
from tests.support.registry import RegistryProcess, free_port

pytestmark = pytest.mark.integration
REPO = "group/app"
SHA = "0123456789abcdef0123456789abcdef01234567"
OLD_SHA = "fedcba9876543210fedcba9876543210fedcba98"


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
    assert client.image_created(REPO, "multi") == datetime(2024, 1, 1, tzinfo=UTC)


def test_tags_are_paginated(client: RegistryClient) -> None:
    tags = [f"t{i:02d}" for i in range(23)]
    push_image(client, REPO, tags, "many")
    assert sorted(client.list_tags(REPO, page_size=5)) == tags


def test_tag_delete_on_registry_2_8_falls_back_to_a_throwaway_manifest(client: RegistryClient) -> None:
    digest = push_image(client, REPO, ["x", "y"], "shared")
    deletion = client.delete_tag(REPO, "x")
    assert (deletion.method, deletion.previous_digest) == ("throwaway-manifest", digest)
    assert client.list_tags(REPO) == ["y"]
    assert client.head_digest(REPO, "y") == digest


def test_ci_image_commit_tag_deleted_branch_tag_stays_pullable(client: RegistryClient) -> None:
    digest = push_image(client, REPO, [SHA, "feature-x"], "ci")
    report = cleanup.cleanup_ci_image(client, REPO, SHA, "feature-x")
    assert report.deleted == [SHA]
    assert client.list_tags(REPO) == ["feature-x"]
    assert client.get_manifest(REPO, "feature-x").digest == digest
    assert client.get_blob(REPO, client.get_manifest(REPO, "feature-x").config_digest())
    assert any("still points at" in note for note in report.notes)
    assert any("garbage collection" in note for note in report.notes)


def test_delete_tag_dry_run_changes_nothing(client: RegistryClient) -> None:
    push_image(client, REPO, ["keep-me"], "dry")
    report = cleanup.delete_tag(client, REPO, "keep-me", dry_run=True)
    assert report.tags("would-delete") == ["keep-me"] and report.dry_run
    assert client.list_tags(REPO) == ["keep-me"]


def test_unknown_tag_is_already_gone(client: RegistryClient) -> None:
    push_image(client, REPO, ["other"], "x")
    report = cleanup.delete_tag(client, REPO, "never-pushed")
    assert report.absent == ["never-pushed"] and report.ok
    assert client.list_tags(REPO) == ["other"]


def test_old_prod_equal_digests_deletes_nothing(client: RegistryClient) -> None:
    digest = push_image(client, REPO, ["prod", f"prod-{SHA}"], "prod")
    report = cleanup.promote_and_delete_old_prod(client, REPO, f"prod-{SHA}")
    assert report.outcomes == ()
    assert "nothing to promote or delete" in report.notes[0]
    assert sorted(client.list_tags(REPO)) == ["prod", f"prod-{SHA}"]
    assert client.head_digest(REPO, "prod") == digest


def test_old_prod_promoted_and_deleted(client: RegistryClient) -> None:
    old = push_image(client, REPO, ["prod", f"prod-{OLD_SHA}"], "old")
    new = push_image(client, REPO, [f"prod-{SHA}"], "new")
    report = cleanup.promote_and_delete_old_prod(client, REPO, f"prod-{SHA}")
    assert report.deleted == [f"prod-{OLD_SHA}"]
    assert sorted(client.list_tags(REPO)) == ["prod", f"prod-{SHA}"]
    assert client.head_digest(REPO, "prod") == new
    assert client.head_digest(REPO, old) is None  # the old manifest itself is gone
    assert any(f"previous prod image {old} deleted" in note for note in report.notes)


def test_old_prod_kept_when_a_release_tag_uses_it(client: RegistryClient) -> None:
    old = push_image(client, REPO, ["prod", f"prod-{OLD_SHA}", "v1.2"], "old")
    new = push_image(client, REPO, [f"prod-{SHA}"], "new")
    report = cleanup.promote_and_delete_old_prod(client, REPO, f"prod-{SHA}")
    assert report.deleted == [] and report.kept == [f"prod-{OLD_SHA}"]
    assert any("still used by v1.2" in line for line in report.lines())
    assert sorted(client.list_tags(REPO)) == sorted(["prod", f"prod-{OLD_SHA}", f"prod-{SHA}", "v1.2"])
    assert client.head_digest(REPO, "v1.2") == old
    assert client.head_digest(REPO, "prod") == new


def test_old_prod_dry_run_changes_nothing(client: RegistryClient) -> None:
    old = push_image(client, REPO, ["prod", f"prod-{OLD_SHA}"], "old")
    push_image(client, REPO, [f"prod-{SHA}"], "new")
    report = cleanup.promote_and_delete_old_prod(client, REPO, f"prod-{SHA}", dry_run=True)
    assert report.tags("would-delete") == [f"prod-{OLD_SHA}"]
    assert client.head_digest(REPO, "prod") == old
    assert len(client.list_tags(REPO)) == 3


def test_policy_on_a_real_registry(client: RegistryClient) -> None:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    for day in range(1, 6):
        push_image(client, REPO, [f"nightly.{day}"], f"b{day}", created=f"2024-05-0{day}T00:00:00.123456789Z")
    push_image(client, REPO, ["main", SHA], "main")
    push_image(client, REPO, ["gone-branch", OLD_SHA], "gone")
    push_image(client, REPO, ["v1.0"], "release")
    policy = cleanup.Policy(
        keep_regex=r"v\d.*",
        delete_regex=r"nightly\.\d+",
        keep_newest=2,
        older_than=timedelta(days=1),
        live_branches=frozenset({"main"}),
    )
    plan, report = cleanup.cleanup_policy(client, REPO, policy, now=now)
    assert sorted(plan.to_delete) == sorted(["nightly.1", "nightly.2", "nightly.3", "gone-branch", OLD_SHA])
    assert report.dry_run and len(client.list_tags(REPO)) == 10  # dry run by default
    plan, report = cleanup.cleanup_policy(client, REPO, policy, now=now, dry_run=False)
    assert sorted(report.deleted) == sorted(plan.to_delete)
    assert sorted(client.list_tags(REPO)) == sorted(["nightly.4", "nightly.5", "main", SHA, "v1.0"])


def test_deletes_disabled_gives_one_clear_line_and_changes_nothing(tmp_path: object) -> None:
    from pathlib import Path

    from registry_helpers import require_registry

    require_registry()
    process = RegistryProcess(Path(str(tmp_path)) / "ro", delete_enabled=False).start()
    try:
        client = RegistryClient(process.address, scheme="http", retry=fast_retry())
        digest = push_image(client, REPO, ["t1", "t2"], "ro")
        with pytest.raises(DeletesDisabled) as raised:
            cleanup.delete_tag(client, REPO, "t1")
        message = str(raised.value)
        assert "\n" not in message and "storage.delete.enabled" in message and "405 UNSUPPORTED" in message
        with pytest.raises(DeletesDisabled):
            cleanup.delete_tags(client, REPO, ["t1", "t2"])
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
        cleanup.parse_target(text.replace("127.0.0.1:5000", client.registry), client.registry)
    assert isinstance(raised.value, ConveyorError) and "\n" not in str(raised.value)
    assert client.list_tags(REPO) == ["tag"]


def test_unreachable_registry_is_one_line() -> None:
    client = RegistryClient(f"127.0.0.1:{free_port()}", scheme="http", retry=fast_retry(), sleep=lambda s: None)
    with pytest.raises(RegistryUnreachable) as raised:
        cleanup.delete_tag(client, REPO, "x")
    assert "\n" not in str(raised.value) and "cannot reach" in str(raised.value)


def test_old_prod_without_a_previous_prod_only_promotes(client: RegistryClient) -> None:
    new = push_image(client, REPO, [f"prod-{SHA}"], "first")
    report = cleanup.promote_and_delete_old_prod(client, REPO, f"prod-{SHA}")
    assert report.outcomes == () and any("no previous prod image" in note for note in report.notes)
    assert client.head_digest(REPO, "prod") == new


def test_old_prod_with_a_missing_new_image_is_one_line(client: RegistryClient) -> None:
    old = push_image(client, REPO, ["prod"], "old")
    with pytest.raises(ManifestNotFound, match="run build-prod first"):
        cleanup.promote_and_delete_old_prod(client, REPO, f"prod-{SHA}")
    assert client.head_digest(REPO, "prod") == old
