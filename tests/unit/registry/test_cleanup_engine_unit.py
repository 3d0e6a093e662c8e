"""Unit tests of the cleanup engine's execution against a fake registry (distribution 2.8's behaviour)."""

from __future__ import annotations

from registry_fakes import Call, make_client, response

from conveyor import cleanup
from conveyor.registry.manifests import sha256_digest


class Distribution28:
    """Tags → digests; tag DELETE answers 400 DIGEST_INVALID; digest DELETE removes the tags on it."""

    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = dict(tags)
        self.order: list[str] = []

    def __call__(self, call: Call) -> object:
        reference = call.path.rsplit("/", 1)[-1]
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
    report = cleanup.delete_tags(client, "g/a", [f"t{i}" for i in range(6)], workers=3)
    assert report.deleted == [f"t{i}" for i in range(6)]
    assert registry.tags == {"keep": "sha256:shared"}  # the shared digest and its other tag survive
    assert registry.order == ["PUT"] * 6 + ["DELETE"] * 6  # every throwaway PUT, then every DELETE


def test_dry_run_touches_nothing() -> None:
    registry = Distribution28({"a": "sha256:1"})
    client, session, _ = make_client(registry)
    assert cleanup.delete_tags(client, "g/a", ["a"], dry_run=True).tags("would-delete") == ["a"]
    assert session.calls == []
    assert cleanup.delete_tag(client, "g/a", "a", dry_run=True).tags("would-delete") == ["a"]
    assert [c.method for c in session.calls] == ["HEAD"]


def test_old_prod_keeps_an_image_a_release_tag_uses() -> None:
    registry = Distribution28(
        {"prod": "sha256:old", "prod-old": "sha256:old", "v1.2": "sha256:old", "prod-new": "sha256:new"}
    )

    def handler(call: Call) -> object:
        if call.method == "GET" and "/manifests/" in call.path:
            return response(200, b'{"schemaVersion":2}', {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        if call.method == "PUT" and call.path.endswith("/prod"):
            registry.tags["prod"] = "sha256:new"
            return response(201, b"", {"Docker-Content-Digest": sha256_digest(b'{"schemaVersion":2}')})
        return registry(call)

    client, _, _ = make_client(handler)
    report = cleanup.promote_and_delete_old_prod(client, "g/a", "prod-new")
    assert report.kept == ["prod-old"] and report.deleted == []
    assert "still used by v1.2" in report.outcomes[0].reason
    assert registry.tags["v1.2"] == "sha256:old" and registry.tags["prod-old"] == "sha256:old"


def test_ci_image_never_deletes_the_branch_tag_itself() -> None:
    registry = Distribution28({"main": "sha256:1"})
    client, session, _ = make_client(registry)
    report = cleanup.cleanup_ci_image(client, "g/a", "main", "main")
    assert report.kept == ["main"] and session.calls == []
