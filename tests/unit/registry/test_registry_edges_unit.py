"""Unit tests of the registry client's protocol edges: the pages of a tags list (repeats, the cap, other
hosts, one deadline across pages), the redirect rule (only blob reads, never credentials to another origin,
a few hops) as the transport applies it, the stop (nothing new is sent, backoff waits cut short, a write in
flight finished), and the watchdog's cut of a socket (no network, no waiting)."""

from __future__ import annotations

import socket
import threading

import pytest
import requests
from registry_fakes import DIGEST, Call, TagDeletionRegistry, make_client, response

from conveyor.registry import Credentials, paging, redirects
from conveyor.registry.errors import ReadAbandoned, RegistryProtocolError, RegistryUnreachable
from conveyor.registry.manifests import sha256_digest
from conveyor.registry.paging import TagPages, page_key
from conveyor.registry.retry import STOP_POLL, Backoff, RetryPolicy
from conveyor.registry.watchdog import GRACE, Watch
from tests.support import deletions

BASE = "https://registry.test"
HINT = "check the registry and any proxy in front of it (Conveyor stops rather than list without end)"
FRONT = "check CI_REGISTRY and any proxy in front of the registry"


# ---- the pages of a tags list ------------------------------------------------------------------------------


def test_the_same_page_is_the_same_whatever_the_order_of_its_query() -> None:
    assert page_key(f"{BASE}/v2/g/a/tags/list?n=2&last=b") == page_key(f"{BASE}:443/v2/g/a/tags/list?last=b&n=2")
    assert page_key(f"{BASE}/v2/g/a/tags/list?last=b") != page_key(f"{BASE}/v2/g/a/tags/list?last=c")


def test_a_page_fetched_again_is_a_loop_naming_registry_repository_and_page() -> None:
    pages = TagPages("registry.test", BASE, "g/a")
    pages.fetching(f"{BASE}/v2/g/a/tags/list?n=2")
    pages.fetching(f"{BASE}/v2/g/a/tags/list?last=b&n=2")
    with pytest.raises(RegistryProtocolError) as raised:
        pages.fetching(f"{BASE}/v2/g/a/tags/list?n=2&last=b")
    assert str(raised.value) == (
        "registry registry.test linked page 3 of the tags of g/a back to page 2 (/v2/g/a/tags/list?n=2&last=b): "
        f"its tags list loops: {HINT}"
    )


def test_the_page_cap_allows_exactly_cap_pages() -> None:
    pages = TagPages("registry.test", BASE, "g/a", cap=3)
    for number in range(3):
        pages.fetching(f"{BASE}/v2/g/a/tags/list?last=t{number}")
    with pytest.raises(RegistryProtocolError) as raised:
        pages.fetching(f"{BASE}/v2/g/a/tags/list?last=t3")
    assert str(raised.value) == (
        "registry registry.test linked page 4 of the tags of g/a (/v2/g/a/tags/list?last=t3): more than 3 pages, "
        f"which no registry serves: {HINT}"
    )
    assert paging.MAX_PAGES == 10_000 and TagPages("r", BASE, "g/a").cap == 10_000


def test_a_link_is_fetched_from_the_configured_registry_and_never_from_another_host() -> None:
    pages = TagPages("registry.test", BASE, "g/a")
    pages.fetching(f"{BASE}/v2/g/a/tags/list")
    # A TLS-terminating proxy makes the registry write http:// links: fetched from https, the configured URL.
    assert pages.next_url("http://registry.test/v2/g/a/tags/list?last=b", BASE) == f"{BASE}/v2/g/a/tags/list?last=b"
    assert pages.next_url("/v2/g/a/tags/list?last=b", f"{BASE}/v2/g/a/tags/list") == (f"{BASE}/v2/g/a/tags/list?last=b")
    with pytest.raises(RegistryProtocolError) as raised:
        pages.next_url("https://evil.test:8443/v2/g/a/tags/list?last=b", BASE)
    assert str(raised.value) == (
        "registry registry.test linked page 2 of the tags of g/a to another host, evil.test:8443: Conveyor sends "
        f"the registry's credentials to the registry only; {HINT}"
    )


def test_a_page_repeating_only_earlier_tags_with_a_next_link_is_a_loop() -> None:
    pages = TagPages("registry.test", BASE, "g/a")
    pages.fetching(f"{BASE}/v2/g/a/tags/list")
    pages.add(["a", "b"], f"{BASE}/v2/g/a/tags/list", more=True)
    pages.fetching(f"{BASE}/v2/g/a/tags/list?last=b")
    pages.add(["b", "c"], f"{BASE}/v2/g/a/tags/list?last=b", more=True)  # overlapping, but new tags: fine
    pages.fetching(f"{BASE}/v2/g/a/tags/list?last=c&x=1")
    with pytest.raises(RegistryProtocolError, match=r"sent page 3 of the tags of g/a .* its tags list loops"):
        pages.add(["a", "c"], f"{BASE}/v2/g/a/tags/list?last=c&x=1", more=True)
    pages.add([], f"{BASE}/v2/g/a/tags/list?last=c&x=1", more=False)  # an empty last page ends the list
    assert pages.tags == ["a", "b", "b", "c"]


def test_list_tags_refuses_a_looping_link_after_one_page() -> None:
    link = {"Link": '</v2/g/a/tags/list?n=1000>; rel="next"'}
    client, session, _ = make_client(lambda call: response(200, {"tags": ["a"]}, link))
    with pytest.raises(RegistryProtocolError, match="linked page 2 of the tags of g/a back to page 1"):
        client.list_tags("g/a")
    assert len(session.calls) == 1


def test_list_tags_has_one_deadline_across_its_pages() -> None:
    def handler(call: Call) -> requests.Response:
        clock.advance(4.0)  # every page takes 4 s: each alone is well within 10 s; page 3 ends at 12 s
        number = int(call.query.get("last", "t0")[1:]) + 1
        return response(200, {"tags": [f"t{number}"]}, {"Link": f'</v2/g/a/tags/list?last=t{number}>; rel="next"'})

    client, session, clock = make_client(handler, deadline=10.0)
    with pytest.raises(RegistryUnreachable) as raised:
        client.list_tags("g/a")
    assert str(raised.value) == (
        "registry registry.test did not finish listing the tags of g/a within 10 s (page 3 unanswered; 2 pages "
        "and 2 tags so far): check the registry and any proxy in front of it (a tags list without end), or raise "
        "CONVEYOR_REGISTRY_TIMEOUT"
    )
    assert len(session.calls) == 3


# ---- redirects ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "followed"),
    [
        ("GET", f"/v2/g/a/blobs/{DIGEST}", True),
        ("HEAD", f"/v2/g/a/blobs/{DIGEST}", True),
        ("GET", f"/v2/g/a/sub/blobs/{DIGEST}", True),
        ("DELETE", f"/v2/g/a/blobs/{DIGEST}", False),
        ("PUT", "/v2/g/a/blobs/uploads/u1", False),
        ("PATCH", "/v2/g/a/blobs/uploads/u1", False),
        ("POST", "/v2/g/a/blobs/uploads/", False),
        ("GET", "/v2/g/a/blobs/uploads/u1", False),
        ("GET", f"/v2/g/a/manifests/{DIGEST}", False),
        ("HEAD", "/v2/g/a/manifests/latest", False),
        ("GET", "/v2/g/a/tags/list", False),
        ("GET", "/v2/", False),
        ("GET", "/jwt/auth", False),
    ],
)
def test_only_blob_reads_follow_a_redirect(method: str, path: str, followed: bool) -> None:
    assert redirects.follows(method, BASE + path) is followed


def test_credentials_go_to_the_registrys_origin_only() -> None:
    sent = {"Authorization": "Bearer t", "Accept": "*/*", "PRIVATE-TOKEN": "p"}
    assert redirects.hop_headers(sent, BASE, "https://REGISTRY.test:443/x") == sent  # same origin
    for other in ("http://registry.test/x", "https://registry.test:5000/x", "https://s3.test/x"):
        assert redirects.hop_headers(sent, BASE, other) == {"Accept": "*/*"}, other
    assert redirects.origin("http://h.test") == redirects.origin("http://h.test:80/")


def test_requests_never_follows_a_redirect_itself() -> None:
    client, session, _ = make_client(lambda call: response(200, {"tags": []}))
    client.list_tags("g/a")
    client.head_digest("g/a", "t")
    assert session.calls and all(call.allow_redirects is False for call in session.calls)


@pytest.mark.parametrize(
    ("method", "call", "why"),
    [
        ("DELETE", lambda c: c.transport.request("DELETE", "/v2/g/a/manifests/t", repository="g/a"), "deleted"),
        ("PUT", lambda c: c.put_manifest("g/a", "t", c.get_manifest("g/a", "src")), "pushed"),
        ("GET", lambda c: c.list_tags("g/a"), ""),
    ],
)
def test_a_redirect_of_anything_but_a_blob_read_is_refused(method: str, call: object, why: str) -> None:
    manifest = b'{"schemaVersion":2}'

    def handler(c: Call) -> requests.Response:
        if c.method == "GET" and c.path.endswith("/src"):
            return response(200, manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        return response(307, b"", {"Location": "https://primary.test:5000" + c.path})

    client, session, _ = make_client(handler)
    with pytest.raises(RegistryProtocolError) as raised:
        call(client)  # type: ignore[operator]
    path = {"DELETE": "/v2/g/a/manifests/t", "PUT": "/v2/g/a/manifests/t", "GET": "/v2/g/a/tags/list"}[method]
    if why:
        hint = f"Conveyor does not follow a write elsewhere (nothing was {why} there)"
    else:
        hint = "Conveyor follows redirects only for blob downloads, and does not follow a write elsewhere"
    expected = f"registry registry.test redirected {method} {path} to primary.test:5000: {hint}; {FRONT}"
    assert str(raised.value) == expected
    assert not any(call.url.startswith("https://primary.test") for call in session.calls)


def test_a_blob_download_follows_its_redirect_without_the_registrys_credentials() -> None:
    blob = b"layer bytes"
    digest = sha256_digest(blob)

    def handler(call: Call) -> requests.Response:
        if call.url.startswith("https://s3.test/"):
            return response(400) if "Authorization" in call.headers else response(200, blob)
        if "Authorization" not in call.headers:
            return response(401, b"", {"WWW-Authenticate": 'Basic realm="registry"'})
        return response(307, b"", {"Location": f"https://s3.test/bucket/{digest}?X-Amz-Signature=s3cr3t"})

    client, session, _ = make_client(handler, Credentials("u", "pw-123456", "test"))
    assert client.get_blob("g/a", digest) == blob
    storage = [call for call in session.calls if call.url.startswith("https://s3.test/")]
    assert len(storage) == 1 and "Authorization" not in storage[0].headers
    assert session.calls[-2].headers["Authorization"].startswith("Basic ")  # the registry got them


def test_a_blob_redirect_on_the_registrys_own_origin_keeps_the_credentials_and_hops_are_few() -> None:
    hops: list[str] = []

    def handler(call: Call) -> requests.Response:
        hops.append(call.headers.get("Authorization", ""))
        return response(302, b"", {"Location": f"/v2/g/a/blobs/{DIGEST}?hop={len(hops)}"})

    client, session, _ = make_client(handler, Credentials("u", "pw-123456", "test"))
    client.transport._auth.learn(response(401, b"", {"WWW-Authenticate": 'Basic realm="r"'}), "g/a", None)
    with pytest.raises(RegistryProtocolError) as raised:
        client.get_blob("g/a", DIGEST)
    assert str(raised.value) == (
        f"registry registry.test redirected GET /v2/g/a/blobs/{DIGEST} more than 5 times (last to registry.test): "
        "check the registry's storage configuration and any proxy in front of it"
    )
    assert len(session.calls) == 6 and all(hop.startswith("Basic ") for hop in hops)


def test_a_redirected_tag_delete_is_a_failure_never_deleted() -> None:
    redirect = response(307, b"", {"Location": "https://primary.test/v2/g/a/manifests/t"})
    client, session, _ = make_client(TagDeletionRegistry(tag_delete=redirect))
    report = deletions.delete_tags(client, "g/a", ["t"])
    assert report.deleted == [] and report.failed == ["t"]
    assert report.outcomes[0].reason.startswith("registry registry.test redirected DELETE /v2/g/a/manifests/t to")
    with pytest.raises(RegistryProtocolError, match=r"redirected DELETE /v2/g/a/manifests/t to primary\.test"):
        deletions.delete_tag(client, "g/a", "t")
    assert not any("primary.test" in call.url for call in session.calls)


# ---- stopping ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "POST"])
def test_once_stopped_no_request_is_sent(method: str) -> None:
    client, session, _ = make_client(lambda call: response(200, {}), stopped=lambda: True)
    with pytest.raises(ReadAbandoned) as raised:
        client.transport.request(method, "/v2/g/a/manifests/t", repository="g/a")
    assert str(raised.value) == (
        f"stopped waiting for registry.test's answer to {method} /v2/g/a/manifests/t: after 0.0 s, before it was sent"
    )
    assert session.calls == []


def test_a_stop_cuts_the_backoff_short() -> None:
    stop = threading.Event()
    client, session, clock = make_client(lambda call: response(503), deadline=60.0, stopped=stop.is_set)
    began = clock.now

    def sleep(seconds: float) -> None:
        clock.sleeps.append(seconds)
        clock.now += seconds
        if clock.now - began >= 1.0:
            stop.set()

    client.transport.backoff = Backoff(RetryPolicy(2.0, 8.0), 60.0, sleep, clock, stop.is_set)
    with pytest.raises(ReadAbandoned, match=r"answer to GET /v2/g/a/tags/list: after 1\.0 s, before it was sent"):
        client.list_tags("g/a")
    assert clock.sleeps == [STOP_POLL] * 4  # the 2 s wait, asked every 0.25 s, ended at the stop
    assert len(session.calls) == 1


def test_backoff_without_a_stop_sleeps_in_one_go() -> None:
    slept: list[float] = []
    assert Backoff(RetryPolicy(2.0, 8.0), 60.0, slept.append, lambda: 0.0).pause(1, 60.0)
    assert slept == [2.0]


def test_a_write_in_flight_when_the_stop_comes_is_finished() -> None:
    stop = threading.Event()
    stored: list[str] = []

    def handler(call: Call) -> requests.Response:
        if call.method == "PUT":
            stop.set()  # Ctrl-C while the registry is handling the PUT
            stored.append(call.path)
            return response(201, b"", {"Docker-Content-Digest": sha256_digest(call.data or b"")})
        return response(200, b'{"schemaVersion":2}', {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})

    client, _, _ = make_client(handler, stopped=stop.is_set)
    manifest = client.get_manifest("g/a", "src")
    assert client.put_manifest("g/a", "t", manifest) == manifest.digest
    assert stored == ["/v2/g/a/manifests/t"]
    with pytest.raises(ReadAbandoned, match="before it was sent"):
        client.head_digest("g/a", "t")


# ---- the watchdog --------------------------------------------------------------------------------------------


class FakeConnection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


def test_the_watch_cuts_at_the_deadline_plus_grace_and_at_a_stop() -> None:
    now = [100.0]
    stopped = [False]
    left, right = socket.socketpair()
    with left, right:
        watch = Watch(110.0, lambda: now[0], lambda: stopped[0])
        watch.attach(FakeConnection(left))  # type: ignore[arg-type]
        received: list[bytes] = []
        reader = threading.Thread(target=lambda: received.append(left.recv(10)))
        reader.start()
        now[0] = 110.0 + GRACE - 0.01
        watch.check()
        assert watch.cut is None and reader.is_alive()
        now[0] = 110.0 + GRACE
        watch.check()
        reader.join(timeout=2)
        assert watch.cut == "deadline" and received == [b""]  # the blocked recv returned at once
    stopping = Watch(110.0, lambda: 100.0, lambda: stopped[0])
    stopped[0] = True
    stopping.check()
    assert stopping.cut == "stopped"


def test_an_ended_watch_cuts_nothing() -> None:
    left, right = socket.socketpair()
    with left, right:
        watch = Watch(0.0, lambda: 100.0, lambda: True)
        watch.attach(FakeConnection(left))  # type: ignore[arg-type]
        watch.end()
        watch.check()
        right.sendall(b"x")
        assert watch.cut is None and left.recv(1) == b"x"  # the connection, back in the pool, still works
