"""The registry client at the protocol's edges, against real sockets: a tags list whose Link loops or never
ends, a server dripping its headers or its body, a stop in the middle of a listing, a read or a write, and
front ends that redirect (every request, or the writes, to another host; blob reads to a storage server).
Each bad server is given up within the deadline plus one second, in one line; a redirected write deletes
nothing anywhere and is never reported as deleted; a blob read follows its redirect without credentials."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest
from registry_helpers import PASSWORD, fast_retry, maintainer_client, push_image

from conveyor.errors import ConveyorError
from conveyor.registry import Credentials, RegistryClient, RegistryOptions, paging
from conveyor.registry.errors import ReadAbandoned, RegistryProtocolError, RegistryUnreachable
from conveyor.registry.manifests import sha256_digest
from tests.support import deletions
from tests.support.badservers import (
    FakeHttpServer,
    RecordingServer,
    RedirectingFront,
    drip_server,
    endless_pages_server,
    header_drip_server,
    looping_pages_server,
    redirect_all,
    redirect_blobs,
    redirect_writes,
    relay_all,
)
from tests.support.example import make_example
from tests.support.faultproxy import FaultProxy
from tests.support.integration import assert_one_line_failure
from tests.support.registry import RegistryProcess
from tests.support.tokenserver import TokenServer

pytestmark = pytest.mark.integration
REPO = "group/app"
DEADLINE = 3.0
GIVEN_UP = DEADLINE + 1.0  # "given up" means within the deadline plus at most one second
LOOP_HINT = "check the registry and any proxy in front of it (Conveyor stops rather than list without end)"
FRONT_HINT = "check CI_REGISTRY and any proxy in front of the registry"


def options(deadline: float = DEADLINE, stopped: Callable[[], bool] | None = None) -> RegistryOptions:
    if stopped is None:
        return RegistryOptions(scheme="http", deadline=deadline, retry=fast_retry())
    return RegistryOptions(scheme="http", deadline=deadline, retry=fast_retry(), stopped=stopped)


def timed(call: Callable[[], object]) -> tuple[BaseException | None, float]:
    """What `call` raised (None when it returned) and how long it took."""
    began = time.monotonic()
    try:
        call()
    except Exception as error:
        return error, time.monotonic() - began
    return None, time.monotonic() - began


def stop_after(seconds: float) -> Callable[[], bool]:
    """A stop flag that turns True `seconds` from now (as Ctrl-C would, asked through RegistryOptions.stopped)."""
    when = time.monotonic() + seconds
    return lambda: time.monotonic() >= when


@pytest.fixture
def servers() -> Iterator[list[FakeHttpServer]]:
    started: list[FakeHttpServer] = []
    yield started
    for server in started:
        server.stop()


# ---- tags lists --------------------------------------------------------------------------------------------


def test_a_link_back_to_the_same_page_is_a_one_line_protocol_error(servers: list[FakeHttpServer]) -> None:
    server = looping_pages_server()
    servers.append(server)
    with RegistryClient(server.address, options=options()) as client:
        error, took = timed(lambda: client.list_tags(REPO))
    assert isinstance(error, RegistryProtocolError)
    assert str(error) == (
        f"registry {server.address} linked page 2 of the tags of {REPO} back to page 1 "
        f"(/v2/{REPO}/tags/list?n=1000): its tags list loops: {LOOP_HINT}"
    )
    assert took < 1.0
    assert [path for path in server.paths if "/tags/list" in path] == [f"/v2/{REPO}/tags/list?n=1000"]


def test_a_tags_list_without_end_is_given_up_at_the_deadline(servers: list[FakeHttpServer]) -> None:
    server = endless_pages_server()
    servers.append(server)
    with RegistryClient(server.address, options=options()) as client:
        error, took = timed(lambda: client.list_tags(REPO))
    assert isinstance(error, RegistryUnreachable)
    assert re.fullmatch(
        rf"registry {re.escape(server.address)} did not finish listing the tags of {REPO} within 3 s "
        r"\(page [\d,]+ unanswered; [\d,]+ pages and [\d,]+ tags so far\): check the registry and any proxy "
        r"in front of it \(a tags list without end\), or raise CONVEYOR_REGISTRY_TIMEOUT",
        str(error),
    ), str(error)
    assert DEADLINE <= took < GIVEN_UP, f"{took:.2f} s"
    assert len(server.paths) > 10  # it did page on, each page new, until the deadline


def test_a_tags_list_longer_than_the_page_cap_is_refused(
    servers: list[FakeHttpServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 50)
    server = endless_pages_server()
    servers.append(server)
    with RegistryClient(server.address, options=options(deadline=60.0)) as client:
        error, took = timed(lambda: client.list_tags(REPO))
    assert isinstance(error, RegistryProtocolError)
    assert str(error) == (
        f"registry {server.address} linked page 51 of the tags of {REPO} (/v2/{REPO}/tags/list?last=t50&n=1000): "
        f"more than 50 pages, which no registry serves: {LOOP_HINT}"
    )
    assert len(server.paths) == 50 and took < 10


# ---- dripping servers -----------------------------------------------------------------------------------

OPERATIONS: dict[str, Callable[[RegistryClient], object]] = {
    "ping": lambda client: client.ping(),
    "list_tags": lambda client: client.list_tags(REPO),
    "head_digest": lambda client: client.head_digest(REPO, "t1"),
    "delete_tags": lambda client: deletions.delete_tags(client, REPO, ["t1", "t2"]),
}
FIRST_REQUEST = {
    "ping": "GET /v2/",
    "list_tags": f"GET /v2/{REPO}/tags/list",
    "head_digest": f"(?:HEAD|GET) /v2/{REPO}/manifests/t1",
    "delete_tags": f"(?:HEAD|GET) /v2/{REPO}/manifests/t1",
}
DRIPPERS: dict[str, Callable[[], FakeHttpServer]] = {
    "drips-its-headers": lambda: header_drip_server(interval=1.0),
    "drips-its-body": lambda: drip_server(interval=1.0),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("drip", list(DRIPPERS))
def test_a_dripping_server_is_given_up_within_the_deadline_plus_a_second(
    drip: str, operation: str, servers: list[FakeHttpServer]
) -> None:
    server = DRIPPERS[drip]()
    servers.append(server)
    with RegistryClient(server.address, options=options()) as client:
        error, took = timed(lambda: OPERATIONS[operation](client))
    assert isinstance(error, RegistryUnreachable), repr(error)
    assert re.fullmatch(
        rf"registry {re.escape(server.address)} was still sending its answer to {FIRST_REQUEST[operation]} when "
        r"the deadline passed \(3\.\d s\): check the registry and any proxy in front of it, or raise "
        r"CONVEYOR_REGISTRY_TIMEOUT",
        str(error),
    ), str(error)
    assert took < GIVEN_UP, f"{took:.2f} s"
    assert set(server.methods) <= {"GET", "HEAD"}  # nothing was asked to change


# ---- stopping -------------------------------------------------------------------------------------------


def test_a_stop_ends_a_listing_without_end_within_a_second(servers: list[FakeHttpServer]) -> None:
    server = endless_pages_server()
    servers.append(server)
    with RegistryClient(server.address, options=options(deadline=30.0, stopped=stop_after(0.5))) as client:
        error, took = timed(lambda: client.list_tags(REPO))
    assert isinstance(error, ReadAbandoned)
    assert re.fullmatch(
        rf"stopped waiting for {re.escape(server.address)}'s answer to GET /v2/{REPO}/tags/list: "
        r"after 0\.[5-9] s(, before it was sent)?",
        str(error),
    ), str(error)
    assert 0.45 <= took < 1.5, f"{took:.2f} s"  # the stop comes at 0.5 s on its own clock
    pages = len(server.paths)
    time.sleep(0.3)
    assert len(server.paths) == pages  # nothing more was asked


def test_a_stop_abandons_a_read_waiting_for_its_answer(servers: list[FakeHttpServer]) -> None:
    server = header_drip_server(interval=1.0)
    servers.append(server)
    with RegistryClient(server.address, options=options(deadline=30.0, stopped=stop_after(0.5))) as client:
        error, took = timed(client.ping)
    assert isinstance(error, ReadAbandoned)
    assert re.fullmatch(
        rf"stopped waiting for {re.escape(server.address)}'s answer to GET /v2/: after 0\.[5-9] s", str(error)
    ), str(error)
    assert 0.45 <= took < 1.5, f"{took:.2f} s"  # the stop comes at 0.5 s on its own clock


def test_a_stop_lets_a_write_already_sent_finish_and_sends_nothing_new(registry: RegistryProcess) -> None:
    direct = RegistryClient(registry.address, options=options())
    push_image(direct, REPO, ["source"], "stopped-write")
    manifest = direct.get_manifest(REPO, "source")
    slow = FaultProxy(registry.address, rate=0.0, delay=1.5).start()  # every request waits 1.5 s first
    address = slow.address
    try:
        with RegistryClient(slow.address, options=options(deadline=10.0, stopped=stop_after(0.5))) as client:
            began = time.monotonic()
            digest = client.put_manifest(REPO, "written", manifest)
            took = time.monotonic() - began
            error, _ = timed(lambda: client.head_digest(REPO, "written"))
    finally:
        slow.stop()
    assert digest == manifest.digest and took >= 1.5  # the PUT was waited for, past the stop, not abandoned
    assert direct.head_digest(REPO, "written") == manifest.digest  # and the registry holds it
    assert isinstance(error, ReadAbandoned)
    assert str(error).startswith(f"stopped waiting for {address}'s answer to HEAD /v2/{REPO}/manifests/written")
    assert str(error).endswith(", before it was sent")
    assert slow.counts["relayed"] == 1  # only the PUT went out


# ---- redirects --------------------------------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[RecordingServer]:
    server = RecordingServer().start()
    yield server
    server.stop()


def front_for(upstream: str | None, other: RecordingServer, rule: Callable[[str, str], str]) -> RedirectingFront:
    return RedirectingFront(other, upstream, rule).start()


def redirected(front: RedirectingFront, other: RecordingServer, method: str, path: str) -> str:
    if method in ("PUT", "POST", "PATCH", "DELETE"):
        done = "deleted" if method == "DELETE" else "pushed"
        why = f"Conveyor does not follow a write elsewhere (nothing was {done} there)"
    else:
        why = "Conveyor follows redirects only for blob downloads, and does not follow a write elsewhere"
    return f"registry {front.address} redirected {method} {path} to {other.address}: {why}; {FRONT_HINT}"


def test_a_registry_redirecting_everything_elsewhere_fails_every_operation_in_one_line(
    elsewhere: RecordingServer,
) -> None:
    front = front_for(None, elsewhere, redirect_all)
    try:
        with RegistryClient(front.address, options=options()) as client:
            outcomes = {
                "ping": timed(client.ping),
                "list": timed(lambda: client.list_tags(REPO)),
                "delete_tag": timed(lambda: deletions.delete_tag(client, REPO, "t1")),
                "delete_tags": timed(lambda: deletions.delete_tags(client, REPO, ["t1", "t2"])),
            }
    finally:
        front.stop()
    assert str(outcomes["ping"][0]) == redirected(front, elsewhere, "GET", "/v2/")
    assert str(outcomes["list"][0]) == redirected(front, elsewhere, "GET", f"/v2/{REPO}/tags/list")
    for name in ("delete_tag", "delete_tags"):
        error = outcomes[name][0]
        assert isinstance(error, RegistryProtocolError), repr(error)
        assert re.fullmatch(
            re.escape(redirected(front, elsewhere, "METHOD", f"/v2/{REPO}/manifests/t1")).replace(
                "METHOD", "(?:HEAD|GET|DELETE)"
            ),
            str(error),
        ), str(error)
    assert all(took < 1.0 for _, took in outcomes.values()), outcomes
    assert elsewhere.received == []  # nothing was followed there


@pytest.fixture
def token_front(
    token_registry: RegistryProcess, elsewhere: RecordingServer
) -> Iterator[tuple[RedirectingFront, RegistryClient]]:
    """A front end relaying to a token-auth registry (so that requests carry a bearer token), a client of it."""
    front = front_for(token_registry.address, elsewhere, relay_all)
    client = RegistryClient(front.address, Credentials("maintainer", PASSWORD, "test"), options())
    yield front, client
    client.close()
    front.stop()


class Outcome(Protocol):
    @property
    def action(self) -> str: ...

    @property
    def reason(self) -> str: ...


class Report(Protocol):
    """What the deletion helpers answer (a cleanup report)."""

    @property
    def deleted(self) -> list[str]: ...

    @property
    def outcomes(self) -> Sequence[Outcome]: ...


def deleted_anything(attempt: Callable[[], Report]) -> tuple[list[str], str]:
    """The tags a deletion reported deleted, and its failure lines (or its one-line error)."""
    try:
        report = attempt()
    except ConveyorError as error:
        return [], str(error)
    return report.deleted, "\n".join(o.reason for o in report.outcomes if o.action == "failed")


def test_a_redirected_delete_deletes_nothing_anywhere_and_is_not_reported_deleted(
    token_front: tuple[RedirectingFront, RegistryClient], token_registry: RegistryProcess, elsewhere: RecordingServer
) -> None:
    front, client = token_front
    direct = maintainer_client(token_registry)
    digest = push_image(direct, REPO, ["t1", "t2", "keep"], "redirected")
    front.rule = redirect_writes  # a read replica: writes are sent to the primary, another host
    deleted, failure = deleted_anything(lambda: deletions.delete_tags(client, REPO, ["t1", "t2"]))
    assert deleted == []
    probe = f"/v2/{REPO}/manifests/sha256:{'0' * 64}"  # the first write: can this registry delete at all?
    assert failure == redirected(front, elsewhere, "DELETE", probe)
    assert "\n" not in failure
    assert sorted(direct.list_tags(REPO)) == ["keep", "t1", "t2"]
    assert {tag: direct.head_digest(REPO, tag) for tag in ("t1", "t2")} == {"t1": digest, "t2": digest}
    assert elsewhere.received == []  # no DELETE there, no credentials there: nothing at all
    sent = [r for r in front.received if r.method == "DELETE"]
    assert sent and all(r.authorization.startswith("Bearer ") for r in sent)  # the credentials it withheld


def test_a_front_end_failing_over_mid_cleanup_leaves_the_rest_failed_and_untouched(
    token_front: tuple[RedirectingFront, RegistryClient], token_registry: RegistryProcess, elsewhere: RecordingServer
) -> None:
    front, client = token_front
    direct = maintainer_client(token_registry)
    digest = push_image(direct, REPO, ["t1", "t2", "t3", "keep"], "fail-over")
    first = deletions.delete_tags(client, REPO, ["t1"])  # relayed: deleted, and the client learnt how
    assert first.deleted == ["t1"]
    front.rule = redirect_writes
    report = deletions.delete_tags(client, REPO, ["t2", "t3"])
    assert report.deleted == [] and report.failed == ["t2", "t3"]
    for outcome in report.outcomes:
        assert outcome.reason == redirected(front, elsewhere, "PUT", f"/v2/{REPO}/manifests/{outcome.tag}")
    with pytest.raises(RegistryProtocolError, match="redirected PUT"):
        deletions.delete_tag(client, REPO, "t2")
    assert sorted(direct.list_tags(REPO)) == ["keep", "t2", "t3"]
    assert {tag: direct.head_digest(REPO, tag) for tag in ("t2", "t3")} == {"t2": digest, "t3": digest}
    assert elsewhere.received == []


def test_a_blob_read_follows_the_redirect_to_storage_without_credentials(
    token_front: tuple[RedirectingFront, RegistryClient], token_registry: RegistryProcess, elsewhere: RecordingServer
) -> None:
    front, client = token_front
    direct = maintainer_client(token_registry)
    push_image(direct, REPO, ["v1"], "stored", created="2025-03-04T05:06:07Z")
    manifest = direct.get_manifest(REPO, "v1")
    config = manifest.config_digest()
    assert config is not None
    front.rule = redirect_blobs  # a registry on object storage: blob reads go to a signed storage URL
    blob = client.get_blob(REPO, config)
    assert sha256_digest(blob) == config
    created = client.image_created(REPO, client.get_manifest(REPO, "v1"))
    assert created is not None and created.isoformat() == "2025-03-04T05:06:07+00:00"
    assert client.blob_exists(REPO, config)
    storage = [r for r in elsewhere.received if r.path.startswith("/storage/")]
    assert [r.method for r in storage] == ["GET", "GET", "HEAD"]
    assert all(r.path == f"/storage/{config}?X-Amz-Signature=signed" for r in storage)
    assert all(r.authorization == "" for r in storage)  # the storage refuses credentials: none went there
    asked = [r.authorization.split(" ")[0] for r in front.received if r.path == f"/v2/{REPO}/blobs/{config}"]
    assert asked == ["", "Bearer", "Bearer", "Bearer"]  # the challenge (401), then each read with its token


# ---- through the task -------------------------------------------------------------------------------------


def test_the_cleanup_task_says_a_redirected_delete_in_one_line_and_changes_nothing(
    tmp_path: Path, token_server: TokenServer, token_registry: RegistryProcess, elsewhere: RecordingServer
) -> None:
    example = make_example(tmp_path / "project", token_registry, "unused/base:1")
    sha = example.git("rev-parse", "HEAD")
    repository = f"{example.name}/example/ci"
    direct = maintainer_client(token_registry)
    digest = push_image(direct, repository, [sha, "main"], "ci")
    front = front_for(token_registry.address, elsewhere, redirect_writes)
    try:
        env = {
            "CI_REGISTRY": front.address,
            "CI_REGISTRY_IMAGE": f"{front.address}/{example.name}/example",
            "CI_REGISTRY_USER": "maintainer",
            "CI_REGISTRY_PASSWORD": PASSWORD,
            "CONVEYOR_REGISTRY_SCHEME": "http",
            "CONVEYOR_REGISTRY_TIMEOUT": "5",
        }
        began = time.monotonic()
        result = example.inv("cleanup.ci-image", **env)
        took = time.monotonic() - began
    finally:
        front.stop()
    assert_one_line_failure(result, f"redirected DELETE /v2/{repository}/manifests/", elsewhere.address)
    assert "deleted" not in result.stdout.replace("nothing was deleted there", "")
    assert sorted(direct.list_tags(repository)) == sorted([sha, "main"])
    assert direct.head_digest(repository, sha) == digest
    assert elsewhere.received == []
    assert took < 60


def test_the_cleanup_task_gives_up_a_registry_dripping_its_headers_in_one_line(
    tmp_path: Path, registry: RegistryProcess, servers: list[FakeHttpServer]
) -> None:
    server = header_drip_server(interval=1.0)
    servers.append(server)
    example = make_example(tmp_path / "project", registry, "unused/base:1")
    env = {
        "CI_REGISTRY": server.address,
        "CI_REGISTRY_IMAGE": f"{server.address}/{example.name}/example",
        "CONVEYOR_REGISTRY_SCHEME": "http",
        "CONVEYOR_REGISTRY_TIMEOUT": "3",
    }
    result = example.inv("cleanup.ci-image", **env)
    assert_one_line_failure(result, server.address, "was still sending its answer", "when the deadline passed")
    assert set(server.methods) <= {"GET", "HEAD"}
