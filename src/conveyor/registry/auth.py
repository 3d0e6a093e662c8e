"""The registry's authentication challenge, the bearer tokens it leads to, and the Authenticator that adds
them to requests (the authentication layer of the registry transport).

A 401 carries `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`). For Bearer,
the client asks the realm for a token with Basic credentials and caches it per scope until it expires
(`expires_in` from `issued_at`, 60 s when absent, as the distribution token spec says).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

import requests

from conveyor.redact import Redactor
from conveyor.registry import answers
from conveyor.registry.credentials import Credentials
from conveyor.registry.errors import AuthenticationFailed, PermissionDenied, RegistryProtocolError

DEFAULT_TOKEN_LIFETIME = 60.0
# Renew a token this many seconds before it expires (or at half its life when that is shorter).
EXPIRY_MARGIN = 5.0

_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    """One parsed WWW-Authenticate challenge."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scope(self) -> str:
        return self.params.get("scope", "")

    @property
    def error(self) -> str:
        return self.params.get("error", "")


def parse_challenge(header: str) -> Challenge | None:
    """Parse a WWW-Authenticate value (`Bearer realm="…",service="…"`); None when it is empty or unknown."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            break
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare or ""
        params[match.group(1).lower()] = value
        position = match.end()
    return Challenge(scheme.lower(), params)


def repository_scope(repository: str, actions: tuple[str, ...]) -> str:
    """`repository:<name>:pull,push,delete`: the scope asked for, never `*` (job tokens drop it silently)."""
    return f"repository:{repository}:{','.join(actions)}"


@dataclass(frozen=True)
class Token:
    """A bearer token and the moment (clock seconds) after which it must not be used."""

    value: str = field(repr=False)
    expires_at: float

    def valid(self, now: float) -> bool:
        return now < self.expires_at


def token_from_response(body: dict[str, Any], now: float) -> Token:
    """Build a Token from the realm's JSON (`token` or `access_token`, `expires_in`, `issued_at`)."""
    value = body.get("token") or body.get("access_token")
    if not isinstance(value, str) or not value:
        raise ValueError("the token realm answered without a token")
    lifetime = body.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else DEFAULT_TOKEN_LIFETIME
    issued = _issued_at(body.get("issued_at"), now)
    margin = min(EXPIRY_MARGIN, seconds / 2)
    return Token(value, issued + seconds - margin)


def _issued_at(text: Any, now: float) -> float:
    """The token's issue time, but never later than `now` nor earlier than `now` minus a day (clock skew)."""
    if not isinstance(text, str) or not text:
        return now
    try:
        issued = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return now
    return min(max(issued, now - 86400), now)


class TokenCache:
    """Tokens per (realm, service, scope); thread-safe. One per client instance."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], Token] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str], now: float) -> Token | None:
        with self._lock:
            token = self._tokens.get(key)
            return token if token is not None and token.valid(now) else None

    def put(self, key: tuple[str, str, str], token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def discard(self, key: tuple[str, str, str], token: Token) -> None:
        """Forget `token` (refused by the registry) unless another thread already replaced it."""
        with self._lock:
            if self._tokens.get(key) is token:
                del self._tokens[key]


Send = Callable[..., requests.Response]
"""Sends one request without the registry's credentials (Transport.request): for the token realm."""
CREDENTIALS_HINT = "check CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, the job token or the access token"


class Authenticator:
    """The credentials side of one registry: what its challenge asks for (anonymous, Basic, Bearer), the
    tokens fetched from its realm per repository scope (cached, renewed on expiry or refusal), and the
    one-line errors when the registry or realm refuses. Thread-safe."""

    def __init__(
        self,
        registry: str,
        credentials: Credentials | None,
        actions: tuple[str, ...],
        clock: Callable[[], float],
        redactor: Redactor,
        send: Send,
    ) -> None:
        self._registry = registry
        self.credentials = credentials
        self._actions = actions
        self._clock = clock
        self._redactor = redactor
        self._send = send
        self._tokens = TokenCache()
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None

    def scope(self, repository: str) -> str:
        return repository_scope(repository, self._actions)

    def authorize(self, headers: dict[str, str], repository: str, deadline: float) -> Token | None:
        """Add the Authorization header `repository` needs, as far as the registry's challenge is known."""
        with self._lock:
            challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if self.credentials is not None:
                headers["Authorization"] = basic(self.credentials)
            return None
        token = self._token(challenge, self.scope(repository), deadline)
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
        headers = {"Authorization": basic(self.credentials)} if self.credentials is not None else {}
        response = self._send("GET", challenge.realm, headers=headers, params=params, deadline=deadline)
        if response.status_code in (401, 403):
            user = f" of {self.credentials.user} ({self.credentials.source})" if self.credentials else ""
            raise AuthenticationFailed(
                self._clean(f"token service {challenge.realm} refused the credentials{user} ({response.status_code})"),
                CREDENTIALS_HINT,
            )
        if response.status_code != 200:
            answers.fail(self._registry, response, f"fetching a token from {challenge.realm}", self._clean)
        try:
            body = answers.json_object(response, f"the token request to {challenge.realm}")
            token = token_from_response(body, self._clock())
        except ValueError as error:
            raise RegistryProtocolError(str(error), f"check the token service {challenge.realm}") from None
        self._redactor.add(token.value)
        self._tokens.put(key, token)
        return token

    def learn(self, response: requests.Response, repository: str, refused: Token | None) -> None:
        """Take in a 401's challenge (forgetting the token it refused) before the request is tried again."""
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if (
            challenge is None
            or challenge.scheme not in ("basic", "bearer")
            or (challenge.scheme == "bearer" and not challenge.realm)
        ):
            raise AuthenticationFailed(
                f"registry {self._registry} asks for authentication it does not describe (no usable WWW-Authenticate)",
                "check the registry's auth configuration",
            )
        if challenge.scheme == "basic" and self.credentials is None:
            raise self.no_credentials()
        if refused is not None:
            self._tokens.discard((challenge.realm, challenge.service, self.scope(repository)), refused)
        with self._lock:
            self._challenge = Challenge(challenge.scheme, {"realm": challenge.realm, "service": challenge.service})

    def refused(self, response: requests.Response, repository: str) -> NoReturn:
        """Raise the one-line error for a 401 or 403 that another try will not change."""
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if response.status_code == 403 or (challenge is not None and challenge.error == "insufficient_scope"):
            who = self.credentials.user if self.credentials else "anonymous users"
            raise PermissionDenied(
                f"registry {self._registry} did not grant {self.scope(repository)} to {who}",
                "use credentials with those rights (delete needs Maintainer; or a personal access token)",
            )
        if self.credentials is None:
            raise self.no_credentials()
        raise AuthenticationFailed(
            self._clean(
                f"registry {self._registry} refused the credentials of {self.credentials.user} "
                f"({self.credentials.source})"
            ),
            CREDENTIALS_HINT,
        )

    def no_credentials(self) -> AuthenticationFailed:
        return AuthenticationFailed(
            f"registry {self._registry} requires credentials and none were given",
            "set CI_REGISTRY_USER and CI_REGISTRY_PASSWORD (or a job/access token), or docker login",
        )

    def _clean(self, text: str) -> str:
        return self._redactor.clean(" ".join(text.split()))


def basic(credentials: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{credentials.user}:{credentials.password}".encode()).decode()
