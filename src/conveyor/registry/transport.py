"""The one place that sends HTTP for the registry adapter (the registry, its token realm, GitLab's API).

`Transport.request()` sends one logical request: the credentials come from the Authenticator
(conveyor.registry.auth: challenge, token cache, renewal), tries are spaced by the Backoff within the
operation's deadline (conveyor.registry.retry: 429/5xx/connection errors; a refused connection twice), and
answers become one-line errors in conveyor.registry.answers. Every attempt has a connect and a read
timeout, and a body is read as it arrives, so a silent or drip-feeding server cannot outlast the deadline.
Answers that may have been acted on (5xx, a cut connection, a read timeout) are tried again only with
`replay`; otherwise they raise AnswerLost, for callers that read the registry's state first.

Here too: the proof that an address serves the registry API (`ping`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import NoReturn
from urllib.parse import urlsplit

import requests
import urllib3

from conveyor.redact import Redactor
from conveyor.registry import answers
from conveyor.registry.auth import Authenticator
from conveyor.registry.credentials import Credentials
from conveyor.registry.errors import NotARegistry, RegistryUnreachable
from conveyor.registry.options import RegistryOptions
from conveyor.registry.retry import REFUSED_RETRIES, RETRY_STATUSES, Backoff, Failure, classify, retry_after

API_VERSION_HEADER = "Docker-Distribution-API-Version"
BODY_CHUNK = 65536


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
        self.backoff = Backoff(options.retry, options.deadline, options.sleep, options.monotonic)
        self._own_session = options.session is None
        self._session = options.session if options.session is not None else _new_session(options.pool_size)
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
        before acting again. Returns the final response (any other status)."""
        full_url = url if "://" in url else self.base_url + url
        what = f"{method} {urlsplit(full_url).path}"
        started = self._monotonic()
        deadline = started + self.deadline if deadline is None else deadline
        attempts = refusals = reauthentications = 0
        failure: Failure | None = None
        answer = ""
        while (remaining := deadline - self._monotonic()) > 0:
            send = dict(headers or {})
            token = self._auth.authorize(send, repository, deadline) if repository is not None else None
            attempts += 1
            wait_for: float | None = None
            try:
                response = self._attempt(method, full_url, what, send, data, params, remaining, deadline, started)
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
        seconds = self._monotonic() - started
        raise answers.gave_up(_host(full_url), what, failure, answer, attempts, seconds, self.clean)

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
        started: float,
    ) -> requests.Response:
        """One try, with its socket timeouts cut to what is left of the deadline, the body read as it comes."""
        options = self.options
        timeout = (min(options.connect_timeout, remaining), min(options.read_timeout, remaining))
        response = self._session.request(
            method, url, headers=dict(headers), data=data, params=params, timeout=timeout, stream=True
        )
        if not self._read_body(response, deadline):
            raise RegistryUnreachable(
                self.clean(
                    f"registry {_host(url)} was still sending its answer to {what} when the deadline "
                    f"passed ({self._monotonic() - started:.1f} s)"
                ),
                "check the registry and any proxy in front of it, or raise CONVEYOR_REGISTRY_TIMEOUT",
            )
        return response

    def _read_body(self, response: requests.Response, deadline: float) -> bool:
        """Read the body as it arrives; False (connection closed) when `deadline` passes first. A read
        timeout bounds the wait for each byte only, so a server dripping bytes is stopped here."""
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


def _new_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]
