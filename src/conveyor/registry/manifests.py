"""Manifest media types, digests, and the small manifests Conveyor builds itself (throwaway, test images)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"

IMAGE_MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
# Every type Conveyor reads, so the registry never down-converts to schema 1 nor picks a platform for us.
ACCEPT = ", ".join((*IMAGE_MANIFESTS, *INDEXES))


THROWAWAY_ANNOTATION = "org.conveyor.throwaway"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as stored: its bytes, media type and digest (sha256 of the bytes)."""

    raw: bytes
    media_type: str
    digest: str

    @classmethod
    def from_bytes(cls, raw: bytes, media_type: str = "") -> Manifest:
        return cls(raw, media_type or _declared_media_type(raw), sha256_digest(raw))

    def json(self) -> dict[str, Any]:
        data = json.loads(self.raw)
        if not isinstance(data, dict):
            raise ValueError("a manifest is a JSON object")
        return data

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES

    def config_digest(self) -> str:
        """The image config's digest (image manifests only; empty for an index)."""
        config = self.json().get("config")
        return str(config.get("digest", "")) if isinstance(config, dict) else ""

    @property
    def is_placeholder(self) -> bool:
        """Whether this is a throwaway manifest Conveyor pushed to delete a tag (see throwaway_manifest)."""
        try:
            annotations = self.json().get("annotations")
        except ValueError:
            return False
        return isinstance(annotations, dict) and THROWAWAY_ANNOTATION in annotations

    def child_digests(self) -> list[str]:
        """The digests of an index's manifests, in order."""
        children = self.json().get("manifests")
        if not isinstance(children, list):
            return []
        return [str(child["digest"]) for child in children if isinstance(child, dict) and "digest" in child]


def _declared_media_type(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return ""
    return str(data.get("mediaType", "")) if isinstance(data, dict) else ""


def image_manifest(config: bytes, layers: list[tuple[bytes, str]], media_type: str = OCI_MANIFEST) -> Manifest:
    """An image manifest for `config` and `layers` (blob, media type); blobs must be uploaded separately."""
    config_type = OCI_CONFIG if media_type == OCI_MANIFEST else DOCKER_CONFIG
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": sha256_digest(config), "size": len(config)},
        "layers": [
            {"mediaType": layer_type, "digest": sha256_digest(blob), "size": len(blob)} for blob, layer_type in layers
        ],
    }
    return Manifest.from_bytes(json.dumps(body, separators=(",", ":")).encode(), media_type)


THROWAWAY_CONFIG = json.dumps(
    {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {}},
    separators=(",", ":"),
).encode()


def throwaway_manifest(tag: str, nonce: str = "") -> Manifest:
    """An OCI manifest with no layers whose digest is unique (a random annotation), so deleting it by digest
    can only ever remove the one tag it was pushed under. Its config blob (THROWAWAY_CONFIG) is shared."""
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": sha256_digest(THROWAWAY_CONFIG),
            "size": len(THROWAWAY_CONFIG),
        },
        "layers": [],
        "annotations": {
            THROWAWAY_ANNOTATION: "pushed to delete a tag; safe to delete",
            "org.conveyor.tag": tag,
            "org.conveyor.nonce": nonce or uuid.uuid4().hex,
        },
    }
    return Manifest.from_bytes(json.dumps(body, separators=(",", ":")).encode(), OCI_MANIFEST)


def config_created(config: bytes) -> datetime | None:
    """The image config's `created` time (timezone-aware), or None when absent or unreadable."""
    try:
        data = json.loads(config)
    except ValueError:
        return None
    text = data.get("created") if isinstance(data, dict) else None
    if not isinstance(text, str):
        return None
    return parse_timestamp(text)


def parse_timestamp(text: str) -> datetime | None:
    """RFC 3339 with up to nanoseconds (Go writes 9 fraction digits; Python takes 6)."""
    text = text.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[:digits][:6].ljust(6, '0')}{tail[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
