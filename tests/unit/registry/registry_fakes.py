"""A scripted requests.Session for the registry client's unit tests (no network, no waiting)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from requests.structures import CaseInsensitiveDict

from conveyor.redact import Redactor
from conveyor.registry import Credentials, RegistryClient, RetryPolicy


@dataclass
class Call:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]
    data: bytes | None

    @property
    def path(self) -> str:
        return urlparse(self.url).path

    @property
    def query(self) -> dict[str, str]:
        merged = {k: v[0] for k, v in parse_qs(urlparse(self.url).query).items()}
        return merged | self.params


def response(
    status: int, body: Any = b"", headers: dict[str, str] | None = None, url: str = "http://registry.test/"
) -> requests.Response:
    result = requests.Response()
    result.status_code = status
    if isinstance(body, dict | list):
        result._content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    else:
        result._content = body
    result.headers = CaseInsensitiveDict(headers or {})
    result.url = url
    return result


# What a fake registry answers a call with: a response, or an exception for the session to raise.
Answer = requests.Response | Exception
Handler = Callable[[Call], Answer]


@dataclass
class FakeSession(requests.Session):
    """Answers each request with `handler(call)`; an Exception result is raised (e.g. ConnectionError)."""

    handler: Handler = field(default=lambda call: response(200))
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        call = Call(
            method, url, dict(kwargs.get("headers") or {}), dict(kwargs.get("params") or {}), kwargs.get("data")
        )
        self.calls.append(call)
        result = self.handler(call)
        if isinstance(result, Exception):
            raise result
        if not result.url or result.url == "http://registry.test/":
            result.url = url
        return result


@dataclass
class FakeClock:
    now: float = 1_000_000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(
    handler: Handler,
    credentials: Credentials | None = None,
    clock: FakeClock | None = None,
    redactor: Redactor | None = None,
    **kwargs: Any,
) -> tuple[RegistryClient, FakeSession, FakeClock]:
    session = FakeSession(handler)
    clock = clock or FakeClock()
    client = RegistryClient(
        "registry.test",
        credentials,
        session=session,
        sleep=clock.sleep,
        clock=clock,
        redactor=redactor,
        retry=kwargs.pop("retry", RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0)),
        **kwargs,
    )
    return client, session, clock
