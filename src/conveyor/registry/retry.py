"""Retrying within a deadline: the backoff between tries (base·2ⁿ seconds, or the server's Retry-After,
never past the operation's deadline, cut short by a stop) and why an attempt failed, classified from requests'
and urllib3's exceptions (nothing listens, the host is unknown, no connection, the answer may have been lost,
or the request cannot be sent at all)."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import requests
import urllib3

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
STOP_POLL = 0.25  # how often a wait asks whether a stop was requested (seconds)
REFUSED_RETRIES = 2  # a refused connection (or an unknown host) is tried three times in all, not until the deadline

# Why an attempt failed: nothing listens, the host is unknown, no connection within the connect timeout, the
# request may have reached the registry (cut connection, read timeout), it cannot be sent, or 429/5xx.
Failure = Literal["refused", "unresolved", "unconnected", "lost", "unsendable", "busy"]


def never() -> bool:
    """The stop that never comes (RegistryOptions.stopped's default)."""
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """Waits base·2ⁿ seconds (or Retry-After) between tries, never more than `max_delay`; how many tries
    fit is the client's deadline's business."""

    base_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        wanted = retry_after if retry_after is not None else self.base_delay * (2**attempt)
        return max(0.0, min(wanted, self.max_delay))


@dataclass(frozen=True)
class Backoff:
    """The waits of one client: its retry policy, its deadline per operation (seconds), the clocks, and the
    stop that cuts a wait short (asked every STOP_POLL seconds)."""

    policy: RetryPolicy
    deadline: float
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    stopped: Callable[[], bool] = never

    def deadline_from_now(self) -> float:
        """The monotonic time by which an operation starting now must be done."""
        return self.monotonic() + self.deadline

    def pause(self, tries: int, deadline: float, retry_after: float | None = None, why: str = "") -> bool:
        """Back off before try `tries` + 1 (Retry-After when given); False, without waiting, when the wait
        would pass `deadline`. A stop cuts the wait short (True: the next request refuses to start)."""
        delay = self.policy.delay(tries - 1, retry_after)
        if self.monotonic() + delay >= deadline:
            return False
        if why:
            log.debug("%s; try %d in %.2fs", why, tries + 1, delay)
        self.wait(delay)
        return True

    def wait(self, seconds: float) -> None:
        """Sleep `seconds`, asking every STOP_POLL seconds whether a stop was requested (then return early)."""
        if self.stopped is never:
            self.sleep(seconds)
            return
        end = self.monotonic() + seconds
        while not self.stopped() and (left := end - self.monotonic()) > 0:
            self.sleep(min(STOP_POLL, left))


def classify(error: requests.RequestException) -> tuple[Failure, str]:
    """Why an attempt failed, from requests' exception and its causes, and how to say it."""
    causes = _causes(error)
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "refused", "connection refused"
    if any(isinstance(cause, urllib3.exceptions.NameResolutionError) for cause in causes):
        return "unresolved", "the name does not resolve"
    if isinstance(error, requests.ConnectTimeout) or any(
        isinstance(cause, urllib3.exceptions.NewConnectionError) for cause in causes
    ):
        return "unconnected", "no connection"
    if isinstance(error, requests.ReadTimeout):
        return "lost", "read timeout"
    if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return "lost", "connection cut"
    return "unsendable", type(error).__name__


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and what it wraps: requests' and urllib3's exceptions keep the socket's error in args,
    `reason` and the exception chain."""
    found: list[BaseException] = []
    pending: list[object] = [error]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or any(item is seen for seen in found):
            continue
        found.append(item)
        pending.extend((*item.args, getattr(item, "reason", None), item.__cause__, item.__context__))
    return found


def retry_after(response: requests.Response) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
