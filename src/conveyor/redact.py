"""Secret redaction: every line Conveyor prints or raises passes through a Redactor that knows the
secrets of this run (passwords, tokens, their base64 forms, and tokens fetched from a registry)."""

from __future__ import annotations

import base64
from collections.abc import Iterable

MASK = "[MASKED]"
MIN_SECRET_LENGTH = 4


class Redactor:
    """Replaces every known secret (and its base64 forms) in a text with [MASKED]."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str, user: str = "") -> None:
        """Remember `secret`, its base64 form and, with `user`, the base64 of `user:secret` (Basic auth)."""
        if len(secret) < MIN_SECRET_LENGTH:
            return
        self._secrets.add(secret)
        self._secrets.add(base64.b64encode(secret.encode()).decode())
        if user:
            self._secrets.add(base64.b64encode(f"{user}:{secret}".encode()).decode())

    def clean(self, text: str) -> str:
        """`text` with every secret replaced, longest first so that no fragment survives."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text
