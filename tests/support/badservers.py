"""Servers that are not good registries, on free loopback ports, for the client's deadline tests: a port
nothing listens on, a silent socket (connections are accepted, nothing is ever answered), a registry-like
server that drip-feeds its answers a byte at a time, and a web server answering an HTML page with 200 to
every request. Each has an `address`, records the methods it was sent, and is stopped by `stop()`."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.httpserver import BackgroundServer
from tests.support.registry import free_port

HTML = b"<!doctype html><html><head><title>Welcome</title></head><body>It works!</body></html>"


@dataclass
class RefusedPort:
    """A free port nothing listens on: every connection is refused."""

    address: str = field(default_factory=lambda: f"127.0.0.1:{free_port()}")
    methods: list[str] = field(default_factory=list)

    def stop(self) -> None:
        return


@dataclass
class SilentServer:
    """Listens but never accepts: the kernel completes each connection and takes the request; no answer."""

    sock: socket.socket = field(default_factory=socket.socket)
    methods: list[str] = field(default_factory=list)
    address: str = ""

    def start(self) -> SilentServer:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        return self

    def stop(self) -> None:
        self.sock.close()


@dataclass
class FakeHttpServer:
    """A BackgroundServer whose every request is answered by `answer(handler)`."""

    kind: str
    interval: float = 1.0
    methods: list[str] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)
    server: BackgroundServer | None = None

    def start(self) -> FakeHttpServer:
        self.server = BackgroundServer.start(_handler(self), f"{self.kind}-server")
        return self

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        self.stopped.set()
        if self.server is not None:
            self.server.stop()


def drip_server(interval: float = 1.0) -> FakeHttpServer:
    """Answers like a registry (200, its API header, a JSON body of 4 KiB announced), then sends the body one
    byte every `interval` seconds."""
    return FakeHttpServer("drip", interval).start()


def html_server() -> FakeHttpServer:
    """A web server: 200 and an HTML page to every method and path, without any registry header."""
    return FakeHttpServer("html").start()


def _handler(fake: FakeHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            fake.methods.append(self.command)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if fake.kind == "html":
                self._send(HTML, "text/html; charset=utf-8", {})
                return
            body = b'{"tags": [' + b" " * 4080 + b"]}"
            self._send(b"", "application/json", {"Docker-Distribution-API-Version": "registry/2.0"}, len(body))
            for byte in body if self.command != "HEAD" else b"":
                if fake.stopped.wait(fake.interval):
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        def _send(self, body: bytes, content_type: str, headers: dict[str, str], length: int | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
