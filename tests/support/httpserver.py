"""An HTTP server of the tests' own on a free loopback port, serving from a background thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class BackgroundServer:
    server: ThreadingHTTPServer
    thread: threading.Thread

    @classmethod
    def start(cls, handler: type[BaseHTTPRequestHandler], name: str) -> BackgroundServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
        thread.start()
        return cls(server, thread)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
