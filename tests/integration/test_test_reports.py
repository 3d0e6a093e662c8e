"""Reports declared by test jobs, on the real engine: copied out of each job's stopped container after the
run, passed or failed, with no bind mount; the container is always removed; a report the job did not write is
a warning; a JUnit file that is not JUnit is a one-line error for that job while the other jobs' reports
still land."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.support.example import Example
from tests.support.integration import assert_one_line_failure

pytestmark = pytest.mark.integration
GOOD_JUNIT = '<testsuite><testcase name="first" time="0.5"/><testcase name="second" time="0.25"/></testsuite>'


def kept_containers(example: Example) -> list[str]:
    """Every container, running or not, named like the ones jobs with reports run in."""
    return subprocess.run(
        ["docker", "ps", "-a", "--filter", f"name=conveyor-{example.name}-", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def extra_jobs(tmp_path: Path, jobs: str) -> str:
    """An extra invoke.yaml (`inv -f`) adding test jobs to the example's: `jobs` is their YAML, indented."""
    path = tmp_path / "jobs.yaml"
    path.write_text("conveyor:\n  test_jobs:\n" + jobs)
    return str(path)


def test_a_failing_case_lands_in_the_report_and_the_output_with_the_coverage(
    built_example: Example, tmp_path: Path
) -> None:
    reports = built_example.root / "reports" / "unit"
    result = built_example.inv("test", "--job", "unit", EXAMPLE_FAIL_CASE="shout")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == "conveyor: test job(s) failed: unit (exit code 1)"
    lines = result.stdout.splitlines()
    assert "job unit: FAILED (exit code 1) in " in result.stdout
    assert "  tests 6, failures 1, errors 0, skipped 0" in lines
    assert "  failed: GreetingTest::shout" in lines
    assert any(line.startswith("  slowest: GreetingTest::") for line in lines)
    failures = ElementTree.parse(reports / "junit.xml").getroot().findall(".//testcase/failure/..")
    assert [case.get("name") for case in failures] == ["shout"]
    coverage = ElementTree.parse(reports / "coverage.xml").getroot()
    assert (coverage.tag, coverage.get("line-rate"), coverage.get("lines-covered")) == ("coverage", "0.7500", "3")
    assert "  coverage report (cobertura): reports/unit/coverage.xml" in lines
    assert kept_containers(built_example) == []


def test_a_report_the_job_did_not_write_is_a_warning(built_example: Example, tmp_path: Path) -> None:
    extra = extra_jobs(
        tmp_path,
        "    quiet:\n      command: echo nothing written\n      services: []\n"
        "      reports: {junit: var/none.xml, coverage: {path: /tmp/none.xml}}\n",
    )
    result = built_example.inv("-f", extra, "test", "--job", "quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "warning: job quiet did not write its declared report var/none.xml" in lines
    assert "warning: job quiet did not write its declared report /tmp/none.xml" in lines
    assert "Traceback" not in result.stdout + result.stderr
    assert not (built_example.root / "reports" / "quiet").exists()
    assert kept_containers(built_example) == []


def test_invalid_junit_fails_that_job_in_one_line_while_the_others_reports_land(
    built_example: Example, tmp_path: Path
) -> None:
    extra = extra_jobs(
        tmp_path,
        "    broken:\n      command: mkdir -p var && echo '<testsuite>' > var/junit.xml\n      services: []\n"
        "      reports: {junit: var/junit.xml}\n"
        f"    absolute:\n      command: echo '{GOOD_JUNIT}' > /tmp/out.xml\n      services: []\n"
        "      reports: {junit: /tmp/out.xml}\n",
    )
    result = built_example.inv("-f", extra, "test")
    assert_one_line_failure(result, "job broken: reports/broken/junit.xml is not valid JUnit XML", exit_code=1)
    lines = result.stdout.splitlines()
    assert any(line.startswith("error: job broken: reports/broken/junit.xml is not valid JUnit XML") for line in lines)
    reports = built_example.root / "reports"
    assert (reports / "absolute" / "junit.xml").read_text().strip() == GOOD_JUNIT
    assert "  slowest: first 0.500s, second 0.250s" in lines
    for landed in ("unit/junit.xml", "unit/coverage.xml", "functional/junit.xml", "junit-lint.xml"):
        assert (reports / landed).is_file(), landed
    assert kept_containers(built_example) == []


def test_ctrl_c_during_a_job_with_reports_removes_its_container(built_example: Example, tmp_path: Path) -> None:
    extra = extra_jobs(
        tmp_path,
        "    slow:\n      command: mkdir -p var; echo '<testsuite/>' > var/junit.xml; echo started; sleep 60\n"
        "      services: []\n      reports: {junit: var/junit.xml}\n",
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "invoke", "-f", extra, "test", "--job", "slow"],
        cwd=built_example.root,
        env=built_example.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, which Ctrl-C signals as a whole
    )
    deadline = time.monotonic() + 60
    while not [name for name in kept_containers(built_example) if "-slow-app-reports-" in name]:
        assert time.monotonic() < deadline and run.poll() is None, "the job never started"
        time.sleep(0.1)
    time.sleep(1)
    os.killpg(run.pid, signal.SIGINT)
    stdout, stderr = run.communicate(timeout=120)
    assert run.returncode != 0, stdout + stderr
    assert "Traceback" not in stderr
    assert kept_containers(built_example) == []
