"""A seeded fault-injecting HTTP proxy in front of a registry. A share of requests (20% by default, or per
method) fails, in one of these ways:

- before the registry sees it: answered 500 (`500-before`), or 429 with Retry-After (`429`), or its
  connection cut (`cut-before`);
- after the registry carried it out, so the client never learns the result: the registry's answer replaced
  by a 500 (`500-after`), or the connection cut (`cut-after`).

The rest are relayed as is (with the Host header unchanged, so the registry's Location and Link headers point
back at the proxy)."""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.httpserver import BackgroundServer

BEFORE = ("500-before", "429", "cut-before")
AFTER = ("500-after", "cut-after")
FAULTS = BEFORE + AFTER
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


@dataclass
class FaultProxy:
    """`rate` of the requests fail (`rates` overrides it per method, e.g. {"DELETE": 0.4}), each with a fault
    drawn from `faults`, by a generator seeded with `seed`. Every request waits `delay` seconds first (a
    slow registry, so that a long cleanup can be interrupted in the middle)."""

    upstream: str
    seed: int = 0
    rate: float = 0.2
    retry_after: str = "1"
    faults: tuple[str, ...] = FAULTS
    rates: dict[str, float] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    enabled: bool = True
    delay: float = 0.0
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: BackgroundServer | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def address(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.port}"

    def start(self) -> FaultProxy:
        self._server = BackgroundServer.start(_handler(self), "faultproxy")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = None

    def decide(self, method: str) -> str:
        """The fault for the next request ("" for none), from the seeded generator."""
        with self._lock:
            fault = ""
            if self.enabled and self._rng.random() < self.rates.get(method, self.rate):
                fault = self._rng.choice(self.faults)
            self.counts[fault or "relayed"] += 1
            return fault


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            time.sleep(proxy.delay)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = proxy.decide(self.command)
            if fault in ("500-before", "429"):
                self._error(int(fault[:3]))
            elif fault == "cut-before":
                self._cut()
            else:
                status, headers, payload = self._forward(body)
                if fault == "500-after":
                    self._error(500)
                elif fault == "cut-after":
                    self._cut()
                else:
                    self._relay(status, headers, payload)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            host, port = proxy.upstream.rsplit(":", 1)
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                return response.status, response.getheaders(), payload
            finally:
                connection.close()

        def _relay(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() in HOP_BY_HOP or (name.lower() == "content-length" and self.command != "HEAD"):
                    continue
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _error(self, status: int) -> None:
            code = "TOOMANYREQUESTS" if status == 429 else "UNKNOWN"
            data = json.dumps({"errors": [{"code": code, "message": "injected fault"}]}).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", proxy.retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _cut(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
