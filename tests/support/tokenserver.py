"""A token service like GitLab's `/jwt/auth`, for a real registry running with `auth.token`.

It checks Basic credentials, grants only the actions each user may have on a repository (the intersection
with what the scope asks), silently drops `*` for job tokens (as GitLab does), and issues short-lived JWTs
signed with an EC key whose self-signed certificate travels in the `x5c` header (distribution 2.8 verifies
the chain against `rootcertbundle`; `kid` would need libtrust's key-id format).

distribution accepts a token up to 60 s after its `exp` (token.Leeway). To make tokens really expire after
`lifetime` seconds, `exp` is written 60 s earlier than that (`registry_leeway`); `expires_in` tells the
client `advertised_lifetime` (default: `lifetime`), so a test can also make the client trust a token longer
than the registry does and prove that a refused token is renewed.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.httpserver import BackgroundServer

REGISTRY_LEEWAY = 60


@dataclass
class User:
    password: str
    # repository name (or "*" for all) → actions it may have
    grants: dict[str, set[str]] = field(default_factory=dict)
    job_token: bool = False
    admin: bool = False

    def allowed(self, repository: str, wanted: list[str]) -> list[str]:
        may = self.grants.get(repository, set()) | self.grants.get("*", set())
        granted = [action for action in wanted if action in may and action != "*"]
        if "*" in wanted and self.admin and not self.job_token:
            granted.append("*")
        return granted


@dataclass
class TokenServer:
    """Start with `.start()`; `.realm`, `.service`, `.issuer`, `registry_auth_config()` for the registry."""

    root: Path
    users: dict[str, User] = field(default_factory=dict)
    lifetime: float = 3.0
    advertised_lifetime: float | None = None
    registry_leeway: float = REGISTRY_LEEWAY
    service: str = "conveyor-test-registry"
    issuer: str = "conveyor-test-issuer"
    issued: int = 0
    refused: int = 0
    requests_seen: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    _server: BackgroundServer | None = None
    _key: ec.EllipticCurvePrivateKey | None = None
    _cert_der: bytes = b""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def realm(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}/jwt/auth"

    @property
    def bundle(self) -> Path:
        return self.root / "token-cert.pem"

    def registry_auth_config(self) -> dict[str, Any]:
        return {
            "auth": {
                "token": {
                    "realm": self.realm,
                    "service": self.service,
                    "issuer": self.issuer,
                    "rootcertbundle": str(self.bundle),
                }
            }
        }

    def start(self) -> TokenServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        certificate = _self_signed(self._key)
        self._cert_der = certificate.public_bytes(serialization.Encoding.DER)
        self.bundle.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self._server = BackgroundServer.start(_handler(self), "tokenserver")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = None

    def answer(self, authorization: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for one /jwt/auth request."""
        user_name, user = self._authenticate(authorization)
        if user_name and user is None:
            with self._lock:
                self.refused += 1
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "HTTP Basic: Access denied"}]}
        access = []
        for scope in query.get("scope", []):
            for part in scope.split(" "):
                kind, _, rest = part.partition(":")
                name, _, actions = rest.rpartition(":")
                if kind != "repository" or not name:
                    continue
                granted = user.allowed(name, actions.split(",")) if user is not None else []
                access.append({"type": "repository", "name": name, "actions": granted})
        with self._lock:
            self.issued += 1
            self.requests_seen.append({"user": user_name, "scope": query.get("scope", []), "access": access})
        return 200, self._token(user_name, access)

    def _authenticate(self, authorization: str) -> tuple[str, User | None]:
        if not authorization.startswith("Basic "):
            return "", None
        try:
            name, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        except ValueError:
            return "?", None
        user = self.users.get(name)
        if user is None or user.password != password:
            return name or "?", None
        return name, user

    def _token(self, subject: str, access: list[dict[str, Any]]) -> dict[str, Any]:
        assert self._key is not None
        now = time.time()
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "iat": int(now),
            "nbf": int(now) - 1,
            "exp": int(now + self.lifetime - self.registry_leeway),
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        headers = {"typ": "JWT", "x5c": [base64.b64encode(self._cert_der).decode()]}
        token = jwt.encode(claims, self._key, algorithm="ES256", headers=headers)
        with self._lock:
            self.tokens.append(token)
        issued_at = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lifetime = self.advertised_lifetime if self.advertised_lifetime is not None else self.lifetime
        return {"token": token, "access_token": token, "expires_in": int(lifetime), "issued_at": issued_at}


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "conveyor test token signer")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )


def _handler(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != "/jwt/auth":
                self._send(404, {"message": "not found"})
                return
            status, body = server.answer(self.headers.get("Authorization", ""), parse_qs(url.query))
            self._send(status, body)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
