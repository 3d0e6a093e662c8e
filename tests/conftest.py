"""Real components for the integration and end-to-end tests: the Docker engine and compose v2 that .ci/run starts, a
registry process of the tests' own, the example's base image in it, and a copy of the example project
(with its own git repository) per test or module, driven with the real `inv`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.example import REPO, Example, make_example
from tests.support.integration import docker_problem, unavailable
from tests.support.registry import RegistryProcess, registry_available


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if problem := docker_problem():
        unavailable(problem)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    if problem := registry_available():
        unavailable(problem)
    process = RegistryProcess(root=tmp_path_factory.mktemp("registry")).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def base_image(docker_engine: None, registry: RegistryProcess) -> str:
    ref = f"{registry.address}/conveyor/busybox:1.35"
    subprocess.run([str(REPO / ".ci" / "base-image"), ref], check=True, capture_output=True)
    return ref


@pytest.fixture
def example(tmp_path: Path, registry: RegistryProcess, base_image: str) -> Example:
    return make_example(tmp_path / "project", registry, base_image)


def make_built_example(
    factory: pytest.TempPathFactory, registry: RegistryProcess, base_image: str, task: str
) -> Example:
    """An example on which `inv TASK` (build-ci or build-prod) has run once."""
    example = make_example(factory.mktemp(task) / "project", registry, base_image)
    result = example.inv(task)
    assert result.returncode == 0, result.stdout + result.stderr
    return example


@pytest.fixture(scope="module")
def built_example(tmp_path_factory: pytest.TempPathFactory, registry: RegistryProcess, base_image: str) -> Example:
    """An example whose CI image for its commit is built and pushed once for the module."""
    return make_built_example(tmp_path_factory, registry, base_image, "build-ci")
