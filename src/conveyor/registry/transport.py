"""The one place that sends HTTP for the registry adapter (the registry, its token realm, GitLab's API).

`Transport.request()` answers the 401 challenge (anonymous, Basic, Bearer), caches tokens per scope, renews
them on expiry or refusal, and retries 429/5xx/connection errors with bounded exponential backoff honouring
Retry-After for as long as the operation's deadline allows (a refused connection: twice). Every attempt has
a connect and a read timeout, and a body is read as it arrives, so a silent or drip-feeding server cannot
outlast the deadline. Answers that may have been acted on (5xx, a cut connection, a read timeout) are tried
again only with `replay`; otherwise they raise AnswerLost, for callers that read the registry's state first.

Here too: the proof that an address serves the registry API (`ping`), and the mapping of answers to
Conveyor's one-line errors (`fail`, `describe`)."""

from __future__ import annotations

import base64
import email.utils
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import requests
import urllib3

from conveyor.redact import Redactor
from conveyor.registry.auth import Challenge, Token, TokenCache, parse_challenge, repository_scope, token_from_response
from conveyor.registry.credentials import Credentials
from conveyor.registry.errors import (
    AnswerLost,
    AuthenticationFailed,
    DeletesDisabled,
    ManifestNotFound,
    NotARegistry,
    PermissionDenied,
    RegistryProtocolError,
    RegistryUnavailable,
    RegistryUnreachable,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REFUSED_RETRIES = 2  # a refused connection (or an unknown host) is tried three times in all, not until the deadline
DEFAULT_ACTIONS = ("pull", "push", "delete")
API_VERSION_HEADER = "Docker-Distribution-API-Version"
BODY_CHUNK = 65536
CREDENTIALS_HINT = "check CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, the job token or the access token"

# Why an attempt failed: nothing listens, the host is unknown, no connection within the connect timeout, the
# request may have reached the registry (cut connection, read timeout), it cannot be sent, or 429/5xx.
Failure = Literal["refused", "unresolved", "unconnected", "lost", "unsendable", "busy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Waits base·2ⁿ seconds (or Retry-After) between tries, never more than `max_delay`; how many tries
    fit is the client's deadline's business."""

    base_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        wanted = retry_after if retry_after is not None else self.base_delay * (2**attempt)
        return max(0.0, min(wanted, self.max_delay))


def manifest_path(repository: str, reference: str) -> str:
    """The v2 path of a manifest by tag or digest."""
    return f"/v2/{repository}/manifests/{reference}"


class Transport:
    """HTTP to one registry (host[:port]) with its credentials. Thread-safe: share one between threads."""

    def __init__(
        self,
        registry: str,
        credentials: Credentials | None = None,
        *,
        scheme: str = "https",
        redactor: Redactor | None = None,
        session: requests.Session | None = None,
        actions: tuple[str, ...] = DEFAULT_ACTIONS,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        deadline: float = 60.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        pool_size: int = 16,
    ) -> None:
        """`deadline`: seconds one operation may take, retries included (CONVEYOR_REGISTRY_TIMEOUT); each
        attempt also gives up after `connect_timeout` without a connection and `read_timeout` without a byte.
        `clock` (wall time) dates tokens, `monotonic` measures deadlines, `sleep` waits between tries.
        `actions` are what the tokens are asked for, per repository."""
        self.registry = registry
        self.base_url = f"{scheme}://{registry}"
        self.credentials = credentials
        self.redactor = redactor if redactor is not None else Redactor()
        self._own_session = session is None
        self._session = session if session is not None else _new_session(pool_size)
        self._actions = actions
        self._retry = retry or RetryPolicy()
        self.deadline = deadline
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self._tokens = TokenCache()
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._proven = False
        if credentials is not None:
            self.redactor.add(credentials.password, credentials.user)

    def close(self) -> None:
        """Close the connections, when the session is the transport's own (an injected one is the caller's)."""
        if self._own_session:
            self._session.close()

    # ---- deadlines and backoff ---------------------------------------------------------------------------

    def deadline_from_now(self) -> float:
        """The monotonic time by which an operation starting now must be done."""
        return self._monotonic() + self.deadline

    def pause(self, tries: int, deadline: float, retry_after: float | None = None, why: str = "") -> bool:
        """Back off before try `tries` + 1 (Retry-After when given); False, without waiting, when the wait
        would pass `deadline`."""
        delay = self._retry.delay(tries - 1, retry_after)
        if self._monotonic() + delay >= deadline:
            return False
        if why:
            log.debug("%s; try %d in %.2fs", why, tries + 1, delay)
        self._sleep(delay)
        return True

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
                self.clean(f"{self.registry} is not a Docker registry API (/v2/ answered {describe(response)})"),
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
        registry's credentials for that repository (challenge, cached token, renewal); without, it goes out
        as given (the /v2/ probe, the token realm, GitLab's API). It is tried again after what the server did
        not act on (429, no connection; a refused one only twice) and, with `replay`, after what it may have
        acted on (5xx, a cut connection, a read timeout). Without `replay` those raise AnswerLost, so that the
        caller reads the registry's state before acting again. Returns the final response (any other status)."""
        full_url = url if "://" in url else self.base_url + url
        what = f"{method} {urlsplit(full_url).path}"
        started = self._monotonic()
        deadline = started + self.deadline if deadline is None else deadline
        attempts = refusals = reauthentications = 0
        failure: Failure | None = None
        answer = ""
        while (remaining := deadline - self._monotonic()) > 0:
            send = dict(headers or {})
            token = self._authorize(send, repository, deadline) if repository is not None else None
            attempts += 1
            retry_after: float | None = None
            try:
                timeout = (min(self._connect_timeout, remaining), min(self._read_timeout, remaining))
                response = self._session.request(
                    method, full_url, headers=send, data=data, params=params, timeout=timeout, stream=True
                )
                if not self._read_body(response, deadline):
                    raise RegistryUnreachable(
                        self.clean(
                            f"registry {_host(full_url)} was still sending its answer to {what} when the deadline "
                            f"passed ({self._monotonic() - started:.1f} s)"
                        ),
                        "check the registry and any proxy in front of it, or raise CONVEYOR_REGISTRY_TIMEOUT",
                    )
            except requests.RequestException as error:
                failure, answer = _failure(error)
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
                    raise self._answer_lost(full_url, what, answer) from None
            else:
                if repository is not None and response.status_code == 401 and reauthentications < 2:
                    reauthentications += 1
                    self._learn_challenge(response, repository, token)
                    continue
                if repository is not None and response.status_code in (401, 403):
                    self._raise_auth_failure(response, repository)
                if response.status_code not in RETRY_STATUSES:
                    return response
                failure, answer = "busy", describe(response)
                if response.status_code != 429 and not replay:
                    raise self._answer_lost(full_url, what, answer)
                retry_after = _retry_after(response)
            if not self.pause(attempts, deadline, retry_after, f"{what} failed ({answer})"):
                break
        raise self._gave_up(full_url, what, failure, answer, attempts, self._monotonic() - started)

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

    def _answer_lost(self, url: str, what: str, answer: str) -> AnswerLost:
        return AnswerLost(
            self.clean(f"registry {_host(url)} lost its answer to {what} ({answer})"),
            "run the cleanup again (it reads the state and goes on), or check the registry's health and logs",
            answer,
        )

    def _gave_up(
        self, url: str, what: str, failure: Failure | None, answer: str, attempts: int, seconds: float
    ) -> RegistryUnreachable | RegistryUnavailable:
        """The one-line error for a request that never got a usable answer: the registry, what was tried,
        how often and for how long, and what to do."""
        host = _host(url)
        tried = f"{attempts} attempt{'s' if attempts != 1 else ''} in {seconds:.1f} s"
        if failure == "busy":
            return RegistryUnavailable(
                self.clean(f"registry {host} kept answering {what} with {answer} ({tried})"),
                "retry later, or check the registry's health and logs (CONVEYOR_REGISTRY_TIMEOUT sets how long to try)",
            )
        if failure in ("refused", "unresolved", "unconnected"):
            return RegistryUnreachable(
                self.clean(f"cannot reach {host}: {answer} ({what}, {tried})"),
                "check the registry address (CI_REGISTRY) and that it is running",
            )
        return RegistryUnreachable(
            self.clean(f"registry {host} did not answer {what} ({answer or 'no time left'}; {tried})"),
            "check that the registry is up and reachable, or raise CONVEYOR_REGISTRY_TIMEOUT",
        )

    # ---- authentication ----------------------------------------------------------------------------------

    def _authorize(self, headers: dict[str, str], repository: str, deadline: float) -> Token | None:
        """Add the Authorization header `repository` needs, as far as the registry's challenge is known."""
        with self._lock:
            challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if self.credentials is not None:
                headers["Authorization"] = _basic(self.credentials)
            return None
        token = self._token(challenge, self._scope(repository), deadline)
        headers["Authorization"] = f"Bearer {token.value}"
        return token

    def _token(self, challenge: Challenge, scope: str, deadline: float) -> Token:
        key = (challenge.realm, challenge.service, scope)
        cached = self._tokens.get(key, self._clock())
        if cached is not None:
            return cached
        params = {"service": challenge.service} if challenge.service else {}
        if scope:
            params["scope"] = scope
        headers = {"Authorization": _basic(self.credentials)} if self.credentials is not None else {}
        response = self.request("GET", challenge.realm, headers=headers, params=params, deadline=deadline)
        if response.status_code in (401, 403):
            user = f" of {self.credentials.user} ({self.credentials.source})" if self.credentials else ""
            raise AuthenticationFailed(
                self.clean(f"token service {challenge.realm} refused the credentials{user} ({response.status_code})"),
                CREDENTIALS_HINT,
            )
        if response.status_code != 200:
            self.fail(response, f"fetching a token from {challenge.realm}")
        try:
            token = token_from_response(json_object(response, f"the token request to {challenge.realm}"), self._clock())
        except ValueError as error:
            raise RegistryProtocolError(str(error), f"check the token service {challenge.realm}") from None
        self.redactor.add(token.value)
        self._tokens.put(key, token)
        return token

    def _learn_challenge(self, response: requests.Response, repository: str, refused: Token | None) -> None:
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if (
            challenge is None
            or challenge.scheme not in ("basic", "bearer")
            or (challenge.scheme == "bearer" and not challenge.realm)
        ):
            raise AuthenticationFailed(
                f"registry {self.registry} asks for authentication it does not describe (no usable WWW-Authenticate)",
                "check the registry's auth configuration",
            )
        if challenge.scheme == "basic" and self.credentials is None:
            raise self._no_credentials()
        if refused is not None:
            self._tokens.discard((challenge.realm, challenge.service, self._scope(repository)), refused)
        with self._lock:
            self._challenge = Challenge(challenge.scheme, {"realm": challenge.realm, "service": challenge.service})

    def _raise_auth_failure(self, response: requests.Response, repository: str) -> NoReturn:
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if response.status_code == 403 or (challenge is not None and challenge.error == "insufficient_scope"):
            who = self.credentials.user if self.credentials else "anonymous users"
            raise PermissionDenied(
                f"registry {self.registry} did not grant {self._scope(repository)} to {who}",
                "use credentials with those rights (delete needs Maintainer; or a personal access token)",
            )
        if self.credentials is None:
            raise self._no_credentials()
        raise AuthenticationFailed(
            self.clean(
                f"registry {self.registry} refused the credentials of {self.credentials.user} "
                f"({self.credentials.source})"
            ),
            CREDENTIALS_HINT,
        )

    def _no_credentials(self) -> AuthenticationFailed:
        return AuthenticationFailed(
            f"registry {self.registry} requires credentials and none were given",
            "set CI_REGISTRY_USER and CI_REGISTRY_PASSWORD (or a job/access token), or docker login",
        )

    def _scope(self, repository: str) -> str:
        return repository_scope(repository, self._actions)

    # ---- answers as errors -------------------------------------------------------------------------------

    def fail(self, response: requests.Response, action: str) -> NoReturn:
        """Raise the one-line error for an answer `action` cannot use: ManifestNotFound for a 404, else
        RegistryProtocolError."""
        detail = describe(response)
        if response.status_code == 404:
            problem = self.clean(f"registry {self.registry}: {action} failed ({detail})")
            raise ManifestNotFound(problem, "check the repository and tag names")
        raise RegistryProtocolError(
            self.clean(f"registry {self.registry} answered {detail} when {action}"),
            "check the registry's logs",
        )

    def raise_if_deletes_refused(self, response: requests.Response) -> None:
        """Raise DeletesDisabled when `response` to a DELETE says the registry does not delete at all."""
        code = error_code(response)
        if response.status_code == 405 or code == "UNSUPPORTED":
            raise DeletesDisabled(
                f"registry {self.registry} refused deletes ({response.status_code} {code or 'Method Not Allowed'})",
                "enable storage.delete.enabled in the registry config",
            )

    def clean(self, text: str) -> str:
        """`text` on one line, without any secret this transport knows."""
        return self.redactor.clean(" ".join(text.split()))


def describe(response: requests.Response) -> str:
    """A status for messages: `404 MANIFEST_UNKNOWN` for a registry error, `502 and a text/html body` for a
    body that is not one, else the bare status."""
    code = error_code(response)
    if code:
        return f"{response.status_code} {code}"
    kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "untyped"
    return f"{response.status_code} and a {kind} body" if response.content else str(response.status_code)


def error_code(response: requests.Response) -> str:
    """The first `errors[].code` of a registry error body ("" when there is none)."""
    if not response.content or "json" not in response.headers.get("Content-Type", "json"):
        return ""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return ""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code", ""))
    return ""


def json_object(response: requests.Response, what: str) -> dict[str, Any]:
    """The body as a JSON object; RegistryProtocolError, naming `what`, when it is not one."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RegistryProtocolError(
            f"{what} got {describe(response)}, not a JSON object", "check the address and any proxy in front of it"
        )
    return data


def _new_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _basic(credentials: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{credentials.user}:{credentials.password}".encode()).decode()


def _failure(error: requests.RequestException) -> tuple[Failure, str]:
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


def _retry_after(response: requests.Response) -> float | None:
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
