"""Servers that are not good registries, on free loopback ports, for the client's deadline and protocol
tests: a port nothing listens on, a silent socket (connections are accepted, nothing is ever answered), a
registry-like server that drip-feeds its answers' bodies a byte at a time, one that drips its status line
and headers, a web server answering an HTML page with 200 to every request, tags lists whose `Link` points
back at the same page or on to new pages without end, and a front end that redirects (307) requests to
another host (a recording server that accepts anything) or blob reads to a storage server that refuses
credentials, relaying the rest to a real registry. Each has an `address`, records the methods it was sent,
and is stopped by `stop()`."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.faultproxy import HOP_BY_HOP
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
    paths: list[str] = field(default_factory=list)
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


def header_drip_server(interval: float = 1.0) -> FakeHttpServer:
    """Answers like a registry, but sends its status line and headers one byte every `interval` seconds."""
    return FakeHttpServer("header-drip", interval).start()


def looping_pages_server() -> FakeHttpServer:
    """A registry whose every tags list page is one tag and a `Link: rel="next"` back to the same page."""
    return FakeHttpServer("same-page").start()


def endless_pages_server() -> FakeHttpServer:
    """A registry whose tags list never ends: page N (`?last=tN`) lists tag t(N+1) and links `?last=t(N+1)`."""
    return FakeHttpServer("endless-pages").start()


def _handler(fake: FakeHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are written apart: no 40 ms delayed-ACK stall a page

        def _handle(self) -> None:
            fake.methods.append(self.command)
            fake.paths.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if fake.kind == "html":
                self._send(HTML, "text/html; charset=utf-8", {})
                return
            if fake.kind == "header-drip":
                self._drip(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Docker-Distribution-API-Version: registry/2.0\r\nContent-Length: 2\r\n\r\n{}"
                )
                return
            if fake.kind in ("same-page", "endless-pages"):
                self._page()
                return
            body = b'{"tags": [' + b" " * 4080 + b"]}"
            self._send(b"", "application/json", {"Docker-Distribution-API-Version": "registry/2.0"}, len(body))
            self._drip(body if self.command != "HEAD" else b"")

        def _drip(self, data: bytes) -> None:
            for byte in data:
                if fake.stopped.wait(fake.interval):
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return

        def _page(self) -> None:
            path = urlsplit(self.path)
            headers = {"Docker-Distribution-API-Version": "registry/2.0"}
            if not path.path.endswith("/tags/list"):
                self._send(b"{}", "application/json", headers)
                return
            if fake.kind == "same-page":
                tags, headers["Link"] = ["t0"], f'<{self.path}>; rel="next"'
            else:
                last = parse_qs(path.query).get("last", ["t0"])[0]
                number = int(last[1:]) + 1
                tags, headers["Link"] = [f"t{number}"], f'<{path.path}?last=t{number}&n=1000>; rel="next"'
            name = path.path.removeprefix("/v2/").removesuffix("/tags/list")
            self._send(json.dumps({"name": name, "tags": tags}).encode(), "application/json", headers)

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


# ---- redirects -------------------------------------------------------------------------------------------

WRITES = {"PUT", "POST", "PATCH", "DELETE"}
BLOB = re.compile(r"/v2/(?P<name>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class Received:
    """One request a test server got: its method, path (with the query) and headers."""

    method: str
    path: str
    headers: dict[str, str]

    @property
    def authorization(self) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == "authorization"), "")


class Recorder:
    """A background server that records what it got: its address, the methods received, and its stop."""

    server: BackgroundServer | None
    received: list[Received]

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    @property
    def methods(self) -> list[str]:
        return [r.method for r in self.received]

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@dataclass
class RecordingServer(Recorder):
    """Another host that accepts anything like a registry would (202 to a DELETE, 201 to a PUT, ...) and
    records what it got. Under /storage/ it is a storage backend serving `blobs` (path -> bytes), which
    refuses (400) any request carrying credentials: storage is reached with a signed URL, never with the
    registry's credentials."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    server: BackgroundServer | None = None

    def start(self) -> RecordingServer:
        self.server = BackgroundServer.start(_recording_handler(self), "recording-server")
        return self


def _recording_handler(recorder: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            got = Received(self.command, self.path, dict(self.headers.items()))
            recorder.received.append(got)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = urlsplit(self.path).path
            blob = recorder.blobs.get(path)
            if path.startswith("/storage/") and got.authorization:
                self._answer(400, b"credentials sent to storage", {})
            elif path.startswith("/storage/") and (blob is not None or self.command == "HEAD"):
                self._answer(200, blob or b"", {"Content-Type": "application/octet-stream"})
            elif path.startswith("/storage/"):
                self._answer(404, b"no such object", {})
            else:
                status = {"DELETE": 202, "PUT": 201, "POST": 202, "PATCH": 202}.get(self.command, 200)
                self._answer(status, b"{}", {"Location": "/v2/elsewhere/blobs/uploads/u1"})

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {"Docker-Distribution-API-Version": "registry/2.0", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


# What the front end does with a request (method, path): "relay" it to the registry, "redirect" it to the other
# host, or "blob" (a blob read: fetched from the registry, then redirected to the storage server holding it).
Rule = Callable[[str, str], str]


def redirect_all(method: str, path: str) -> str:
    return "redirect"


def redirect_writes(method: str, path: str) -> str:
    """A read replica's front end: writes go to the primary (another host), reads are served here."""
    return "redirect" if method in WRITES else "relay"


def redirect_blobs(method: str, path: str) -> str:
    """A registry on object storage: blob reads are sent to the storage with a signed URL."""
    return "blob" if method in ("GET", "HEAD") and BLOB.fullmatch(urlsplit(path).path) else "relay"


def relay_all(method: str, path: str) -> str:
    return "relay"


@dataclass
class RedirectingFront(Recorder):
    """A front end on a port of its own, in front of the registry `upstream` (host:port; None: nothing to
    relay to), answering each request as `rule` says (changeable while it runs: a fail-over) and recording
    what it got; `elsewhere` is the other host it redirects to (307, the request's own path)."""

    elsewhere: RecordingServer
    upstream: str | None = None
    rule: Rule = redirect_all
    received: list[Received] = field(default_factory=list)
    server: BackgroundServer | None = None

    def start(self) -> RedirectingFront:
        self.server = BackgroundServer.start(_front_handler(self), "redirecting-front")
        return self


def _front_handler(front: RedirectingFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            front.received.append(Received(self.command, self.path, dict(self.headers.items())))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            action = front.rule(self.command, self.path)
            if action == "redirect":
                self._send(307, [("Location", f"http://{front.elsewhere.address}{self.path}")], b"")
                return
            status, headers, payload = self._forward(body)
            match = BLOB.fullmatch(urlsplit(self.path).path)
            if action == "blob" and status == 200 and match:
                stored = f"/storage/{match['digest']}"
                if self.command == "GET":
                    front.elsewhere.blobs[stored] = payload
                location = f"http://{front.elsewhere.address}{stored}?X-Amz-Signature=signed"
                self._send(307, [("Location", location)], b"")
                return
            self._send(status, headers, payload)

        def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            assert front.upstream is not None, "this front end relays nothing"
            host, port = front.upstream.rsplit(":", 1)
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                return response.status, response.getheaders(), response.read()
            finally:
                connection.close()

        def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
            self.send_response(status)
            length = next((v for k, v in headers if k.lower() == "content-length"), str(len(payload)))
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", length if self.command == "HEAD" else str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
