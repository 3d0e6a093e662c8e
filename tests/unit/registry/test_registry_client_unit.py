"""Unit tests: retries and Retry-After, pagination, manifests, tag deletion fallbacks, GitLab's tags API."""

from __future__ import annotations

import json

import pytest
import requests
from registry_fakes import Answer, Call, Handler, make_client, response

from conveyor.registry import GitLabTagsApi, RetryPolicy
from conveyor.registry.errors import (
    DeletesDisabled,
    GitLabApiError,
    ManifestNotFound,
    RegistryUnavailable,
    RegistryUnreachable,
)
from conveyor.registry.manifests import ACCEPT, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest

DIGEST = "sha256:" + "a" * 64


def scripted(*answers: Answer) -> Handler:
    queue = list(answers)

    def handler(call: Call) -> Answer:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


def test_retries_5xx_with_exponential_backoff() -> None:
    client, session, clock = make_client(scripted(response(503), response(502), response(200, {"tags": ["a"]})))
    assert client.list_tags("g/a") == ["a"]
    assert clock.sleeps == [0.5, 1.0] and len(session.calls) == 3


def test_retry_after_is_honoured_and_bounded() -> None:
    client, _, clock = make_client(
        scripted(
            response(429, b"", {"Retry-After": "3"}), response(429, b"", {"Retry-After": "120"}), response(200, {})
        )
    )
    client.list_tags("g/a")
    assert clock.sleeps == [3.0, 8.0]  # 120 s is capped by RetryPolicy.max_delay


def test_connection_errors_are_retried_then_reported_in_one_line() -> None:
    client, session, clock = make_client(lambda call: requests.ConnectionError("refused"))
    with pytest.raises(RegistryUnreachable) as raised:
        client.ping()
    assert len(session.calls) == 4 and clock.sleeps == [0.5, 1.0, 2.0]
    assert str(raised.value) == (
        "cannot reach registry.test (ConnectionError after 4 attempts): "
        "check the registry address (CI_REGISTRY) and that it is running"
    )


def test_persistent_5xx_gives_up() -> None:
    client, session, _ = make_client(
        lambda call: response(500, {"errors": [{"code": "UNKNOWN"}]}), retry=RetryPolicy(attempts=3, base_delay=0)
    )
    with pytest.raises(RegistryUnavailable, match=r"kept failing \(500 UNKNOWN\) after 3 attempts"):
        client.list_tags("g/a")
    assert len(session.calls) == 3


def test_tags_follow_link_pagination() -> None:
    pages = {
        "": response(200, {"tags": ["a", "b"]}, {"Link": '</v2/g/a/tags/list?last=b&n=2>; rel="next"'}),
        "b": response(
            200, {"tags": ["c", "d"]}, {"Link": '<http://registry.test/v2/g/a/tags/list?last=d&n=2>; rel="next"'}
        ),
        "d": response(200, {"tags": ["e"]}),
    }
    client, session, _ = make_client(lambda call: pages[call.query.get("last", "")])
    assert client.list_tags("g/a", page_size=2) == ["a", "b", "c", "d", "e"]
    assert [call.query.get("last", "") for call in session.calls] == ["", "b", "d"]


def test_unknown_repository_has_no_tags_and_null_tags_is_empty() -> None:
    client, _, _ = make_client(lambda call: response(404, {"errors": [{"code": "NAME_UNKNOWN"}]}))
    assert client.list_tags("g/a") == []
    client, _, _ = make_client(lambda call: response(200, {"name": "g/a", "tags": None}))
    assert client.list_tags("g/a") == []


def test_head_and_get_manifest_send_every_accept_type() -> None:
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": DIGEST}]}).encode()
    digest = sha256_digest(raw)

    def handler(call: Call) -> Answer:
        assert call.headers["Accept"] == ACCEPT
        if call.path.endswith("/missing"):
            return response(404)
        return response(
            200, raw if call.method == "GET" else b"", {"Content-Type": OCI_INDEX, "Docker-Content-Digest": digest}
        )

    client, _, _ = make_client(handler)
    for media_type in (
        DOCKER_MANIFEST,
        OCI_MANIFEST,
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ):
        assert media_type in ACCEPT
    assert client.head_digest("g/a", "t") == digest
    assert client.head_digest("g/a", "missing") is None
    manifest = client.get_manifest("g/a", "t")
    assert (manifest.media_type, manifest.digest, manifest.is_index, manifest.child_digests()) == (
        OCI_INDEX,
        digest,
        True,
        [DIGEST],
    )
    with pytest.raises(ManifestNotFound):
        client.get_manifest("g/a", "missing")


def test_retag_puts_the_same_bytes_under_the_new_tag() -> None:
    manifest = Manifest.from_bytes(b'{"schemaVersion":2,"mediaType":"%s"}' % DOCKER_MANIFEST.encode())

    def handler(call: Call) -> Answer:
        if call.method == "GET":
            return response(200, manifest.raw, {"Content-Type": DOCKER_MANIFEST})
        assert call.path == "/v2/g/a/manifests/prod" and call.data == manifest.raw
        assert call.headers["Content-Type"] == DOCKER_MANIFEST
        return response(201, b"", {"Docker-Content-Digest": manifest.digest})

    client, session, _ = make_client(handler)
    assert client.retag("g/a", "prod-abc", "prod") == manifest.digest
    assert [call.method for call in session.calls] == ["GET", "PUT"]


class Registry:
    """A fake registry for tag deletion: `tag_delete` is the answer to DELETE by tag."""

    def __init__(self, tag_delete: Answer, probe: Answer | None = None) -> None:
        self.tag_delete = tag_delete
        self.probe = probe if probe is not None else response(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        self.manifests: dict[str, bytes] = {}

    def __call__(self, call: Call) -> Answer:
        reference = call.path.rsplit("/", 1)[-1]
        if call.method == "HEAD" and "/manifests/" in call.path:
            return response(200, b"", {"Docker-Content-Digest": DIGEST})
        if call.method == "HEAD":
            return response(404)
        if call.method == "POST":
            return response(202, b"", {"Location": "/v2/g/a/blobs/uploads/u1?_state=s"})
        if call.method == "PUT" and "/blobs/" in call.path:
            return response(201)
        if call.method == "PUT":
            self.manifests[sha256_digest(call.data or b"")] = call.data or b""
            return response(201, b"", {"Docker-Content-Digest": sha256_digest(call.data or b"")})
        if call.method == "DELETE" and reference == "sha256:" + "0" * 64:
            return self.probe
        if call.method == "DELETE" and reference.startswith("sha256:"):
            return response(202) if reference in self.manifests else response(404)
        if call.method == "DELETE":
            return self.tag_delete
        raise AssertionError(call)


def test_oci_tag_delete_when_the_registry_supports_it() -> None:
    client, session, _ = make_client(Registry(response(202)))
    deletion = client.delete_tag("g/a", "t")
    assert (deletion.method, deletion.previous_digest) == ("oci-tag-delete", DIGEST)
    assert [c.method for c in session.calls] == ["HEAD", "DELETE", "DELETE"]
    client.delete_tag("g/a", "u", look_up=False)
    assert len(session.calls) == 4  # one request per tag once known


@pytest.mark.parametrize(
    "refusal",
    [
        response(400, {"errors": [{"code": "DIGEST_INVALID"}]}),  # distribution 2.8
        response(405, {"errors": [{"code": "UNSUPPORTED"}]}),
        response(400, {"errors": [{"code": "UNSUPPORTED"}]}),
    ],
)
def test_throwaway_manifest_when_tag_delete_is_unsupported(refusal: requests.Response) -> None:
    registry = Registry(refusal)
    client, session, _ = make_client(registry)
    assert client.delete_tag("g/a", "t").method == "throwaway-manifest"
    (pushed,) = registry.manifests.values()
    body = json.loads(pushed)
    assert body["mediaType"] == OCI_MANIFEST and body["layers"] == []
    assert body["annotations"]["org.conveyor.tag"] == "t"
    deleted = [c.path for c in session.calls if c.method == "DELETE"][-1]
    assert deleted == f"/v2/g/a/manifests/{sha256_digest(pushed)}"  # its OWN digest, never the tag's
    before = len(session.calls)
    client.delete_tag("g/a", "u", look_up=False)
    assert [c.method for c in session.calls[before:]] == ["PUT", "DELETE"]  # ≤ 2 requests per tag
    assert len(set(registry.manifests)) == 2  # each throwaway is unique


def test_throwaway_round_repeated_until_a_202() -> None:
    registry = Registry(response(400, {"errors": [{"code": "DIGEST_INVALID"}]}))
    deletes = {"n": 0}

    def flaky(call: Call) -> Answer:
        if call.method == "DELETE" and call.path.rsplit("/", 1)[-1].startswith("sha256:") and "0" * 64 not in call.path:
            deletes["n"] += 1
            if deletes["n"] == 1:
                return response(404)  # e.g. a retried DELETE after the registry deleted but failed to untag
        return registry(call)

    client, session, _ = make_client(flaky)
    client.delete_tag("g/a", "t", look_up=False)
    assert [c.method for c in session.calls if "/manifests/" in c.path].count("PUT") == 2


def test_deletes_disabled_stops_before_any_change() -> None:
    registry = Registry(response(405), probe=response(405, {"errors": [{"code": "UNSUPPORTED"}]}))
    client, session, _ = make_client(registry)
    with pytest.raises(DeletesDisabled) as raised:
        client.delete_tag("g/a", "t")
    assert str(raised.value) == (
        "registry registry.test refused deletes (405 UNSUPPORTED): enable storage.delete.enabled in the registry config"
    )
    assert not [c for c in session.calls if c.method in ("PUT", "POST")]


def test_missing_tag_is_absent_without_changes() -> None:
    client, session, _ = make_client(lambda call: response(404))
    assert client.delete_tag("g/a", "gone").method == "absent"
    assert [c.method for c in session.calls] == ["HEAD"]


# ---- GitLab's tags API: a FAKE GitLab (no GitLab here); it checks the requests Conveyor sends ----------


def gitlab_fake(tag_status: int = 200) -> Handler:
    def handler(call: Call) -> Answer:
        if call.url.startswith("https://gitlab.test/api/v4/"):
            assert call.headers["PRIVATE-TOKEN"] == "glpat-secret-123"
            assert "Authorization" not in call.headers
            if call.method == "GET":
                assert call.path == "/api/v4/projects/group%2Fapp/registry/repositories"
                return response(200, [{"id": 7, "path": "group/app/other"}, {"id": 9, "path": "group/app"}])
            assert call.path == "/api/v4/projects/group%2Fapp/registry/repositories/9/tags/feature-1"
            return response(tag_status, {"message": "x"})
        return Registry(response(400, {"errors": [{"code": "DIGEST_INVALID"}]}))(call)

    return handler


def test_gitlab_tags_api_used_when_configured_and_tag_delete_unsupported() -> None:
    api = GitLabTagsApi("https://gitlab.test/api/v4", "group/app", "glpat-secret-123")
    client, session, _ = make_client(gitlab_fake(), gitlab=api)
    assert client.delete_tag("group/app", "feature-1").method == "gitlab-api"
    assert not [c for c in session.calls if c.method == "PUT"]  # no throwaway manifest
    assert "glpat-secret-123" not in repr(api)


def test_gitlab_tags_api_refusal_is_one_line_without_the_token() -> None:
    api = GitLabTagsApi("https://gitlab.test/api/v4", "group/app", "glpat-secret-123")
    client, _, _ = make_client(gitlab_fake(403), gitlab=api)
    with pytest.raises(GitLabApiError) as raised:
        client.delete_tag("group/app", "feature-1")
    assert "GitLab API answered 403" in str(raised.value) and "glpat" not in str(raised.value)


def test_retry_after_as_an_http_date() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    client, _, clock = make_client(scripted(response(503, b"", {"Retry-After": when}), response(200, {})))
    client.list_tags("g/a")
    assert len(clock.sleeps) == 1 and 7.0 <= clock.sleeps[0] <= 8.0  # ~30 s, capped at max_delay 8 s


def test_a_request_that_cannot_be_sent_is_not_retried() -> None:
    client, session, _ = make_client(lambda call: requests.exceptions.InvalidURL("bad"))
    with pytest.raises(RegistryUnreachable, match=r"cannot send GET to registry\.test \(InvalidURL\)"):
        client.ping()
    assert len(session.calls) == 1
