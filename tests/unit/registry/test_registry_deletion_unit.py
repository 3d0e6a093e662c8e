"""Unit tests of tag deletion: OCI tag delete, the throwaway manifest, lost answers settled by reading the
state, the registry proof and the deletes probe before any change."""

from __future__ import annotations

import json

import pytest
import requests
from registry_fakes import DIGEST, HTML, FakeDistribution, TagDeletionRegistry, make_client, response

from conveyor.registry.errors import DeletesDisabled, NotARegistry, RegistryUnavailable
from conveyor.registry.manifests import OCI_MANIFEST, sha256_digest
from tests.support.factories import permit


def test_oci_tag_delete_when_the_registry_supports_it() -> None:
    client, session, _ = make_client(TagDeletionRegistry(response(202)))
    deletion = client.deleter.delete(permit("g/a", "t", DIGEST))
    assert (deletion.method, deletion.previous_digest) == ("oci-tag-delete", DIGEST)
    assert [c.method for c in session.calls] == ["HEAD", "GET", "DELETE", "DELETE"]  # re-read, /v2/, probe, tag
    client.deleter.delete(permit("g/a", "u", DIGEST))
    assert [c.method for c in session.calls[4:]] == ["HEAD", "DELETE"]  # 2 requests per tag once known


@pytest.mark.parametrize(
    "refusal",
    [
        response(400, {"errors": [{"code": "DIGEST_INVALID"}]}),  # distribution 2.8
        response(405, {"errors": [{"code": "UNSUPPORTED"}]}),
        response(400, {"errors": [{"code": "UNSUPPORTED"}]}),
    ],
)
def test_throwaway_manifest_when_tag_delete_is_unsupported(refusal: requests.Response) -> None:
    registry = TagDeletionRegistry(refusal)
    client, session, _ = make_client(registry)
    assert client.deleter.delete(permit("g/a", "t", DIGEST)).method == "throwaway-manifest"
    (pushed,) = registry.manifests.values()
    body = json.loads(pushed)
    assert body["mediaType"] == OCI_MANIFEST and body["layers"] == []
    assert body["annotations"]["org.conveyor.tag"] == "t"
    deleted = [c.path for c in session.calls if c.method == "DELETE"][-1]
    assert deleted == f"/v2/g/a/manifests/{sha256_digest(pushed)}"  # its OWN digest, never the tag's
    before = len(session.calls)
    client.deleter.delete(permit("g/a", "u", DIGEST))
    assert [c.method for c in session.calls[before:]] == ["HEAD", "PUT", "DELETE"]  # ≤ 3 requests per tag
    assert len(set(registry.manifests)) == 2  # each throwaway is unique


SHARED = "sha256:" + "5" * 64
NEW = "sha256:" + "9" * 64


@pytest.mark.parametrize(
    ("faults", "tag_delete", "method", "puts", "left"),
    [
        pytest.param({}, False, "throwaway-manifest", 1, {}, id="no-fault"),
        # the DELETE of the throwaway went through, its answer was lost: the tag is gone, nothing is redone
        pytest.param({"DELETE-digest": ["cut-after"]}, False, "throwaway-manifest", 1, {}, id="delete-cut-after"),
        pytest.param({"DELETE-digest": ["500-after"]}, False, "throwaway-manifest", 1, {}, id="delete-500-after"),
        # it never reached the registry: the tag still holds our throwaway, delete it again
        pytest.param({"DELETE-digest": ["cut-before"]}, False, "throwaway-manifest", 1, {}, id="delete-cut-before"),
        pytest.param({"DELETE-digest": ["500-before"]}, False, "throwaway-manifest", 1, {}, id="delete-500-before"),
        # distribution removed the revision but not the tag (500): push the throwaway again, delete it again
        pytest.param({"DELETE-digest": ["half-untag"]}, False, "throwaway-manifest", 2, {}, id="half-done-untag"),
        # the PUT went through and its answer was lost: the tag holds our throwaway, go on without a new PUT
        pytest.param({"PUT": ["cut-after"]}, False, "throwaway-manifest", 1, {}, id="put-cut-after"),
        pytest.param({"PUT": ["500-after"]}, False, "throwaway-manifest", 1, {}, id="put-500-after"),
        pytest.param({"PUT": ["500-before"]}, False, "throwaway-manifest", 2, {}, id="put-500-before"),
        # someone deleted the tag while our PUT was lost: never push it back
        pytest.param({"PUT": ["vanish"]}, False, "absent", 1, {}, id="tag-gone-meanwhile"),
        # the tag was pushed anew after our DELETE: it is someone else's image now, left alone
        pytest.param({"DELETE-digest": ["repushed"]}, False, "throwaway-manifest", 1, {"t": NEW}, id="repushed"),
        # a registry with OCI tag delete: its lost answer is read from the state, not taken for "unsupported"
        pytest.param({"DELETE-tag": ["cut-after"]}, True, "oci-tag-delete", 0, {}, id="oci-delete-cut-after"),
        pytest.param({"DELETE-tag": ["500-before"]}, True, "oci-tag-delete", 0, {}, id="oci-delete-500-before"),
    ],
)
def test_lost_answers_are_settled_by_reading_the_state(
    faults: dict[str, list[str]], tag_delete: bool, method: str, puts: int, left: dict[str, str]
) -> None:
    registry = FakeDistribution({"t": SHARED, "keep": SHARED}, faults, tag_delete)
    client, _, _ = make_client(registry)
    assert client.deleter.delete(permit("g/a", "t", SHARED)).method == method
    assert registry.tags == {"keep": SHARED} | left  # the shared digest and its other tag survive
    assert SHARED in registry.revisions and registry.revisions <= {SHARED, NEW}  # no throwaway left behind
    assert [entry.split()[0] for entry in registry.log].count("PUT") == puts, registry.log


def test_throwaway_deletion_that_keeps_failing_gives_up_at_the_deadline() -> None:
    registry = FakeDistribution({"t": SHARED}, {"DELETE-digest": ["500-before"] * 100})
    client, _, clock = make_client(registry, deadline=30.0)
    with pytest.raises(RegistryUnavailable) as raised:
        client.deleter.delete(permit("g/a", "t", SHARED))
    assert str(raised.value).startswith(
        "registry registry.test did not confirm deleting tag g/a:t within 30 s (7 rounds; last answer: 500 UNKNOWN): "
    )
    assert sum(clock.sleeps) < 30.0


@pytest.mark.parametrize(
    ("root", "message"),
    [
        pytest.param(response(200, {}), "", id="registry"),
        pytest.param(response(401, {"errors": [{"code": "UNAUTHORIZED"}]}), "", id="registry-asking-for-auth"),
        pytest.param(
            response(200, b"<html>welcome</html>", HTML | {"Docker-Distribution-API-Version": ""}),
            "registry.test is not a Docker registry API (no Docker-Distribution-API-Version header on /v2/): "
            "check the registry address (CI_REGISTRY) and scheme (CONVEYOR_REGISTRY_SCHEME)",
            id="web-server",
        ),
        pytest.param(
            response(404, b"<html>not found</html>", HTML),
            "registry.test is not a Docker registry API (/v2/ answered 404 and a text/html body): "
            "check the registry address (CI_REGISTRY) and that nothing but the registry answers on it",
            id="registry-header-but-404",
        ),
    ],
)
def test_the_registry_api_is_proved_once_before_any_delete(root: requests.Response, message: str) -> None:
    registry = FakeDistribution({"t": SHARED})
    client, session, _ = make_client(lambda call: root if call.path == "/v2/" else registry(call))
    if message:
        with pytest.raises(NotARegistry) as raised:
            client.deleter.delete(permit("g/a", "t", SHARED))
        assert str(raised.value) == message
        assert [c.method for c in session.calls] == ["HEAD", "GET"]  # the re-read, then /v2/: nothing changed
        assert registry.tags == {"t": SHARED}
        return
    assert client.deleter.delete(permit("g/a", "t", SHARED)).method == "throwaway-manifest"
    client.deleter.check_deletes_allowed("g/b")
    assert [c.path for c in session.calls].count("/v2/") == 1  # once per client, without credentials
    assert registry.tags == {}


def test_deletes_disabled_stops_before_any_change() -> None:
    registry = TagDeletionRegistry(response(405), probe=response(405, {"errors": [{"code": "UNSUPPORTED"}]}))
    client, session, _ = make_client(registry)
    with pytest.raises(DeletesDisabled) as raised:
        client.deleter.delete(permit("g/a", "t", DIGEST))
    assert str(raised.value) == (
        "registry registry.test refused deletes (405 UNSUPPORTED): enable storage.delete.enabled in the registry config"
    )
    assert not [c for c in session.calls if c.method in ("PUT", "POST")]


def test_missing_tag_is_absent_without_changes() -> None:
    client, session, _ = make_client(lambda call: response(404))
    assert client.deleter.delete(permit("g/a", "gone")).method == "absent"
    assert [c.method for c in session.calls] == ["HEAD"]


def test_a_tag_re_pushed_since_it_was_judged_is_left_alone() -> None:
    registry = FakeDistribution({"t": NEW, "keep": SHARED})
    client, _, _ = make_client(registry)
    moved = client.deleter.delete(permit("g/a", "t", SHARED))  # judged at SHARED, now NEW
    assert (moved.method, moved.previous_digest) == ("moved", NEW)
    assert registry.tags == {"t": NEW, "keep": SHARED} and not [e for e in registry.log if e.startswith("PUT")]
