"""Which redirects the registry client follows (the rule is pure; Transport applies it, with requests' own
following turned off): only those of a blob read (GET, or HEAD, of /v2/<name>/blobs/<digest>, which
registries send to a storage backend such as S3), at most MAX_HOPS, and never with the registry's
credentials to another origin (scheme, host and port). Any other redirect (a write, a manifest, the tags
list, /v2/, the token realm, GitLab's API) is a one-line RegistryProtocolError: the registry is not where
Conveyor was told it is, and a write there would not change the configured registry."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import urljoin, urlsplit

from conveyor.registry.errors import RegistryProtocolError

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_HOPS = 5  # registry -> CDN/storage is one hop; a few more allow a signed-URL service in between
CREDENTIAL_HEADERS = frozenset({"authorization", "private-token", "job-token", "cookie"})
WRITES = frozenset({"PUT", "POST", "PATCH", "DELETE"})
# /v2/<name>/blobs/<algorithm>:<hex> (distribution's digest grammar); upload URLs (/blobs/uploads/...) are not.
_BLOB = re.compile(r"/v2/.+/blobs/[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
DEFAULT_PORTS = {"http": 80, "https": 443}

Clean = Callable[[str], str]


def target(status: int, headers: Mapping[str, str], url: str) -> str | None:
    """The absolute URL an answer redirects to, or None when it is no redirect (or one without a Location)."""
    location = headers.get("Location", "")
    return urljoin(url, location) if status in REDIRECT_STATUSES and location else None


def follows(method: str, url: str) -> bool:
    """Whether a redirect answered to `method` `url` is followed: a blob read only (GET or HEAD)."""
    return method in ("GET", "HEAD") and _BLOB.fullmatch(urlsplit(url).path) is not None


def origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port (the default port when none is given): what must match for credentials to go."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def hop_headers(headers: Mapping[str, str], registry_url: str, to: str) -> dict[str, str]:
    """The headers of the next hop: those of the last one, without any credential when `to` is another origin
    than the registry's (and once dropped, they stay dropped)."""
    if origin(to) == origin(registry_url):
        return dict(headers)
    return {name: value for name, value in headers.items() if name.lower() not in CREDENTIAL_HEADERS}


def where(url: str) -> str:
    """The host[:port] a redirect points at, for messages (never its path or query: signed URLs carry secrets)."""
    return urlsplit(url).netloc.rpartition("@")[2] or url


def refused(registry: str, method: str, url: str, to: str, clean: Clean) -> RegistryProtocolError:
    """The error for a redirect that is not followed."""
    path = urlsplit(url).path
    if method in WRITES:
        done = "deleted" if method == "DELETE" else "pushed"
        why = f"Conveyor does not follow a write elsewhere (nothing was {done} there)"
    else:
        why = "Conveyor follows redirects only for blob downloads, and does not follow a write elsewhere"
    return RegistryProtocolError(
        clean(f"registry {registry} redirected {method} {path} to {where(to)}"),
        f"{why}; check CI_REGISTRY and any proxy in front of the registry",
    )


def too_many(registry: str, method: str, url: str, to: str, clean: Clean) -> RegistryProtocolError:
    hops = f"more than {MAX_HOPS} times (last to {where(to)})"
    return RegistryProtocolError(
        clean(f"registry {registry} redirected {method} {urlsplit(url).path} {hops}"),
        "check the registry's storage configuration and any proxy in front of it",
    )
