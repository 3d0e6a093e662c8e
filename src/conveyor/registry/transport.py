"""The one place that sends HTTP for the registry adapter (the registry, its token realm, GitLab's API).

`Transport.request()` sends one logical request: the credentials come from the Authenticator
(conveyor.registry.auth: challenge, token cache, renewal), tries are spaced by the Backoff within the
operation's deadline (conveyor.registry.retry: 429/5xx/connection errors; a refused connection twice), and
answers become one-line errors in conveyor.registry.answers. Every attempt has a connect and a read
timeout, its body is read as it arrives, and the watchdog (conveyor.registry.watchdog) cuts its connection
at the deadline, so that no server, silent or dripping its headers or body, outlasts the deadline by more
than a second. Answers that may have been acted on (5xx, a cut connection, a read timeout) are tried again
only with `replay`; otherwise they raise AnswerLost, for callers that read the registry's state first.

Once `options.stopped()` answers True, no request is sent and a read waiting for its answer is abandoned
(ReadAbandoned); a write already sent is finished, and so is every request made in `finishing()` (a tag's
deletion once begun). requests' own following of redirects is off: only a
blob read's redirect is followed, by hand and without credentials to another origin
(conveyor.registry.redirects); any other is an error.

Here too: the proof that an address serves the registry API (`ping`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import NoReturn
from urllib.parse import urlsplit

import requests
import urllib3

from conveyor.redact import Redactor
from conveyor.registry import answers, redirects
from conveyor.registry.auth import Authenticator
from conveyor.registry.credentials import Credentials
from conveyor.registry.errors import NotARegistry, RegistryUnreachable
from conveyor.registry.options import RegistryOptions
from conveyor.registry.retry import (
    REFUSED_RETRIES,
    RETRY_STATUSES,
    Backoff,
    Failure,
    classify,
    never,
    retry_after,
)
from conveyor.registry.watchdog import Watch, Watchdog, WatchedAdapter

API_VERSION_HEADER = "Docker-Distribution-API-Version"
BODY_CHUNK = 65536
READS = frozenset({"GET", "HEAD"})  # abandoned on a stop while waiting; any other method is a write


def manifest_path(repository: str, reference: str) -> str:
    """The v2 path of a manifest by tag or digest."""
    return f"/v2/{repository}/manifests/{reference}"


class Transport:
    """HTTP to one registry (host[:port]) with its credentials. Thread-safe: share one between threads."""

    def __init__(self, registry: str, credentials: Credentials | None, options: RegistryOptions) -> None:
        self.registry = registry
        self.base_url = f"{options.scheme}://{registry}"
        self.credentials = credentials
        self.options = options
        self.redactor: Redactor = options.redactor
        self.deadline = options.deadline
        self._finishing = threading.local()  # per thread: inside `finishing()`, a stop does not cut requests
        stopped = self.stopped if options.stopped is not never else never
        self.backoff = Backoff(options.retry, options.deadline, options.sleep, options.monotonic, stopped)
        self._watchdog = Watchdog()
        self._own_session = options.session is None
        self._session = (
            options.session if options.session is not None else _new_session(options.pool_size, self._watchdog)
        )
        self._monotonic = options.monotonic
        self._auth = Authenticator(registry, credentials, options.actions, options.clock, self.redactor, self.request)
        self._lock = threading.Lock()
        self._proven = False
        if credentials is not None:
            self.redactor.add(credentials.password, credentials.user)

    def close(self) -> None:
        """Close the connections, when the session is the transport's own (an injected one is the caller's)."""
        if self._own_session:
            self._session.close()

    # ---- the registry proof -------------------------------------------------------------------------------

    def ping(self) -> None:
        """Prove that the address serves the registry API, once per transport: `/v2/` answers 200 or 401 with
        `Docker-Distribution-API-Version: registry/2.0`, as every registry does and a web server does not."""
        with self._lock:
            if self._proven:
                return
        response = self.request("GET", "/v2/")
        version = response.headers.get(API_VERSION_HEADER, "").strip().lower()
        if version != "registry/2.0":
            why = f"{API_VERSION_HEADER}: {version}" if version else f"no {API_VERSION_HEADER} header"
            raise NotARegistry(
                self.clean(f"{self.registry} is not a Docker registry API ({why} on /v2/)"),
                "check the registry address (CI_REGISTRY) and scheme (CONVEYOR_REGISTRY_SCHEME)",
            )
        if response.status_code not in (200, 401):
            raise NotARegistry(
                self.clean(
                    f"{self.registry} is not a Docker registry API (/v2/ answered {answers.describe(response)})"
                ),
                "check the registry address (CI_REGISTRY) and that nothing but the registry answers on it",
            )
        with self._lock:
            self._proven = True

    # ---- the one place that does HTTP ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        repository: str | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        replay: bool = True,
        deadline: float | None = None,
    ) -> requests.Response:
        """Send one logical request to `url` (a path on the registry, or a full URL) within `deadline`
        (monotonic; by default `self.deadline` seconds from now). With `repository`, the request carries the
        registry's credentials for that repository; without, it goes out as given (the /v2/ probe, the token
        realm, GitLab's API). It is tried again after what the server did not act on (429, no connection; a
        refused one only twice) and, with `replay`, after what it may have acted on (5xx, a cut connection, a
        read timeout). Without `replay` those raise AnswerLost, so that the caller reads the registry's state
        before acting again. Returns the final response (any other status). ReadAbandoned once stopped
        (see the module's docstring); a redirect not followed is a RegistryProtocolError."""
        full_url = url if "://" in url else self.base_url + url
        what = f"{method} {urlsplit(full_url).path}"
        started = self._monotonic()
        deadline = started + self.deadline if deadline is None else deadline
        attempts = refusals = reauthentications = 0
        failure: Failure | None = None
        answer = ""
        while (remaining := deadline - self._monotonic()) > 0:
            self._refuse_if_stopped(full_url, what, deadline)
            send = dict(headers or {})
            token = self._auth.authorize(send, repository, deadline) if repository is not None else None
            self._refuse_if_stopped(full_url, what, deadline)
            attempts += 1
            wait_for: float | None = None
            try:
                response = self._attempt(method, full_url, what, send, data, params, remaining, deadline, replay)
            except requests.RequestException as error:
                failure, answer = classify(error)
                if failure == "unsendable":  # a malformed URL, too many redirects: not worth trying again
                    raise RegistryUnreachable(
                        self.clean(f"cannot send {what} to {_host(full_url)} ({answer})"),
                        "check the registry address (CI_REGISTRY)",
                    ) from None
                if failure in ("refused", "unresolved"):
                    refusals += 1
                    if refusals > REFUSED_RETRIES:
                        break
                if failure == "lost" and not replay:
                    raise answers.answer_lost(_host(full_url), what, answer, self.clean) from None
            else:
                if repository is not None and response.status_code == 401 and reauthentications < 2:
                    reauthentications += 1
                    self._auth.learn(response, repository, token)
                    continue
                if repository is not None and response.status_code in (401, 403):
                    self._auth.refused(response, repository)
                if response.status_code not in RETRY_STATUSES:
                    return response
                failure, answer = "busy", answers.describe(response)
                if response.status_code != 429 and not replay:
                    raise answers.answer_lost(_host(full_url), what, answer, self.clean)
                wait_for = retry_after(response)
            if not self.backoff.pause(attempts, deadline, wait_for, f"{what} failed ({answer})"):
                break
        self._refuse_if_stopped(full_url, what, deadline)
        seconds = self._monotonic() - started
        raise answers.gave_up(_host(full_url), what, failure, answer, attempts, seconds, self.clean)

    def stopped(self) -> bool:
        """Whether a stop was asked for (RegistryOptions.stopped) and this thread is not `finishing`."""
        if self.options.stopped is never or self._is_finishing():
            return False
        return bool(self.options.stopped())

    def _is_finishing(self) -> bool:
        depth: int = getattr(self._finishing, "depth", 0)
        return depth > 0

    @contextlib.contextmanager
    def finishing(self) -> Iterator[None]:
        """Within the block, on this thread, a stop neither refuses nor cuts a request: what was begun (a tag's
        deletion) is finished."""
        self._finishing.depth = getattr(self._finishing, "depth", 0) + 1
        try:
            yield
        finally:
            self._finishing.depth -= 1

    def _refuse_if_stopped(self, url: str, what: str, deadline: float) -> None:
        if self.stopped():
            raise answers.abandoned(_host(url), what, self._since(deadline), False, self.clean)

    def _since(self, deadline: float) -> float:
        """Seconds since the operation whose deadline is `deadline` began."""
        return max(0.0, self._monotonic() - (deadline - self.deadline))

    def _attempt(
        self,
        method: str,
        url: str,
        what: str,
        headers: Mapping[str, str],
        data: bytes | None,
        params: Mapping[str, str] | None,
        remaining: float,
        deadline: float,
        replay: bool,
    ) -> requests.Response:
        """One try, watched (its connection cut at the deadline, or for a read at a stop), with its socket
        timeouts cut to what is left of the deadline, the body read as it comes, a blob read's redirects
        followed (conveyor.registry.redirects)."""
        stopped = self.options.stopped if method in READS and not self._is_finishing() else never
        watch = Watch(deadline, self._monotonic, stopped)
        try:
            with self._watchdog.watching(watch):
                response = self._send(method, url, headers, data, params, remaining, deadline)
                hops = 0
                while (to := redirects.target(response.status_code, response.headers, response.url or url)) is not None:
                    response.close()
                    if not redirects.follows(method, url):
                        raise redirects.refused(self.registry, method, url, to, self.clean)
                    hops += 1
                    if hops > redirects.MAX_HOPS:
                        raise redirects.too_many(self.registry, method, url, to, self.clean)
                    headers = redirects.hop_headers(headers, self.base_url, to)
                    response = self._send(method, to, headers, None, None, deadline - self._monotonic(), deadline)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            if watch.cut is None:
                if isinstance(error, requests.RequestException):
                    raise
                raise requests.ConnectionError(error) from error
            self._cut(watch, url, what, deadline, replay, error)
        if watch.cut is not None:
            self._cut(watch, url, what, deadline, replay, None)
        return response

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        data: bytes | None,
        params: Mapping[str, str] | None,
        remaining: float,
        deadline: float,
    ) -> requests.Response:
        """One HTTP exchange (requests' redirects off), its body read."""
        options = self.options
        remaining = max(remaining, 0.001)
        timeout = (min(options.connect_timeout, remaining), min(options.read_timeout, remaining))
        response = self._session.request(
            method,
            url,
            headers=dict(headers),
            data=data,
            params=params,
            timeout=timeout,
            stream=True,
            allow_redirects=False,
        )
        if not self._read_body(response, deadline):
            raise self._still_sending(url, method, deadline)
        return response

    def _cut(
        self, watch: Watch, url: str, what: str, deadline: float, replay: bool, error: BaseException | None
    ) -> NoReturn:
        """Raise for an attempt the watchdog cut: ReadAbandoned at a stop; at the deadline, a write's lost
        answer (without `replay`: the caller reads the registry's state), else the registry was too slow."""
        cause = error.__cause__ if error is not None else None
        if watch.cut == "stopped":
            raise answers.abandoned(_host(url), what, self._since(deadline), True, self.clean) from cause
        if not replay and what.split(" ", 1)[0] not in READS:
            raise answers.answer_lost(_host(url), what, "still unanswered at the deadline", self.clean) from None
        raise self._still_sending(url, what.split(" ", 1)[0], deadline) from None

    def _still_sending(self, url: str, method: str, deadline: float) -> RegistryUnreachable:
        what = f"{method} {urlsplit(url).path}"
        return RegistryUnreachable(
            self.clean(
                f"registry {_host(url)} was still sending its answer to {what} when the deadline "
                f"passed ({self._since(deadline):.1f} s)"
            ),
            "check the registry and any proxy in front of it, or raise CONVEYOR_REGISTRY_TIMEOUT",
        )

    def _read_body(self, response: requests.Response, deadline: float) -> bool:
        """Read the body as it arrives; False (connection closed) when `deadline` passes first. A read
        timeout bounds the wait for each byte only: the deadline is checked after each chunk here, and the
        watchdog cuts a connection that sends nothing more (or drips its headers) past it."""
        chunks: list[bytes] = []
        try:
            while chunk := response.raw.read1(BODY_CHUNK, decode_content=True):
                chunks.append(chunk)
                if self._monotonic() > deadline:
                    response.close()
                    return False
        except urllib3.exceptions.ReadTimeoutError as error:
            response.close()
            raise requests.ReadTimeout(error) from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            response.close()
            raise requests.ConnectionError(error) from error
        response._content = b"".join(chunks)  # what Response.content would read, already read
        return True

    # ---- answers as errors -------------------------------------------------------------------------------

    def fail(self, response: requests.Response, action: str) -> NoReturn:
        """Raise the one-line error for an answer `action` cannot use (conveyor.registry.answers.fail)."""
        answers.fail(self.registry, response, action, self.clean)

    def raise_if_deletes_refused(self, response: requests.Response) -> None:
        answers.raise_if_deletes_refused(self.registry, response)

    def clean(self, text: str) -> str:
        """`text` on one line, without any secret this transport knows."""
        return self.redactor.clean(" ".join(text.split()))


def _new_session(pool_size: int, watchdog: Watchdog) -> requests.Session:
    """A session whose connections `watchdog` can cut (conveyor.registry.watchdog)."""
    session = requests.Session()
    adapter = WatchedAdapter(watchdog, pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]
