"""The registry's authentication challenge and the bearer tokens it leads to.

A 401 carries `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`). For Bearer,
the client asks the realm for a token with Basic credentials and caches it per scope until it expires
(`expires_in` from `issued_at`, 60 s when absent, as the distribution token spec says).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
