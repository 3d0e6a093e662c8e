from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from conveyor.config.model import DEFAULT_COVERAGE_REGEX, JobSpec
from conveyor.errors import JobFailed
from conveyor.redact import Redactor
from conveyor.stages.test import JobResult, JobRunner, needed_services, report, verdict, with_junit, write_junit
from tests.support.factories import settings, toolbox

UNIT = JobSpec(name="unit", command="sh unit.sh", service="app", coverage_regex=DEFAULT_COVERAGE_REGEX)
LINT = JobSpec(name="lint", command="sh lint.sh", service="app")
FUNCTIONAL = JobSpec(name="functional", command="sh f.sh", service="app", services=("db", "cache"))


def tools(tmp_path: Path, printed: list[str]) -> JobRunner:
    """A job runner in a project at `tmp_path` whose console prints to `printed` and knows a job token."""
    loaded = settings(environ={"CI_JOB_TOKEN": "s3cr3t-token"}, project_dir=tmp_path)
    box = toolbox(loaded, printed)
    return JobRunner(box.docker(), box.ci_project(), loaded.reports_dir, box.console)


def test_coverage_takes_the_last_match_like_gitlab() -> None:
    lines = ("  Lines: 10.00% (1/10)", "noise", "  Lines: 87.50% (7/8)")
    assert JobResult(UNIT, 0, 1.0, lines).coverage == "87.50"
    assert JobResult(UNIT, 0, 1.0, ("no coverage",)).coverage is None
    assert JobResult(LINT, 0, 1.0, lines).coverage is None


def test_needed_services_in_first_seen_order() -> None:
    assert needed_services([UNIT, FUNCTIONAL, LINT]) == ["app", "db", "cache"]


def test_junit_report_per_job_with_failure_and_redacted_output(tmp_path: Path) -> None:
    result = JobResult(FUNCTIONAL, 3, 2.5, ("connecting with s3cr3t-token", "FAIL: no db"))
    path = tmp_path / "junit-functional.xml"
    write_junit(path, result, Redactor(["s3cr3t-token"]).clean)
    suite = ElementTree.parse(path).getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1")
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("message") == "exit code 3"
    assert "FAIL: no db" in (failure.text or "") and "s3cr3t-token" not in path.read_text()


def test_report_prints_gitlab_coverage_line_and_fails_with_the_job_exit_code(tmp_path: Path) -> None:
    printed: list[str] = []
    box = tools(tmp_path, printed)
    ran = [
        JobResult(UNIT, 0, 1.0, ("  Lines: 75.00% (3/4)",)),
        JobResult(LINT, 4, 1.0, ("FAIL x",)),
        JobResult(FUNCTIONAL, 2, 1.0, ()),
    ]
    results = [with_junit(box, result) for result in ran]
    report(box, results)
    with pytest.raises(JobFailed) as caught:
        verdict(results)
    assert caught.value.exit_code == 4
    assert "lint, functional" in str(caught.value)
    assert "Lines: 75.00% (coverage of job unit)" in printed
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "junit-functional.xml",
        "junit-lint.xml",
        "junit-unit.xml",
    ]


def test_console_redacts_secrets_and_their_base64(tmp_path: Path) -> None:
    printed: list[str] = []
    box = tools(tmp_path, printed)
    box.console.line("token s3cr3t-token and czNjcjN0LXRva2Vu here")
    assert printed == ["token [MASKED] and [MASKED] here"]


def test_report_passes_quietly_when_all_pass(tmp_path: Path) -> None:
    printed: list[Any] = []
    box = tools(tmp_path, printed)
    report(box, [with_junit(box, JobResult(LINT, 0, 0.5, ()))])
    assert printed[0] == "job lint: passed in 0.5s, JUnit report reports/junit-lint.xml"
    assert printed[1:] == ["  tests 1, failures 0, errors 0, skipped 0", "  slowest: conveyor.test::lint 0.500s"]
