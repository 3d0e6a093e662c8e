"""The cleanup tasks through `inv`, on the real registry, after real builds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conveyor.registry import Credentials, RegistryClient, RegistryOptions
from tests.support.example import Example
from tests.support.images import push_image
from tests.support.integration import assert_one_line_failure, registry_digest, registry_tags
from tests.support.registry import RegistryProcess
from tests.support.tokenserver import TokenServer, User

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


def test_old_prod_without_a_cluster_refuses_unless_told_to_skip_the_check(example: Example) -> None:
    repository = f"{example.name}/example/web"
    first = example.git("rev-parse", "HEAD")
    assert example.inv("build-prod").returncode == 0
    refused = example.inv("cleanup.old-prod")  # deploy targets configured, but no cluster to ask
    assert_one_line_failure(refused, "no Kubernetes configuration found")
    assert registry_tags(example.registry.url, repository) == [f"prod-{first}"]
    promoted = example.inv("cleanup.old-prod", "--skip-cluster-check")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert registry_tags(example.registry.url, repository) == sorted(["prod", f"prod-{first}"])

    second = example.change_source("v2")
    assert example.inv("build-prod").returncode == 0
    new_digest = registry_digest(example.registry.url, repository, f"prod-{second}")
    dry = example.inv("cleanup.old-prod", "--dry-run", "--skip-cluster-check", CONVEYOR_KEEP_RELEASES="1")
    assert dry.returncode == 0 and f"dry run: would-delete {repository}:prod-{first}" in dry.stdout
    assert registry_tags(example.registry.url, repository) == sorted(["prod", f"prod-{first}", f"prod-{second}"])

    kept = example.inv("cleanup.old-prod", "--skip-cluster-check")
    assert kept.returncode == 0 and "one of the 3 newest releases" in kept.stdout
    result = example.inv("cleanup.old-prod", "--skip-cluster-check", CONVEYOR_KEEP_RELEASES="1")

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


def push_ci_image(registry: RegistryProcess, repository: str, tags: list[str], credentials: Credentials | None) -> None:
    """A tiny image pushed through the registry API under `tags` (no Docker daemon involved)."""
    with RegistryClient(registry.address, credentials, options=RegistryOptions(scheme="http")) as client:
        push_image(client, repository, tags, "ci")


def test_ci_image_cleanup_on_a_registry_with_deletes_disabled(example: Example, tmp_path: Path) -> None:
    registry = RegistryProcess(tmp_path / "no-deletes", delete_enabled=False).start()
    try:
        sha = example.git("rev-parse", "HEAD")
        repository = f"{example.name}/example/ci"
        push_ci_image(registry, repository, [sha, "main"], None)
        env = {"CI_REGISTRY": registry.address, "CI_REGISTRY_IMAGE": f"{registry.address}/{example.name}/example"}
        result = example.inv("cleanup.ci-image", **env)
        assert_one_line_failure(result, "deletes", "storage.delete.enabled")
        assert registry_tags(registry.url, repository) == sorted([sha, "main"])
    finally:
        registry.stop()


def test_ci_image_cleanup_with_token_auth_and_wrong_credentials(example: Example, tmp_path: Path) -> None:
    tokens = TokenServer(
        tmp_path / "tokens", users={"ci-user": User("right-password-42", {"*": {"pull", "push", "delete"}})}
    )
    tokens.start()
    registry = RegistryProcess(tmp_path / "auth", extra_config=tokens.registry_auth_config()).start()
    try:
        sha = example.git("rev-parse", "HEAD")
        repository = f"{example.name}/example/ci"
        push_ci_image(registry, repository, [sha, "main"], Credentials("ci-user", "right-password-42", "test"))
        env = {
            "CI_REGISTRY": registry.address,
            "CI_REGISTRY_IMAGE": f"{registry.address}/{example.name}/example",
            "CI_REGISTRY_USER": "ci-user",
        }
        wrong = example.inv("cleanup.ci-image", CI_REGISTRY_PASSWORD="wrong-password-17", **env)
        assert_one_line_failure(wrong, "ci-user")
        assert "wrong-password-17" not in wrong.stdout + wrong.stderr
        right = example.inv("cleanup.ci-image", CI_REGISTRY_PASSWORD="right-password-42", **env)
        assert right.returncode == 0, right.stdout + right.stderr
        assert "right-password-42" not in right.stdout + right.stderr
        with RegistryClient(
            registry.address,
            Credentials("ci-user", "right-password-42", "test"),
            options=RegistryOptions(scheme="http"),
        ) as c:
            assert c.list_tags(repository) == ["main"]
    finally:
        registry.stop()
        tokens.stop()
