"""Unit tests of the cleanup engine's execution against a fake registry (distribution 2.8's behaviour)."""

from __future__ import annotations

import pytest
from registry_fakes import PROBE, Answer, Call, FakeDistribution, Handler, make_client, response

from conveyor.guard.decision import GuardVerdict
from conveyor.registry import promotion
from conveyor.registry.manifests import sha256_digest
from conveyor.stages import deleting
from tests.support import deletions
from tests.support.factories import permit


class Distribution28:
    """Tags → digests; tag DELETE answers 400 DIGEST_INVALID; digest DELETE removes the tags on it."""

    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = dict(tags)
        self.order: list[str] = []

    def __call__(self, call: Call) -> Answer:
        reference = call.path.rsplit("/", 1)[-1]
        if call.path == "/v2/":
            return response(200, {})
        if "/blobs/" in call.path:
            return response(200) if call.method == "HEAD" else response(201)
        if call.method == "HEAD":
            digest = self.tags.get(reference)
            return response(200, b"", {"Docker-Content-Digest": digest}) if digest else response(404)
        if call.method == "GET" and call.path.endswith("/tags/list"):
            return response(200, {"tags": sorted(self.tags)})
        if call.method == "PUT":
            self.order.append("PUT")
            self.tags[reference] = sha256_digest(call.data or b"")
            return response(201, b"", {"Docker-Content-Digest": self.tags[reference]})
        if call.method == "DELETE" and reference.startswith("sha256:"):
            if reference == "sha256:" + "0" * 64:
                return response(404)
            self.order.append("DELETE")
            doomed = [tag for tag, digest in self.tags.items() if digest == reference]
            for tag in doomed:
                del self.tags[tag]
            return response(202) if doomed else response(404)
        if call.method == "DELETE":
            return response(400, {"errors": [{"code": "DIGEST_INVALID"}]})
        raise AssertionError(call)


def test_delete_tags_puts_every_throwaway_before_deleting_any() -> None:
    registry = Distribution28({f"t{i}": "sha256:shared" for i in range(6)} | {"keep": "sha256:shared"})
    client, _, _ = make_client(registry)
    report = deletions.delete_tags(client, "g/a", [f"t{i}" for i in range(6)], workers=3)
    assert report.deleted == [f"t{i}" for i in range(6)]
    assert registry.tags == {"keep": "sha256:shared"}  # the shared digest and its other tag survive
    assert registry.order == ["PUT"] * 6 + ["DELETE"] * 6  # every throwaway PUT, then every DELETE


def test_dry_run_touches_nothing() -> None:
    registry = Distribution28({"a": "sha256:1"})
    client, session, _ = make_client(registry)
    assert deletions.delete_tags(client, "g/a", ["a"], dry_run=True).tags("would-delete") == ["a"]
    assert session.calls == []
    assert deletions.delete_tag(client, "g/a", "a", dry_run=True).tags("would-delete") == ["a"]
    assert [c.method for c in session.calls] == ["HEAD"]


def test_promote_copies_the_manifest_server_side_and_says_so() -> None:
    body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
    registry = Distribution28({"prod": "sha256:old", "prod-new": sha256_digest(body)})

    def handler(call: Call) -> Answer:
        if call.method == "GET" and "/manifests/" in call.path:
            return response(200, body, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        return registry(call)

    client, _, _ = make_client(handler)
    assert promotion.move_tag(client, "g/a", "prod-new", "prod", dry_run=True).startswith("would promote prod")
    assert registry.tags["prod"] == "sha256:old"
    assert promotion.move_tag(client, "g/a", "prod-new", "prod").startswith("promoted prod to prod-new")
    assert registry.tags["prod"] == sha256_digest(body)
    assert "already points at" in promotion.move_tag(client, "g/a", "prod-new", "prod")


def test_a_promotion_tag_moved_since_the_run_looked_is_left_alone() -> None:
    registry = Distribution28({"prod": "sha256:theirs", "prod-new": "sha256:new"})
    client, session, _ = make_client(registry)
    said = promotion.move_tag(client, "g/a", "prod-new", "prod", seen=promotion.Seen("sha256:old"))
    assert said == "left prod alone: it moved since this run looked (was sha256:old, now sha256:theirs)"
    assert registry.tags["prod"] == "sha256:theirs" and not [c for c in session.calls if c.method == "PUT"]


def test_apply_verdicts_deletes_only_what_the_guard_let_go() -> None:
    registry = Distribution28({"a": "sha256:1", "b": "sha256:1", "c": "sha256:2"})
    client, _, _ = make_client(registry)
    verdicts = [
        GuardVerdict("a", "delete", "asked for", "sha256:1", permit("g/a", "a", "sha256:1", "asked for")),
        GuardVerdict("b", "keep", "in use by deployment/web (namespace shop, revision 7)", "sha256:1"),
        GuardVerdict("gone", "absent", "no such tag (already gone)"),
    ]
    report = deleting.carry_out(client, "g/a", verdicts)
    assert report.deleted == ["a"] and report.kept == ["b"] and report.tags("absent") == ["gone"]
    assert registry.tags == {"b": "sha256:1", "c": "sha256:2"}
    assert "kept g/a:b (sha256:1): in use by deployment/web (namespace shop, revision 7)" in report.lines()


OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "9" * 64


def pushing_at(registry: FakeDistribution, when: str, tag: str) -> Handler:
    """The registry, with someone pushing `tag` anew (digest NEW) right before the first request `when`
    ("HEAD t", "DELETE-tag t", "DELETE-digest") reaches it: a pipeline re-pushing a branch tag mid-cleanup."""
    pending = [when]

    def handler(call: Call) -> Answer:
        reference = call.path.rsplit("/", 1)[-1]
        kind = (
            call.method
            if call.method != "DELETE"
            else "DELETE-digest"
            if reference.startswith("sha256:")
            else ("DELETE-tag")
        )
        probe = reference == PROBE  # check_deletes_allowed's probe is no deletion
        if pending and not probe and "/manifests/" in call.path and f"{kind} {reference}".startswith(pending[0]):
            pending.clear()
            registry.tags[tag] = NEW
            registry.revisions.add(NEW)
        return registry(call)

    return handler


def verdict_for(tag: str, digest: str) -> GuardVerdict:
    return GuardVerdict(tag, "delete", "a branch tag", digest, permit("g/a", tag, digest, "a branch tag"))


@pytest.mark.parametrize("tag_delete", [True, False], ids=["tag-delete", "throwaway"])
def test_a_push_before_the_re_read_is_kept(tag_delete: bool) -> None:
    registry = FakeDistribution({"feature": OLD, "other": OLD}, tag_delete=tag_delete)
    client, _, _ = make_client(pushing_at(registry, "HEAD feature", "feature"))
    report = deleting.carry_out(client, "g/a", [verdict_for("feature", OLD)])
    assert report.kept == ["feature"] and report.deleted == []
    (line,) = [line for line in report.lines() if "feature" in line]
    assert f"re-pushed since the plan (was {OLD}, now {NEW})" in line
    assert registry.tags == {"feature": NEW, "other": OLD}  # the new image keeps its tag


@pytest.mark.parametrize("tag_delete", [True, False], ids=["tag-delete", "throwaway"])
def test_a_push_after_the_deletion_survives(tag_delete: bool) -> None:
    registry = FakeDistribution({"feature": OLD, "other": OLD}, tag_delete=tag_delete)
    client, _, _ = make_client(registry)
    report = deleting.carry_out(client, "g/a", [verdict_for("feature", OLD)])
    assert report.deleted == ["feature"]
    registry.tags["feature"] = NEW  # the next pipeline pushes the branch again
    registry.revisions.add(NEW)
    again = deleting.carry_out(client, "g/a", [verdict_for("feature", OLD)])  # a retry of the same plan
    assert again.kept == ["feature"] and registry.tags == {"feature": NEW, "other": OLD}


def test_a_push_between_the_throwaway_and_its_delete_survives() -> None:
    registry = FakeDistribution({"feature": OLD, "other": OLD})
    client, _, _ = make_client(pushing_at(registry, "DELETE-digest", "feature"))
    report = deleting.carry_out(client, "g/a", [verdict_for("feature", OLD)])
    assert report.deleted == ["feature"]  # our throwaway is gone; the tag is someone else's image now
    assert registry.tags == {"feature": NEW, "other": OLD}
