"""inv test on the real engine, registry and compose."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.support.example import Example

pytestmark = pytest.mark.integration


def created_containers(since: float, until: float) -> list[str]:
    """Names of the containers the engine created in [since, until]."""
    out = subprocess.run(
        [
            "docker",
            "events",
            "--since",
            f"{since:.3f}",
            "--until",
            f"{until:.3f}",
            "--filter",
            "type=container",
            "--filter",
            "event=create",
            "--format",
            "{{.Actor.Attributes.name}}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return out.split()


def test_all_jobs_run_in_parallel_with_coverage_and_junit(built_example: Example) -> None:
    result = built_example.inv("test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lines: 75.00% (coverage of job unit)" in result.stdout.splitlines()
    assert "[functional] OK: user 1 is 'Ada Lovelace' (from http://db:8080)" in result.stdout
    reports = built_example.root / "reports"
    for job, path, cases in (
        ("unit", "unit/junit.xml", 6),  # the example's jobs that declare reports: copied out of their containers
        ("functional", "functional/junit.xml", 3),
        ("lint", "junit-lint.xml", 1),  # declares none: Conveyor's one-case report
    ):
        root = ElementTree.parse(reports / path).getroot()
        assert len(list(root.iter("testcase"))) == cases, path
        assert not list(root.iter("failure")), path
        assert f"job {job}: passed in " in result.stdout and f"JUnit report reports/{path}" in result.stdout
        assert f"  tests {cases}, failures 0, errors 0, skipped 0" in result.stdout.splitlines()
    assert not (reports / "junit-unit.xml").exists()


def test_failing_job_fails_inv_test_with_its_exit_code(built_example: Example, tmp_path: Path) -> None:
    extra = tmp_path / "broken.yaml"
    extra.write_text(
        "conveyor:\n  test_jobs:\n    broken:\n      command: echo about to fail; exit 7\n      services: []\n"
    )
    result = built_example.inv("-f", str(extra), "test", "--job", "broken")
    assert result.returncode == 7, result.stdout + result.stderr
    assert result.stderr.strip() == "conveyor: test job(s) failed: broken (exit code 7)"
    assert "Traceback" not in result.stdout + result.stderr
    failure = ElementTree.parse(built_example.root / "reports" / "junit-broken.xml").getroot().find("testcase/failure")
    assert failure is not None and "about to fail" in (failure.text or "")


def test_no_deps_job_starts_no_service_container_while_functional_does(built_example: Example) -> None:
    project = f"conveyor-{built_example.name}"
    start = time.time() - 1
    lint = built_example.inv("test", "--job", "lint")
    middle = time.time()
    functional = built_example.inv("test", "--job", "functional")
    end = time.time() + 1
    assert lint.returncode == 0 and functional.returncode == 0, lint.stdout + functional.stdout
    lint_created = created_containers(start, middle)
    functional_created = created_containers(middle, end)
    assert not [name for name in lint_created if name.startswith(f"{project}-lint-db")], lint_created
    assert [name for name in lint_created if name.startswith(f"{project}-lint-app-run")], lint_created
    assert [name for name in functional_created if name.startswith(f"{project}-functional-db")], functional_created


def test_jobs_leave_no_containers_behind(built_example: Example) -> None:
    result = built_example.inv("test", "--job", "functional")
    assert result.returncode == 0
    left = subprocess.run(
        [
            "docker",
            "ps",
            "-aq",
            "--filter",
            f"label=com.docker.compose.project=conveyor-{built_example.name}-functional",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert left == []
