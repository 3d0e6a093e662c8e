"""Unit tests of the v2 operations: tag pagination, manifests, retagging, answers that are not the API's."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from registry_fakes import DIGEST, HTML, Answer, Call, make_client, response

from conveyor.registry import RegistryClient
from conveyor.registry.errors import ManifestNotFound, RegistryProtocolError
from conveyor.registry.manifests import ACCEPT, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Manifest, sha256_digest


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
