"""A proxy in front of a registry that answers every request a little late, so that a long cleanup is
long enough to be interrupted in the middle."""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.support.httpserver import BackgroundServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


@dataclass
class SlowProxy:
    upstream: str  # host:port
    delay: float = 0.03
    _server: BackgroundServer | None = None

    @property
    def address(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.port}"

    def start(self) -> SlowProxy:
        self._server = BackgroundServer.start(_handler(self), "slowproxy")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = None


def _handler(proxy: SlowProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _relay(self) -> None:
            time.sleep(proxy.delay)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
            finally:
                upstream.close()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _relay

    return Handler
