"""Push a tiny image (one empty layer, a config) to a real registry through its HTTP API, so that the
simulated kubelet finds `repo:tag` there. No Docker daemon involved."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from urllib.parse import urljoin

import requests

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _empty_layer() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w"):
        pass
    return gzip.compress(raw.getvalue(), mtime=0)


def _upload_blob(base: str, repo: str, data: bytes) -> str:
    digest = _digest(data)
    if requests.head(f"{base}/v2/{repo}/blobs/{digest}", timeout=10).status_code == 200:
        return digest
    start = requests.post(f"{base}/v2/{repo}/blobs/uploads/", timeout=10)
    start.raise_for_status()
    location = urljoin(base + "/", start.headers["Location"])
    separator = "&" if "?" in location else "?"
    put = requests.put(
        f"{location}{separator}digest={digest}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    put.raise_for_status()
    return digest


def push_image(base: str, repo: str, tag: str, label: str = "") -> str:
    """Push `repo:tag` (its config carries `label`, so that tags can differ) and return its digest."""
    layer = _empty_layer()
    layer_digest = _upload_blob(base, repo, layer)
    diff_id = _digest(gzip.decompress(layer))
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"conveyor.test": label or tag}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        },
        sort_keys=True,
    ).encode()
    config_digest = _upload_blob(base, repo, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_V2,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [{"mediaType": LAYER, "size": len(layer), "digest": layer_digest}],
        }
    ).encode()
    answer = requests.put(
        f"{base}/v2/{repo}/manifests/{tag}", data=manifest, headers={"Content-Type": MANIFEST_V2}, timeout=10
    )
    answer.raise_for_status()
    return _digest(manifest)
