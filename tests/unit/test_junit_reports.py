"""A job's declared reports after the run, without a daemon: the JUnit file that landed is summed up, a
declared file the job did not write is a warning, a JUnit file that is not JUnit is a one-line error for that
job only (the task fails with exit code 1 when the jobs themselves passed), and archives from the engine."""

import io
import tarfile
from pathlib import Path

import pytest

from conveyor.config.model import JobSpec, ReportSpec
from conveyor.docker.engine import only_file
from conveyor.errors import JobFailed
from conveyor.stages.test import JobResult, JobRunner, Reports, report, verdict, with_junit
from tests.unit.test_testjobs import tools as toolbox

UNIT = JobSpec(
    name="unit",
    command="sh unit.sh",
    service="app",
    reports=ReportSpec(junit="var/junit.xml", coverage="var/coverage.xml", coverage_format="cobertura"),
)
FUNCTIONAL = JobSpec(name="functional", command="sh f.sh", service="app", reports=ReportSpec(junit="var/junit.xml"))
LINT = JobSpec(name="lint", command="sh lint.sh", service="app")
GOOD = '<testsuites><testsuite><testcase name="a" time="0.2"/><testcase name="b" time="0.1"/></testsuite></testsuites>'


def landed(box: JobRunner, job: JobSpec, kind: str, text: str) -> Path:
    """Put a report where copying it out of the container would have put it."""
    path = box.report_file(job, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_landed_junit_file_is_summed_up_at_the_end_of_the_jobs_report(tmp_path: Path) -> None:
    printed: list[str] = []
    box = toolbox(tmp_path, printed)
    reports = Reports(
        landed={"junit": landed(box, UNIT, "junit", GOOD), "coverage": landed(box, UNIT, "coverage", "<coverage/>")}
    )
    result = with_junit(box, JobResult(UNIT, 0, 1.5, (), reports))
    report(box, [result])
    verdict([result])
    assert printed == [
        "job unit: passed in 1.5s, JUnit report reports/unit/junit.xml",
        "  tests 2, failures 0, errors 0, skipped 0",
        "  slowest: a 0.200s, b 0.100s",
        "  coverage report (cobertura): reports/unit/coverage.xml",
    ]
    assert not (tmp_path / "reports" / "junit-unit.xml").exists()  # no one-case report for a declared junit


def test_a_declared_report_the_job_did_not_write_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    printed: list[str] = []
    box = toolbox(tmp_path, printed)
    reports = Reports(landed={"junit": landed(box, UNIT, "junit", GOOD)}, missing=("var/coverage.xml",))
    result = with_junit(box, JobResult(UNIT, 0, 1.0, (), reports))
    report(box, [result])
    verdict([result])
    assert "warning: job unit did not write its declared report var/coverage.xml" in printed
    assert result.passed


def test_a_missing_junit_file_leaves_the_job_without_a_summary(tmp_path: Path) -> None:
    printed: list[str] = []
    box = toolbox(tmp_path, printed)
    result = with_junit(box, JobResult(FUNCTIONAL, 0, 1.0, (), Reports(missing=("var/junit.xml",))))
    report(box, [result])
    assert printed == [
        "job functional: passed in 1.0s",
        "warning: job functional did not write its declared report var/junit.xml",
    ]
    assert result.passed


def test_invalid_junit_is_a_one_line_error_for_that_job_only(tmp_path: Path) -> None:
    printed: list[str] = []
    box = toolbox(tmp_path, printed)
    bad = JobResult(UNIT, 0, 1.0, (), Reports(landed={"junit": landed(box, UNIT, "junit", "<testsuite>")}))
    good = JobResult(FUNCTIONAL, 0, 1.0, (), Reports(landed={"junit": landed(box, FUNCTIONAL, "junit", GOOD)}))
    results = [with_junit(box, bad), with_junit(box, good), with_junit(box, JobResult(LINT, 0, 1.0, ()))]
    report(box, results)
    problem = "job unit: reports/unit/junit.xml is not valid JUnit XML: line 1 column 12: no element found"
    assert f"error: {problem}" in printed
    assert "  tests 2, failures 0, errors 0, skipped 0" in printed  # functional's report is still read
    assert [r.passed for r in results] == [False, True, True]
    with pytest.raises(JobFailed) as caught:
        verdict(results)
    assert (str(caught.value), caught.value.exit_code) == (problem, 1)


def test_a_failed_job_keeps_its_exit_code_and_the_report_problem_is_added(tmp_path: Path) -> None:
    box = toolbox(tmp_path, [])
    bad = with_junit(box, JobResult(UNIT, 0, 1.0, (), Reports(landed={"junit": landed(box, UNIT, "junit", "x")})))
    failed = with_junit(box, JobResult(LINT, 3, 1.0, ()))
    with pytest.raises(JobFailed) as caught:
        verdict([bad, failed])
    assert caught.value.exit_code == 3
    assert str(caught.value).startswith("test job(s) failed: lint (exit code 3); job unit: reports/unit/junit.xml")


def archive(name: str, data: bytes | None) -> bytes:
    """What the engine's archive API answers for one path: a tar of that file (or directory)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        if data is None:
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        else:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_only_the_regular_file_of_an_archive_is_taken() -> None:
    assert only_file(archive("junit.xml", b"<testsuite/>")) == b"<testsuite/>"
    assert only_file(archive("var", None)) is None


class OneFileEngine:
    """Answers `container_file` as the engine would: the file's bytes, or None when the job did not write it."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def container_file(self, container: str, path: str) -> bytes | None:
        return self.files.get(path)


def test_copied_reports_have_every_known_secret_masked_and_other_bytes_kept(tmp_path: Path) -> None:
    from conveyor.redact import MASK
    from conveyor.stages.test import copy_reports

    box = toolbox(tmp_path, [])
    secret = "Pa55-in-a-test-report"
    junit = f'<testsuite><testcase name="login"><system-out>pw={secret}</system-out></testcase></testsuite>'
    latin1 = b"<coverage>\xe9t\xe9</coverage>"  # not UTF-8: passes through byte for byte
    engine = OneFileEngine({"var/junit.xml": junit.encode(), "var/coverage.xml": latin1})
    box.console.redactor.add(secret)
    reports = copy_reports(engine, box, "c1", UNIT)  # type: ignore[arg-type]
    written = reports.landed["junit"].read_text()
    assert secret not in written and f"pw={MASK}" in written
    assert reports.landed["coverage"].read_bytes() == latin1
