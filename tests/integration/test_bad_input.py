"""Bad input: one clear line on stderr, a non-zero exit code, no traceback, nothing pushed."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.example import Example
from tests.support.integration import assert_one_line_failure, registry_catalog, unavailable

pytestmark = pytest.mark.integration


def unchanged_registry(
    example: Example, run: Callable[[], subprocess.CompletedProcess[str]]
) -> subprocess.CompletedProcess[str]:
    before = registry_catalog(example.registry.url)
    result = run()
    assert registry_catalog(example.registry.url) == before, "something was pushed"
    return result


def test_docker_daemon_not_running(example: Example, tmp_path: Path) -> None:
    result = unchanged_registry(example, lambda: example.inv("build-ci", DOCKER_HOST=f"unix://{tmp_path}/no.sock"))
    assert_one_line_failure(result, "cannot reach the Docker daemon", "start dockerd")


def test_compose_plugin_missing(example: Example, tmp_path: Path) -> None:
    empty = tmp_path / "docker-config"
    empty.mkdir()
    probe = subprocess.run(
        ["docker", "compose", "version"],
        env={**example.env(), "DOCKER_CONFIG": str(empty)},
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        unavailable("compose is installed system-wide, so it cannot be hidden with DOCKER_CONFIG")
    result = unchanged_registry(example, lambda: example.inv("build-ci", DOCKER_CONFIG=str(empty)))
    assert_one_line_failure(result, "Docker Compose v2 is missing", "cli-plugins")


def test_registry_unreachable(example: Example) -> None:
    result = unchanged_registry(
        example, lambda: example.inv("build-ci", CI_REGISTRY="127.0.0.1:9", CI_REGISTRY_IMAGE="127.0.0.1:9/x/example")
    )
    assert_one_line_failure(result, "cannot reach registry 127.0.0.1:9", "connection refused")


def test_compose_file_missing(example: Example) -> None:
    result = unchanged_registry(
        example, lambda: example.inv("build-ci", CONVEYOR_COMPOSE_FILES="compose/docker-compose.yml:compose/nope.yml")
    )
    assert_one_line_failure(result, "compose/nope.yml is missing")


def test_unknown_service(example: Example) -> None:
    result = unchanged_registry(example, lambda: example.inv("build-ci", CONVEYOR_CI_SERVICE="web"))
    assert_one_line_failure(result, "unknown compose service 'web'", "app, db")


def test_unknown_job(example: Example) -> None:
    result = unchanged_registry(example, lambda: example.inv("test", "--job", "nope"))
    assert_one_line_failure(result, "unknown test job 'nope'", "unit, lint, functional")


def test_malformed_image_reference(example: Example) -> None:
    bad = f"{example.registry.address}/Upper/Case"
    result = unchanged_registry(example, lambda: example.inv("build-ci", CI_REGISTRY_IMAGE=bad))
    assert_one_line_failure(result, "malformed image reference", "upper-case")


def test_no_git_repository_and_no_commit_sha(example: Example) -> None:
    shutil.rmtree(example.root / ".git")
    result = unchanged_registry(example, lambda: example.inv("build-ci"))
    assert_one_line_failure(result, "not a git repository", "CI_COMMIT_SHA")


def test_test_before_build_ci_says_what_to_do(example: Example) -> None:
    result = unchanged_registry(example, lambda: example.inv("test"))
    assert_one_line_failure(result, "is not in the registry", "run inv build-ci")
