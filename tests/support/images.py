"""Tiny images pushed through the registry API (no Docker daemon): what the registry and cleanup tests
delete, keep and deploy."""

from __future__ import annotations

import json

from conveyor.registry import RegistryClient, RegistryOptions
from conveyor.registry.manifests import OCI_MANIFEST, image_manifest


def push_image(
    client: RegistryClient,
    repository: str,
    tags: list[str],
    seed: str,
    created: str = "2024-01-01T00:00:00Z",
    media_type: str = OCI_MANIFEST,
) -> str:
    """Push a tiny image (unique config from `seed`, one small layer) under `tags`; returns its digest."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "created": created, "config": {"Labels": {"seed": seed}}},
        sort_keys=True,
    ).encode()
    layer = f"layer of {seed}".encode()
    client.upload_blob(repository, config)
    client.upload_blob(repository, layer)
    layer_type = (
        "application/vnd.oci.image.layer.v1.tar"
        if media_type == OCI_MANIFEST
        else "application/vnd.docker.image.rootfs.diff.tar.gzip"
    )
    manifest = image_manifest(config, [(layer, layer_type)], media_type)
    for tag in tags:
        client.put_manifest(repository, tag, manifest)
    return manifest.digest


def push_release(registry: str, repository: str, day: int) -> str:
    """A release `prod-<sha>` of a made-up commit, created on 2026-01-<day>, pushed to the plain-HTTP
    `registry` through its API; answers its tag."""
    sha = f"{day:02d}" + "c0ffee" * 6 + "ab"
    with RegistryClient(registry, options=RegistryOptions(scheme="http")) as client:
        push_image(client, repository, [f"prod-{sha}"], sha, f"2026-01-{day:02d}T00:00:00Z")
    return f"prod-{sha}"
