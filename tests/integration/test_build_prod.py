"""inv build-prod on the real engine, registry and compose."""

from __future__ import annotations

import re

import pytest
import requests

from tests.support.example import Example
from tests.support.integration import MANIFEST_TYPES, registry_catalog, registry_digest, registry_tags

pytestmark = pytest.mark.integration


def copy_tag(example: Example, repository: str, source: str, target: str) -> None:
    """Point `target` at `source`'s manifest, as a promotion does."""
    url = f"{example.registry.url}/v2/{repository}/manifests"
    got = requests.get(f"{url}/{source}", headers={"Accept": MANIFEST_TYPES}, timeout=10)
    got.raise_for_status()
    put = requests.put(
        f"{url}/{target}", data=got.content, headers={"Content-Type": got.headers["Content-Type"]}, timeout=10
    )
    put.raise_for_status()


def test_non_deployable_branch_skips_and_pushes_nothing(example: Example) -> None:
    example.git("checkout", "-q", "-b", "feature/x")
    before = registry_catalog(example.registry.url)
    result = example.inv("build-prod")
    assert result.returncode == 0, result.stderr
    assert "build-prod: skipped: 'feature/x' is not a deployable branch (main)" in result.stdout
    assert registry_catalog(example.registry.url) == before


def test_deployable_branch_pushes_prod_sha_and_reuses_the_generic_prod_cache(example: Example) -> None:
    repository = f"{example.name}/example/web"
    first_sha = example.git("rev-parse", "HEAD")
    first = example.inv("build-prod")
    assert first.returncode == 0, first.stdout + first.stderr
    assert registry_tags(example.registry.url, repository) == [f"prod-{first_sha}"]
    assert "web:prod is not in the registry yet (first build)" in first.stdout
    digest = registry_digest(example.registry.url, repository, f"prod-{first_sha}")
    assert digest and digest in first.stdout

    copy_tag(example, repository, f"prod-{first_sha}", "prod")
    second_sha = example.change_source("change")
    example.remove_local_images()
    second = example.inv("build-prod", CONVEYOR_DEPLOYABLE_BRANCHES="release/*:main")

    assert second.returncode == 0, second.stdout + second.stderr
    assert f"cache: using {example.registry.address}/{repository}:prod ({digest})" in second.stdout
    assert re.search(r"#\d+ \[web \d+/\d+\] RUN /app/install-deps", second.stdout)
    assert re.search(r"web:prod-\w+: cache: 3 of 4 steps CACHED", second.stdout), second.stdout
    assert registry_tags(example.registry.url, repository) == sorted(
        ["prod", f"prod-{first_sha}", f"prod-{second_sha}"]
    )
