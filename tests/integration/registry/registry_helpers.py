"""Helpers for the registry integration tests (imported by name: this directory has no __init__.py)."""

from __future__ import annotations

import json
import os

import pytest

from conveyor.redact import Redactor
from conveyor.registry import Credentials, RegistryClient, RetryPolicy
from conveyor.registry.manifests import OCI_MANIFEST, image_manifest
from tests.support.registry import RegistryProcess, registry_available

PASSWORD = "Pw-5ecret-Zq9!x"
ALL = {"pull", "push", "delete"}


def require_registry() -> None:
    """Skip loudly without docker-registry; fail instead when CONVEYOR_REQUIRE_INTEGRATION=1."""
    reason = registry_available()
    if not reason:
        return
    if os.environ.get("CONVEYOR_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"integration test cannot run: {reason}")
    pytest.skip(f"integration test skipped: {reason}")


def fast_retry() -> RetryPolicy:
    return RetryPolicy(attempts=10, base_delay=0.02, max_delay=1.0)


def maintainer_client(registry: RegistryProcess, redactor: Redactor | None = None) -> RegistryClient:
    return RegistryClient(
        registry.address,
        Credentials("maintainer", PASSWORD, "test"),
        scheme="http",
        retry=fast_retry(),
        redactor=redactor,
    )


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
