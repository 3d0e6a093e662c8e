"""Unit tests of the transport: retries, backoff and Retry-After within the deadline, timeouts, unsendable
requests (auth: test_registry_auth_unit.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import requests
from registry_fakes import Answer, Call, Handler, make_client, response

import conveyor.registry
from conveyor.registry.errors import RegistryUnavailable, RegistryUnreachable


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


SENDING = {"request", "get", "post", "put", "patch", "delete", "head", "Session", "urlopen"}


def test_only_the_transport_sends_http() -> None:
    """The adapter's one place that does HTTP: no other module opens a session or sends through requests."""
    package = Path(conveyor.registry.__file__).parent
    for module in sorted(package.glob("*.py")):
        if module.name == "transport.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SENDING:
                owner = ast.unparse(node.func.value).lower()
                assert not any(word in owner for word in ("requests", "session", "urllib")), (
                    f"{module.name}:{node.lineno} sends HTTP itself"
                )
