"""inv job-image on the real engine and registry: the job image is built without Docker Hub and without
network inside the build, pushed as <registry image>/conveyor-job:<version>, and runs Conveyor, the compose
plugin and git.

No package index either: pip is pointed at a wheelhouse packed from the installed dependencies
(PIP_NO_INDEX, PIP_FIND_LINKS). The Debian base is made with debootstrap from the Debian mirror the first
time on a machine (about a minute), then reused from the machine's local tag `conveyor-job-base:bookworm-*`."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from conveyor.jobimage.base import cache_ref
from tests.support.example import Example, make_example
from tests.support.integration import registry_catalog, registry_digest, registry_tags, unavailable
from tests.support.registry import RegistryProcess
from tests.support.wheelhouse import make_wheelhouse

pytestmark = pytest.mark.integration

VERSION = version("conveyor")
COMPOSE_VERSION = "v2.40.3"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_wheelhouse("conveyor", tmp_path_factory.mktemp("wheelhouse"))


def offline_pip(wheelhouse: Path) -> dict[str, str]:
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)}


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, registry: RegistryProcess, base_image: str, wheelhouse: Path
) -> Iterator[tuple[Example, subprocess.CompletedProcess[str]]]:
    """An example on which `inv job-image` ran once; its images are removed from the engine afterwards (the
    machine's cached base stays)."""
    if problem := base_problem():
        unavailable(problem)
    example = make_example(tmp_path_factory.mktemp("job-image") / "project", registry, base_image)
    result = example.inv("job-image", **offline_pip(wheelhouse))
    yield example, result
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, check=True
    )
    tags = [tag for tag in listed.stdout.split() if tag.startswith(f"{registry.address}/{example.name}/")]
    if tags:
        subprocess.run(["docker", "image", "rm", *tags], capture_output=True, check=False)


def base_problem() -> str:
    """Empty when the Debian base can be had: cached on this machine, or made with debootstrap as root."""
    cached = subprocess.run(["docker", "image", "inspect", str(cache_ref())], capture_output=True, check=False)
    if cached.returncode == 0:
        return ""
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        return "the job image's Debian base needs debootstrap, run as root (apt-get install debootstrap; .ci/install)"
    return ""


def job_ref(example: Example) -> str:
    return f"{example.registry.address}/{example.name}/example/conveyor-job:{VERSION}"


def run_in(image: str, *command: str) -> str:
    """`docker run --rm IMAGE COMMAND` in a container of its own name (removed however it ends)."""
    name = f"conveyor-job-test-{uuid.uuid4().hex[:8]}"
    try:
        done = subprocess.run(
            ["docker", "run", "--rm", "--name", name, "--network", "none", image, *command],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_job_image_is_pushed_under_the_conveyor_version_and_runs_conveyor_compose_and_git(
    built: tuple[Example, subprocess.CompletedProcess[str]],
) -> None:
    example, result = built
    assert result.returncode == 0, result.stdout + result.stderr
    repository = f"{example.name}/example/conveyor-job"
    assert registry_tags(example.registry.url, repository) == [VERSION]
    digest = registry_digest(example.registry.url, repository, VERSION)
    assert f"job image {job_ref(example)}: {digest}" in result.stdout
    image = job_ref(example)
    assert run_in(image, "conveyor", "--version").strip() == f"Conveyor {VERSION}"
    assert COMPOSE_VERSION in run_in(image, "docker", "compose", "version")
    assert run_in(image, "inv", "--version").startswith("Invoke ")
    assert run_in(image, "git", "--version").startswith("git version ")
    assert run_in(image, "sh", "-c", "command -v dockerd containerd || true").strip() == ""  # CLI only


def test_a_second_run_reuses_the_base_and_every_build_step(
    built: tuple[Example, subprocess.CompletedProcess[str]], wheelhouse: Path
) -> None:
    example, first = built
    assert first.returncode == 0, first.stdout + first.stderr

    again = example.inv("job-image", **offline_pip(wheelhouse))

    assert again.returncode == 0, again.stdout + again.stderr
    assert "(in the local engine)" in again.stdout and "debootstrap" not in again.stdout
    assert again.stdout.count("---> Using cache") >= 5, again.stdout  # same wheels, same plugin, same base
    digest = registry_digest(example.registry.url, f"{example.name}/example/conveyor-job", VERSION)
    assert digest is not None
    assert f"job image {job_ref(example)}: {digest}" in first.stdout and digest in again.stdout


def test_dry_run_prints_the_plan_and_pushes_nothing(example: Example, wheelhouse: Path) -> None:
    before = registry_catalog(example.registry.url)

    result = example.inv("job-image", "--dry-run", **offline_pip(wheelhouse))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"dry run: would push {job_ref(example)} and check its digest in the registry" in result.stdout
    assert "dry run: would run (DOCKER_BUILDKIT=0): docker build --network none" in result.stdout
    assert f"compose: {COMPOSE_VERSION} from " in result.stdout
    assert registry_catalog(example.registry.url) == before


def test_a_base_without_python_is_refused_in_one_line_before_anything_is_pushed(
    example: Example, base_image: str, wheelhouse: Path
) -> None:
    before = registry_catalog(example.registry.url)

    result = example.inv("job-image", "--base", base_image, **offline_pip(wheelhouse))

    assert result.returncode == 1
    assert result.stderr.startswith(f"conveyor: the base image {base_image} cannot run python3")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert registry_catalog(example.registry.url) == before
