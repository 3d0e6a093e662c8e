"""The cleanup tasks through `inv`, on the real registry, after real builds."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.test_bad_input import assert_one_line_failure
from tests.support.example import Example
from tests.support.integration import registry_digest, registry_tags

pytestmark = pytest.mark.integration


def test_ci_image_cleanup_deletes_the_commit_tag_and_the_branch_tag_still_pulls(example: Example) -> None:
    built = example.inv("build-ci")
    assert built.returncode == 0, built.stdout + built.stderr
    sha = example.git("rev-parse", "HEAD")
    branch_digest = registry_digest(example.registry.url, example.repository, "main")

    dry = example.inv("cleanup.ci-image", "--dry-run")
    assert dry.returncode == 0 and f"dry run: would-delete {example.repository}:{sha}" in dry.stdout
    assert sha in registry_tags(example.registry.url, example.repository)

    result = example.inv("cleanup.ci-image")

    assert result.returncode == 0, result.stdout + result.stderr
    assert registry_tags(example.registry.url, example.repository) == ["main"]
    assert registry_digest(example.registry.url, example.repository, "main") == branch_digest
    assert "garbage collection" in result.stdout
    example.remove_local_images()
    pulled = subprocess.run(["docker", "pull", "-q", f"{example.image}:main"], capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stderr
    again = example.inv("cleanup.ci-image")
    assert again.returncode == 0 and "already gone" in again.stdout


def test_old_prod_promotes_and_deletes_the_previous_prod_image(example: Example) -> None:
    repository = f"{example.name}/example/web"
    first = example.git("rev-parse", "HEAD")
    assert example.inv("build-prod").returncode == 0
    promoted = example.inv("cleanup.old-prod")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert registry_tags(example.registry.url, repository) == sorted(["prod", f"prod-{first}"])

    second = example.change_source("v2")
    assert example.inv("build-prod").returncode == 0
    new_digest = registry_digest(example.registry.url, repository, f"prod-{second}")
    dry = example.inv("cleanup.old-prod", "--dry-run")
    assert dry.returncode == 0 and registry_tags(example.registry.url, repository) == sorted(
        ["prod", f"prod-{first}", f"prod-{second}"]
    )

    result = example.inv("cleanup.old-prod")

    assert result.returncode == 0, result.stdout + result.stderr
    assert registry_tags(example.registry.url, repository) == sorted(["prod", f"prod-{second}"])
    assert registry_digest(example.registry.url, repository, "prod") == new_digest


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        ("other.example.com/x/ci:main", "is not in the configured registry"),
        ("REGISTRY/Bad/Name:main", "malformed image reference"),
        ("REGISTRY/x/ci@sha256:" + "a" * 64, "tag"),
    ],
)
def test_cleanup_tag_bad_input(example: Example, tag: str, words: str) -> None:
    result = example.inv("cleanup", "--tag", tag.replace("REGISTRY", example.registry.address))
    assert_one_line_failure(result, words)
