"""List pagination as the API server's etcd3 storage does it (apiserver/pkg/storage/continue.go).

A list with `limit` returns at most that many items, ordered by their etcd key (`<namespace>/<name>` below
the resource's prefix for a cluster-wide list, `<name>` for a namespaced one), and, when more remain,
`metadata.continue`: base64url (no padding) of `{"v":"meta.k8s.io/v1","rv":<rv>,"start":"<last key>\\u0000"}`,
plus `metadata.remainingItemCount` when the list has no selector. The next request reads the same snapshot
(resourceVersion `rv`); once that resourceVersion is compacted it answers 410 Expired with a fresh token
(rv -1: continue from the newest data) in the Status body's metadata."""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

TOKEN_VERSION = "meta.k8s.io/v1"
# etcd3's inconsistentContinue, word for word (staging/src/k8s.io/apiserver/pkg/storage/etcd3/errors.go)
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


class InvalidContinue(ValueError):
    """A continue token the server cannot decode (400 BadRequest)."""


@dataclass(frozen=True)
class Page:
    """One chunk of a list: its items, the continue token (empty on the last chunk) and how many items are
    left after it (None when the server cannot tell, i.e. with a selector)."""

    items: list[Obj]
    token: str
    remaining: int | None


def encode_continue(key: str, rv: int) -> str:
    """storage.EncodeContinue for a key already relative to the list's prefix."""
    raw = json.dumps({"v": TOKEN_VERSION, "rv": rv, "start": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[str, int]:
    """storage.DecodeContinue: (the start key relative to the prefix, the resourceVersion)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidContinue(f"continue key is not valid: {exc}") from exc
    if not isinstance(decoded, dict) or decoded.get("v") != TOKEN_VERSION:
        version = decoded.get("v") if isinstance(decoded, dict) else None
        raise InvalidContinue(f"continue key is not valid: server does not recognize this encoded version {version}")
    rv, start = decoded.get("rv"), decoded.get("start")
    if not isinstance(rv, int) or rv == 0:
        raise InvalidContinue(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        )
    if not isinstance(start, str) or not start:
        raise InvalidContinue("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
    key = start if start.startswith("/") else "/" + start
    if posixpath.normpath(key) != key:
        raise InvalidContinue(f"continue key is not valid: {start}")
    return key[1:], rv


def item_key(obj: Obj, cluster_wide: bool) -> str:
    """The object's etcd key below the list's prefix."""
    meta = obj["metadata"]
    namespace = meta.get("namespace", "")
    return f"{namespace}/{meta['name']}" if cluster_wide and namespace else str(meta["name"])


def paginate(items: list[Obj], cluster_wide: bool, limit: int, start: str, rv: int, counted: bool) -> Page:
    """The chunk of `items` (the list at resourceVersion `rv`) from key `start` on, at most `limit` long
    (0: no limit). `counted`: whether to report remainingItemCount (no selector on the list)."""
    keyed = sorted(((item_key(item, cluster_wide), item) for item in items), key=lambda pair: pair[0].encode())
    keyed = [(key, item) for key, item in keyed if key.encode() >= start.encode()]
    if limit <= 0 or len(keyed) <= limit:
        return Page([item for _, item in keyed], "", None)
    chunk, rest = keyed[:limit], keyed[limit:]
    token = encode_continue(chunk[-1][0] + "\x00", rv)
    return Page([item for _, item in chunk], token, len(rest) if counted else None)
