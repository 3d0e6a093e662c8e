"""Shared by integration tests: what to do when a real component is missing (skip loudly, or fail when
CONVEYOR_REQUIRE_INTEGRATION=1, as .ci/run sets), and small read-only looks into a real registry."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

import pytest
import requests

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


def unavailable(reason: str) -> NoReturn:
    """The one rule for an integration test whose real component is missing: skip with a reason that starts
    `INTEGRATION TEST NOT RUN` (as the README says), or fail when CONVEYOR_REQUIRE_INTEGRATION=1 (CI must
    not pass by skipping)."""
    message = f"INTEGRATION TEST NOT RUN: {reason}"
    if os.environ.get("CONVEYOR_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"{message} (CONVEYOR_REQUIRE_INTEGRATION=1)", pytrace=False)
    pytest.skip(message)


def copy_files(source: Path, destination: Path, names: Iterable[str]) -> None:
    """Copy `names` (files or folders, without __pycache__) of `source` into `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination / name)


def docker_problem() -> str:
    """Empty when a Docker engine and compose v2 answer, else why not."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed (.ci/install)"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "no Docker engine answers (.ci/services start)"
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode != 0:
        return "the compose v2 plugin is missing (.ci/install)"
    return ""


def registry_tags(url: str, repository: str) -> list[str]:
    response = requests.get(f"{url}/v2/{repository}/tags/list", timeout=10)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return sorted(response.json().get("tags") or [])


def registry_digest(url: str, repository: str, tag: str) -> str | None:
    response = requests.head(f"{url}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.headers["Docker-Content-Digest"]


def registry_catalog(url: str) -> list[str]:
    response = requests.get(f"{url}/v2/_catalog", timeout=10)
    response.raise_for_status()
    return sorted(response.json().get("repositories") or [])


def assert_one_line_failure(
    result: subprocess.CompletedProcess[str], *words: str, exit_code: int | None = None
) -> None:
    """A failure as Conveyor reports bad input: a non-zero exit code (`exit_code` when given), no traceback,
    one line on stderr starting `conveyor: ` and holding every one of `words`."""
    output = result.stdout + result.stderr
    if exit_code is None:
        assert result.returncode != 0, output
    else:
        assert result.returncode == exit_code, output
    assert "Traceback" not in output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("conveyor: ")
    for word in words:
        assert word in lines[0], lines[0]
