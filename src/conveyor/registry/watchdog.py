"""The watch over every attempt's connection: one background thread cuts (shuts down) the socket of an
attempt once its deadline has passed, or once a stop is asked for while a read waits for its answer.

A socket timeout bounds one recv only: http.client reads the status line and headers a recv at a time, so a
server dripping its headers one byte a second is never given up by it, however long it takes. The watch
bounds the whole attempt instead (headers, body, a blob's redirect hops), whatever the server sends. The
requests Session of a Transport gets a WatchedAdapter of the Transport's own Watchdog, whose connections
report to the watch of the attempt running on their thread (`watching`); the watchdog thread asks every
watch every POLL seconds, and exits when no attempt is being watched."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

import requests
import urllib3
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

POLL = 0.1  # how often the watchdog asks each watch (seconds)
# The watch cuts this long after the deadline, so that a socket timeout set to the deadline (a silent server)
# fires first and is reported as the timeout it is; a server still sending then is cut by the watch.
GRACE = 0.25

Cut = Literal["deadline", "stopped"]


class Watch:
    """One attempt: its deadline (on `monotonic`), the stop that abandons it (a read's; a write's never comes),
    the connection it uses (set by the connection itself), and why it was cut, if it was. Once `end`ed, or
    once its connection serves another attempt, it cuts nothing more."""

    def __init__(self, deadline: float, monotonic: Callable[[], float], stopped: Callable[[], bool]) -> None:
        self.deadline = deadline
        self._monotonic = monotonic
        self._stopped = stopped
        self._connection: urllib3.connection.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._ended = False
        self.cut: Cut | None = None

    def attach(self, connection: urllib3.connection.HTTPConnection) -> None:
        with self._lock:
            if not self._ended:
                self._connection = connection
                if self.cut is not None:
                    _shut(connection)

    def release(self, connection: urllib3.connection.HTTPConnection) -> None:
        """Forget `connection` (it now serves another attempt)."""
        with self._lock:
            if self._connection is connection:
                self._connection = None

    def end(self) -> None:
        with self._lock:
            self._ended = True
            self._connection = None

    def check(self) -> None:
        """Cut the connection when the deadline (plus GRACE) has passed or a stop was asked for; once cut, shut
        its socket again on every check (it may have been connecting the first time)."""
        with self._lock:
            if self._ended:
                return
            if self.cut is None:
                if self._monotonic() >= self.deadline + GRACE:
                    self.cut = "deadline"
                elif _asked(self._stopped):
                    self.cut = "stopped"
            if self.cut is not None and self._connection is not None:
                _shut(self._connection)


def _shut(connection: urllib3.connection.HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        # The plain socket's shutdown (also under TLS): a recv blocked in another thread returns at once.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _asked(stopped: Callable[[], bool]) -> bool:
    try:
        return bool(stopped())
    except Exception:  # the caller's callable failing must not kill the watchdog
        return False


class Watchdog:
    """The thread that checks every watch; started when the first attempt is watched, gone when none is."""

    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._local = threading.local()

    @contextlib.contextmanager
    def watching(self, watch: Watch) -> Iterator[Watch]:
        """Watch `watch` while the block runs; connections opened or used on this thread meanwhile attach to it."""
        with self._wake:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="registry-watchdog", daemon=True)
                self._thread.start()
        self._local.watch = watch
        try:
            yield watch
        finally:
            self._local.watch = None
            watch.end()
            with self._wake:
                self._watches.discard(watch)

    def current(self) -> Watch | None:
        """The watch of the attempt running on this thread, if any."""
        watch: Watch | None = getattr(self._local, "watch", None)
        return watch

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._watches:
                    self._thread = None
                    return
                watches = list(self._watches)
            for watch in watches:
                watch.check()
            with self._wake:
                self._wake.wait(POLL)


def _report(watchdog: Watchdog, connection: urllib3.connection.HTTPConnection) -> None:
    """Attach `connection` to the watch of this thread's attempt, and take it from the attempt it served before."""
    watch = watchdog.current()
    previous: Watch | None = getattr(connection, "_conveyor_watch", None)
    if previous is not None and previous is not watch:
        previous.release(connection)
    connection._conveyor_watch = watch  # type: ignore[attr-defined]
    if watch is not None:
        watch.attach(connection)


class WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    """A connection that reports to the watch of the attempt sending on it (its adapter's watchdog)."""

    watchdog: Watchdog

    def request(self, *args: Any, **kwargs: Any) -> None:
        _report(self.watchdog, self)
        super().request(*args, **kwargs)


class WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    """A TLS connection that reports to the watch of the attempt sending on it (its adapter's watchdog)."""

    watchdog: Watchdog

    def request(self, *args: Any, **kwargs: Any) -> None:
        _report(self.watchdog, self)
        super().request(*args, **kwargs)


def pools_for(watchdog: Watchdog) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes whose connections report to `watchdog` (urllib3 makes the connections itself, so the
    watchdog travels as a class attribute of classes made for it)."""
    http = type("WatchedHTTPConnection", (WatchedHTTPConnection,), {"watchdog": watchdog})
    https = type("WatchedHTTPSConnection", (WatchedHTTPSConnection,), {"watchdog": watchdog})
    return {
        "http": type("WatchedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("WatchedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


class WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter with connections watched by `watchdog` (directly and through a proxy)."""

    def __init__(self, watchdog: Watchdog, **kwargs: Any) -> None:
        self._pools = pools_for(watchdog)
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.PoolManager):
            manager.pool_classes_by_scheme = self._pools
        return manager
