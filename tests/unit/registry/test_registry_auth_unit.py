"""Unit tests: challenge parsing, tokens (cache, expiry, refusal), Basic and anonymous access."""

from __future__ import annotations

import base64

import pytest
from registry_fakes import Answer, Call, make_client, response

from conveyor.registry import Credentials
from conveyor.registry.auth import parse_challenge, token_from_response
from conveyor.registry.errors import AuthenticationFailed, PermissionDenied

BEARER = 'Bearer realm="https://gitlab.test/jwt/auth",service="container_registry",scope="repository:g/a:pull"'
CREDS = Credentials("alice", "pa55word-xyz", "test")


def test_parse_bearer_challenge() -> None:
    challenge = parse_challenge(BEARER)
    assert challenge is not None
    assert (challenge.scheme, challenge.realm, challenge.service, challenge.scope) == (
        "bearer",
        "https://gitlab.test/jwt/auth",
        "container_registry",
        "repository:g/a:pull",
    )


def test_parse_challenge_with_error_escapes_and_bare_values() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://a.test/token",error="insufficient_scope",scope="repository:x:pull,push", x=bare'
    )
    assert challenge is not None
    assert challenge.error == "insufficient_scope" and challenge.scope == "repository:x:pull,push"
    assert challenge.params["x"] == "bare"
    basic = parse_challenge('Basic realm="Registry \\"realm\\""')
    assert basic is not None and basic.scheme == "basic" and basic.realm == 'Registry "realm"'
    assert parse_challenge("") is None


def test_token_lifetime_from_expires_in_and_issued_at() -> None:
    token = token_from_response({"token": "t", "expires_in": 300, "issued_at": "1970-01-12T13:46:40Z"}, 1_000_000)
    assert token.expires_at == 1_000_000 + 300 - 5
    default = token_from_response({"access_token": "t"}, 100.0)
    assert default.expires_at == 100 + 60 - 5
    short = token_from_response({"token": "t", "expires_in": 2}, 0.0)
    assert short.expires_at == 1.0  # renewed at half its life when that is earlier than 5 s before expiry
    with pytest.raises(ValueError):
        token_from_response({}, 0.0)


class TokenRegistry:
    """A registry asking for Bearer tokens, and its realm. Tokens are `tok-<n>`; `refuse` lists refused ones."""

    def __init__(self, expires_in: int = 60) -> None:
        self.issued = 0
        self.expires_in = expires_in
        self.refuse: set[str] = set()
        self.realm_calls: list[Call] = []

    def __call__(self, call: Call) -> Answer:
        if call.url.startswith("https://gitlab.test/jwt/auth"):
            self.realm_calls.append(call)
            if call.headers.get("Authorization") != "Basic " + base64.b64encode(b"alice:pa55word-xyz").decode():
                return response(401, {"message": "denied"})
            self.issued += 1
            return response(200, {"token": f"tok-{self.issued}", "expires_in": self.expires_in})
        auth = call.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] in self.refuse:
            return response(401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": BEARER})
        return response(200, {"name": "g/a", "tags": ["one"]})


def test_bearer_token_fetched_with_basic_credentials_and_full_scope() -> None:
    registry = TokenRegistry()
    client, session, _ = make_client(registry, CREDS)
    assert client.list_tags("g/a") == ["one"]
    assert len(session.calls) == 3  # 401, token, retry
    assert registry.realm_calls[0].query == {
        "service": "container_registry",
        "scope": "repository:g/a:pull,push,delete",
    }
    assert session.calls[2].headers["Authorization"] == "Bearer tok-1"


def test_token_cached_per_scope_then_renewed_on_expiry() -> None:
    registry = TokenRegistry(expires_in=60)
    client, session, clock = make_client(registry, CREDS)
    client.list_tags("g/a")
    client.list_tags("g/a")
    assert registry.issued == 1 and len(session.calls) == 4  # the second listing is one request
    client.list_tags("g/b")
    assert registry.issued == 2  # another repository, another scope
    clock.now += 56
    client.list_tags("g/a")
    assert registry.issued == 3  # renewed before it expired, without a 401 round trip
    assert session.calls[-1].headers["Authorization"] == "Bearer tok-3"


def test_refused_token_is_renewed_once() -> None:
    registry = TokenRegistry(expires_in=3600)
    client, session, _ = make_client(registry, CREDS)
    client.list_tags("g/a")
    registry.refuse.add("tok-1")  # revoked / expired early on the registry's side
    assert client.list_tags("g/a") == ["one"]
    assert registry.issued == 2 and session.calls[-1].headers["Authorization"] == "Bearer tok-2"


def test_wrong_credentials_at_the_realm() -> None:
    client, _, _ = make_client(TokenRegistry(), Credentials("alice", "not-it-1234", "CI_REGISTRY_PASSWORD"))
    with pytest.raises(AuthenticationFailed) as raised:
        client.list_tags("g/a")
    assert "refused the credentials of alice (CI_REGISTRY_PASSWORD)" in str(raised.value)
    assert "not-it-1234" not in str(raised.value)


def test_insufficient_scope_is_permission_denied() -> None:
    def handler(call: Call) -> Answer:
        if "jwt/auth" in call.url:
            return response(200, {"token": "tok"})
        challenge = BEARER.replace('scope="', 'error="insufficient_scope",scope="')
        return response(401, {"errors": [{"code": "DENIED"}]}, {"WWW-Authenticate": challenge})

    client, session, _ = make_client(handler, CREDS)
    with pytest.raises(PermissionDenied) as raised:
        client.deleter.check_deletes_allowed("g/a")
    assert "did not grant repository:g/a:pull,push,delete to alice" in str(raised.value)
    assert len(session.calls) <= 6


def test_anonymous_bearer_token_without_credentials() -> None:
    def handler(call: Call) -> Answer:
        if "jwt/auth" in call.url:
            assert "Authorization" not in call.headers
            return response(200, {"token": "anon"})
        if call.headers.get("Authorization") != "Bearer anon":
            return response(401, b"", {"WWW-Authenticate": BEARER})
        return response(200, {"tags": ["x"]})

    client, _, _ = make_client(handler)
    assert client.list_tags("g/a") == ["x"]


def test_no_challenge_no_authorization_header() -> None:
    client, session, _ = make_client(lambda call: response(200, {"tags": []}), CREDS)
    client.list_tags("g/a")
    assert "Authorization" not in session.calls[0].headers


def test_basic_challenge() -> None:
    expected = "Basic " + base64.b64encode(b"alice:pa55word-xyz").decode()

    def handler(call: Call) -> Answer:
        if call.headers.get("Authorization") != expected:
            return response(401, b"", {"WWW-Authenticate": 'Basic realm="registry"'})
        return response(200, {"tags": ["b"]})

    client, session, _ = make_client(handler, CREDS)
    assert client.list_tags("g/a") == ["b"] and client.list_tags("g/a") == ["b"]
    assert len(session.calls) == 3  # the second call sends Basic at once
    anonymous, _, _ = make_client(handler)
    with pytest.raises(AuthenticationFailed, match="requires credentials and none were given"):
        anonymous.list_tags("g/a")
