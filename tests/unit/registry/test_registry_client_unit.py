"""Unit tests: retries and Retry-After, pagination, manifests, tag deletion fallbacks, GitLab's tags API."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests
from registry_fakes import Answer, Call, FakeDistribution, Handler, make_client, response

from conveyor.registry import GitLabTagsApi, RegistryClient
from conveyor.registry.errors import (
    DeletesDisabled,
    GitLabApiError,
    ManifestNotFound,
    NotARegistry,
    RegistryProtocolError,
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


REFUSED = requests.ConnectionError(OSError("connect failed"), ConnectionRefusedError(111, "Connection refused"))


@pytest.mark.parametrize(
    ("answer", "error", "message", "sleeps"),
    [
        pytest.param(
            REFUSED,
            RegistryUnreachable,
            "cannot reach registry.test: connection refused (GET /v2/g/a/tags/list, 3 attempts in 1.5 s): "
            "check the registry address (CI_REGISTRY) and that it is running",
            [0.5, 1.0],  # a refused connection is tried again twice, not until the deadline
            id="refused",
        ),
        pytest.param(
            requests.ConnectTimeout("connect timed out"),
            RegistryUnreachable,
            "cannot reach registry.test: no connection (GET /v2/g/a/tags/list, 6 attempts in 15.5 s): "
            "check the registry address (CI_REGISTRY) and that it is running",
            [0.5, 1.0, 2.0, 4.0, 8.0],  # the next wait (8 s) would pass the 20 s deadline: give up now
            id="connect-timeout",
        ),
        pytest.param(
            requests.ReadTimeout("read timed out"),
            RegistryUnreachable,
            "registry registry.test did not answer GET /v2/g/a/tags/list (read timeout; 6 attempts in 15.5 s): "
            "check that the registry is up and reachable, or raise CONVEYOR_REGISTRY_TIMEOUT",
            [0.5, 1.0, 2.0, 4.0, 8.0],
            id="read-timeout",
        ),
        pytest.param(
            response(503, b"<html>busy</html>", {"Content-Type": "text/html"}),
            RegistryUnavailable,
            "registry registry.test kept answering GET /v2/g/a/tags/list with 503 and a text/html body (6 attempts "
            "in 15.5 s): retry later, or check the registry's health and logs (CONVEYOR_REGISTRY_TIMEOUT sets how long "
            "to try)",
            [0.5, 1.0, 2.0, 4.0, 8.0],
            id="5xx",
        ),
        pytest.param(
            response(429, {"errors": [{"code": "TOOMANYREQUESTS"}]}, {"Retry-After": "7"}),
            RegistryUnavailable,
            "registry registry.test kept answering GET /v2/g/a/tags/list with 429 TOOMANYREQUESTS (3 attempts in "
            "14.0 s): retry later, or check the registry's health and logs (CONVEYOR_REGISTRY_TIMEOUT sets how long "
            "to try)",
            [7.0, 7.0],
            id="429-retry-after",
        ),
    ],
)
def test_retries_last_until_the_deadline_and_fail_in_one_line(
    answer: Answer, error: type[Exception], message: str, sleeps: list[float]
) -> None:
    client, session, clock = make_client(lambda call: answer, deadline=20.0)
    with pytest.raises(error) as raised:
        client.list_tags("g/a")
    assert str(raised.value) == message
    assert clock.sleeps == sleeps and len(session.calls) == len(sleeps) + 1
    assert session.calls[0].timeout == (5.0, 20.0)  # connect timeout; read timeout capped by what is left
    assert session.calls[-1].timeout == (min(5.0, 20.0 - sum(sleeps[:-1]) - sleeps[-1]), 20.0 - sum(sleeps))


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
        if call.path == "/v2/":
            return response(200, {})
        if call.method == "GET":
            return response(200, manifest.raw, {"Content-Type": DOCKER_MANIFEST})
        assert call.path == "/v2/g/a/manifests/prod" and call.data == manifest.raw
        assert call.headers["Content-Type"] == DOCKER_MANIFEST
        return response(201, b"", {"Docker-Content-Digest": manifest.digest})

    client, session, _ = make_client(handler)
    assert client.retag("g/a", "prod-abc", "prod") == manifest.digest
    assert [(call.method, call.path) for call in session.calls] == [
        ("GET", "/v2/"),  # a registry (proved once per client) before anything changes
        ("GET", "/v2/g/a/manifests/prod-abc"),
        ("PUT", "/v2/g/a/manifests/prod"),
    ]


class Registry:
    """A fake registry for tag deletion: `tag_delete` is the answer to DELETE by tag."""

    def __init__(self, tag_delete: Answer, probe: Answer | None = None) -> None:
        self.tag_delete = tag_delete
        self.probe = probe if probe is not None else response(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        self.manifests: dict[str, bytes] = {}

    def __call__(self, call: Call) -> Answer:
        reference = call.path.rsplit("/", 1)[-1]
        if call.path == "/v2/":
            return response(200, {})
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
    assert [c.method for c in session.calls] == ["HEAD", "GET", "DELETE", "DELETE"]  # look-up, /v2/, probe, tag
    client.delete_tag("g/a", "u", look_up=False)
    assert len(session.calls) == 5  # one request per tag once known


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
    assert client.delete_tag("g/a", "t", look_up=False).method == method
    assert registry.tags == {"keep": SHARED} | left  # the shared digest and its other tag survive
    assert SHARED in registry.revisions and registry.revisions <= {SHARED, NEW}  # no throwaway left behind
    assert [entry.split()[0] for entry in registry.log].count("PUT") == puts, registry.log


def test_throwaway_deletion_that_keeps_failing_gives_up_at_the_deadline() -> None:
    registry = FakeDistribution({"t": SHARED}, {"DELETE-digest": ["500-before"] * 100})
    client, _, clock = make_client(registry, deadline=30.0)
    with pytest.raises(RegistryUnavailable) as raised:
        client.delete_tag("g/a", "t", look_up=False)
    assert str(raised.value).startswith(
        "registry registry.test did not confirm deleting tag g/a:t within 30 s (7 rounds; last answer: 500 UNKNOWN): "
    )
    assert sum(clock.sleeps) < 30.0


HTML = {"Content-Type": "text/html"}


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
            client.delete_tag("g/a", "t")
        assert str(raised.value) == message
        assert [c.method for c in session.calls] == ["HEAD", "GET"]  # the look-up, then /v2/: nothing changed
        assert registry.tags == {"t": SHARED}
        return
    assert client.delete_tag("g/a", "t").method == "throwaway-manifest"
    client.check_deletes_allowed("g/b")
    assert [c.path for c in session.calls].count("/v2/") == 1  # once per client, without credentials
    assert registry.tags == {}


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
    with pytest.raises(RegistryUnreachable, match=r"cannot send GET /v2/ to registry\.test \(InvalidURL\)"):
        client.ping()
    assert len(session.calls) == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda client: client.get_manifest("g/a", "t"),
            "registry registry.test answered 200 and a text/html body instead of the manifest g/a:t: "
            "check the registry address (CI_REGISTRY) and any proxy in front of it",
            id="manifest",
        ),
        pytest.param(
            lambda client: client.list_tags("g/a"),
            "listing the tags of g/a on registry.test got 200 and a text/html body, not a JSON object: "
            "check the address and any proxy in front of it",
            id="tags",
        ),
    ],
)
def test_an_html_answer_is_named_as_such_in_one_line(call: Callable[[RegistryClient], object], message: str) -> None:
    client, _, _ = make_client(lambda _: response(200, b"<html><body>hello</body></html>", HTML))
    with pytest.raises(RegistryProtocolError) as raised:
        call(client)
    assert str(raised.value) == message


def test_an_html_error_page_is_described_not_parsed() -> None:
    client, _, _ = make_client(lambda _: response(400, b"<html>bad</html>", HTML))
    with pytest.raises(RegistryProtocolError, match=r"answered 400 and a text/html body when reading the manifest"):
        client.get_manifest("g/a", "t")
