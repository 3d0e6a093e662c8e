"""Deadlines against real sockets: a silent server, a drip-feeding one, one that stalls after its headers, a
refused port, and a web server that answers 200 to everything. Each ends `cleanup.delete_tags` within its
bound, in one line, changing nothing (its first request reads the tag's digest, as a permit needs it).
Protocol edges (loops, dripped headers, stops, redirects): test_registry_edges.py."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Protocol

import pytest

from conveyor.errors import ConveyorError
from conveyor.registry import RegistryClient, RegistryOptions
from conveyor.registry.errors import RegistryProtocolError, RegistryUnreachable
from tests.support import deletions
from tests.support.badservers import RefusedPort, SilentServer, drip_server, html_server

pytestmark = pytest.mark.integration
DEADLINE = 3.0
MARGIN = 1.5  # thread start-up, the last drip interval, a loaded 2-core machine
HEAD = "HEAD /v2/group/app/manifests/t1"  # the digest look-up; a HEAD without a digest is followed by the GET
GET = "GET /v2/group/app/manifests/t1"


class Server(Protocol):
    methods: list[str]

    @property
    def address(self) -> str: ...

    def stop(self) -> None: ...


CASES: list[tuple[str, Callable[[], Server], type[ConveyorError], str, float]] = [
    (
        "silent",
        lambda: SilentServer().start(),
        RegistryUnreachable,
        rf"registry ADDR did not answer {HEAD} \(read timeout; 1 attempt in 3\.\d s\): "
        r"check that the registry is up and reachable, or raise CONVEYOR_REGISTRY_TIMEOUT",
        DEADLINE + MARGIN,
    ),
    (
        "drip-feeding",
        lambda: drip_server(interval=1.0),
        RegistryUnreachable,
        rf"registry ADDR was still sending its answer to {GET} when the deadline passed \([34]\.\d s\): "
        r"check the registry and any proxy in front of it, or raise CONVEYOR_REGISTRY_TIMEOUT",
        DEADLINE + MARGIN,
    ),
    (
        "stalls-after-its-headers",
        lambda: drip_server(interval=60.0),
        RegistryUnreachable,
        rf"registry ADDR did not answer {GET} \(read timeout; 1 attempt in [23]\.\d s\): "
        r"check that the registry is up and reachable, or raise CONVEYOR_REGISTRY_TIMEOUT",
        DEADLINE + MARGIN,
    ),
    (
        "refused",
        RefusedPort,
        RegistryUnreachable,
        rf"cannot reach ADDR: connection refused \({HEAD}, 3 attempts in 1\.\d s\): "
        r"check the registry address \(CI_REGISTRY\) and that it is running",
        3.0,
    ),
    (
        "html-200-to-everything",
        html_server,
        RegistryProtocolError,
        r"registry ADDR answered 200 and a text/html body instead of the manifest group/app:t1: "
        r"check the registry address \(CI_REGISTRY\) and any proxy in front of it",
        1.0,
    ),
]


@pytest.mark.parametrize(("name", "start", "error", "message", "bound"), CASES, ids=[case[0] for case in CASES])
def test_a_bad_registry_fails_within_its_bound_in_one_line(
    name: str, start: Callable[[], Server], error: type[ConveyorError], message: str, bound: float
) -> None:
    server = start()
    client = RegistryClient(server.address, options=RegistryOptions(scheme="http", deadline=DEADLINE))
    began = time.monotonic()
    try:
        with pytest.raises(error) as raised:
            deletions.delete_tags(client, "group/app", ["t1", "t2"])
    finally:
        took = time.monotonic() - began
        client.close()
        server.stop()
    assert took < bound, f"{name} took {took:.1f} s"
    assert re.fullmatch(message.replace("ADDR", re.escape(server.address)), str(raised.value)), str(raised.value)
    assert set(server.methods) <= {"GET", "HEAD"}  # nothing was asked to change


def test_a_web_server_is_refused_before_a_single_tag_deletion_too() -> None:
    server = html_server()
    try:
        with (
            RegistryClient(server.address, options=RegistryOptions(scheme="http", deadline=DEADLINE)) as client,
            pytest.raises(ConveyorError) as raised,
        ):
            deletions.delete_tag(client, "group/app", "t1")
    finally:
        server.stop()
    assert "\n" not in str(raised.value) and server.address in str(raised.value)
    assert set(server.methods) <= {"GET", "HEAD"}
