"""The test stage: run the configured jobs in the CI image with `docker compose run --rm -T`, each in its
own compose project (so parallel jobs never share service containers), `--no-deps` for jobs without
services; report coverage in GitLab's regex form and a JUnit file per job.

A job that declares report files (`reports:` in invoke.yaml) runs without `--rm`, under a container name of
its own; after the run, passed or failed, its files are copied out of the stopped container through the
engine (no bind mount, so it works the same against docker-in-docker), then the container is removed
(always, also on failure or interrupt) and the job's compose project taken down. A job that declares no
JUnit file gets a one-case JUnit report written by Conveyor. Every job's JUnit file is summed up."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.etree import ElementTree

from conveyor.config.model import JobSpec, report_file
from conveyor.config.patterns import compile_pattern
from conveyor.console import Console
from conveyor.docker.compose import ComposeProject
from conveyor.docker.engine import Engine
from conveyor.docker.session import DockerSession
from conveyor.errors import JobFailed, RegistryError, ToolError
from conveyor.process import Command, Completed, LineSink
from conveyor.reference import ImageReference
from conveyor.stages.junit import JUnitError, Summary, read_junit

JUNIT_OUTPUT_LINES = 200


@dataclass(frozen=True)
class Reports:
    """A job's reports on the runner: where each landed (kind -> path), the declared files the job did not
    write (as it names them), the summary of its JUnit file, and why that file could not be read."""

    landed: Mapping[str, Path] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    summary: Summary | None = None
    problem: str = ""


@dataclass(frozen=True)
class JobResult:
    job: JobSpec
    returncode: int
    seconds: float
    lines: tuple[str, ...]
    reports: Reports = Reports()

    @property
    def passed(self) -> bool:
        """The job exited 0 and its JUnit report (if any) could be read."""
        return self.returncode == 0 and not self.reports.problem

    @property
    def coverage(self) -> str | None:
        """The last coverage value the job printed, by its coverage regex (what GitLab would pick)."""
        if not self.job.coverage_regex:
            return None
        pattern = compile_pattern(self.job.coverage_regex, f"the coverage regex of test job {self.job.name}")
        values = [m.group(1) if m.groups() else m.group(0) for line in self.lines if (m := pattern.search(line))]
        return values[-1] if values else None


def needed_services(jobs: Sequence[JobSpec]) -> list[str]:
    """The services the jobs run in or need, in first-seen order."""
    seen: dict[str, None] = {}
    for job in jobs:
        seen[job.service] = None
        seen.update(dict.fromkeys(job.services))
    return list(seen)


@dataclass(frozen=True)
class JobRunner:
    """What running test jobs works with: the Docker session, the CI image's compose project, where reports land
    on the runner, and the console."""

    docker: DockerSession
    project: ComposeProject
    reports_dir: Path
    console: Console

    def report_file(self, job: JobSpec, kind: str) -> Path:
        return report_file(self.reports_dir, job, kind)

    def relative(self, path: Path) -> str:
        return self.project.relative(path)


def run_tests(
    run: JobRunner, jobs: Sequence[JobSpec], ci_image: ImageReference, dry_run: bool = False
) -> tuple[JobResult, ...]:
    """Run `jobs` in parallel, report each, and return their results (`verdict` turns failures into
    JobFailed)."""
    project, console = run.project, run.console
    services = needed_services(jobs)
    version = run.docker.check_compose(project, services)
    console.line(f"compose {version}, files: {' '.join(project.relative(p) for p in project.files)}")
    if run.docker.engine().registry_digest(ci_image) is None:
        raise RegistryError(f"the CI image {ci_image} is not in the registry", "run inv build-ci for this commit first")
    if dry_run:
        console.line(f"dry run: would run: {project.pull(services).display()}")
        for job in jobs:
            keep_as = container_name(project, job) if job.reports.files() else ""
            console.line(f"dry run: would run: {job_command(project, job, keep_as).display()}")
        return ()
    with run.docker.logged_in() as session:
        results = pull_and_run(replace(run, docker=session), services, jobs)
    report(run, results)
    return results


def pull_and_run(run: JobRunner, services: Sequence[str], jobs: Sequence[JobSpec]) -> tuple[JobResult, ...]:
    with run.console.section("pull", f"Pull {', '.join(services)}"):
        pulled = run.docker.runner.run(run.project.pull(services), run.console.prefixed("  "))
        if not pulled.ok:
            raise ToolError(f"pulling images for the test jobs failed: {pulled.last_line()}", "see the output above")
    prefix = len(jobs) > 1
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return tuple(pool.map(lambda job: run_job(run, job, prefix), jobs))


def run_job(run: JobRunner, job: JobSpec, prefix: bool) -> JobResult:
    """Run one job in its own compose project and take that project down afterwards; land its reports."""
    sink = run.console.prefixed(f"[{job.name}] " if prefix else "")
    started = time.monotonic()
    if job.reports.files():
        ran, reports = run_keeping_reports(run, job, sink)
    else:
        ran, reports = run_removed(run, job, sink), Reports()
    result = JobResult(job, ran.returncode, time.monotonic() - started, ran.lines, reports)
    return with_junit(run, result)


def run_removed(run: JobRunner, job: JobSpec, sink: LineSink) -> Completed:
    """`run --rm`: the container goes as soon as the job exits."""
    runner = run.docker.runner
    try:
        return runner.run(job_command(run.project, job), sink)
    finally:
        runner.run(job_project(run.project, job).down())


def run_keeping_reports(run: JobRunner, job: JobSpec, sink: LineSink) -> tuple[Completed, Reports]:
    """Run under a container name of the job's own, copy the declared files out of the stopped container
    (whatever the exit code), then remove it (also when anything failed or was interrupted)."""
    for kind in job.reports.files():
        run.report_file(job, kind).unlink(missing_ok=True)  # a stale report must not pass for this run's
    container = container_name(run.project, job)
    engine = run.docker.engine()
    runner = run.docker.runner
    try:
        ran = runner.run(job_command(run.project, job, container), sink)
        return ran, copy_reports(engine, run, container, job)
    finally:
        try:
            engine.remove_container(container)
        finally:
            runner.run(job_project(run.project, job).down())


def copy_reports(engine: Engine, run: JobRunner, container: str, job: JobSpec) -> Reports:
    """Copy each declared report out of `container` to where it lands on the runner, with every secret
    Conveyor knows masked (bytes that are not UTF-8 pass through unchanged)."""
    clean = run.console.redactor.clean
    landed: dict[str, Path] = {}
    missing: list[str] = []
    for kind, path in job.reports.files().items():
        content = engine.container_file(container, path)
        if content is None:
            missing.append(path)
            continue
        target = run.report_file(job, kind)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(clean(content.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape"))
        landed[kind] = target
    return Reports(landed=landed, missing=tuple(missing))


def with_junit(run: JobRunner, result: JobResult) -> JobResult:
    """The result with its JUnit file summed up: the one the job wrote, or the one-case report Conveyor
    writes for a job that declares none. A declared file the job did not write has no summary."""
    job = result.job
    path = run.report_file(job, "junit")
    if not job.reports.junit:
        write_junit(path, result, run.console.redactor.clean)
    elif "junit" not in result.reports.landed:
        return result
    try:
        summary = read_junit(path, run.relative(path))
    except JUnitError as error:
        return replace(result, reports=replace(result.reports, problem=f"job {job.name}: {error}"))
    return replace(result, reports=replace(result.reports, summary=summary))


def job_project(project: ComposeProject, job: JobSpec) -> ComposeProject:
    """Each job runs in a compose project of its own, so parallel jobs never share service containers."""
    return project.with_name(f"{project.name}-{job.name}")


def container_name(project: ComposeProject, job: JobSpec) -> str:
    """The name a job that declares reports runs under: its project, its service, and a part of its own (two
    runs of one job on one engine, say two pipelines, must not collide)."""
    return f"{job_project(project, job).name}-{job.service}-reports-{uuid.uuid4().hex[:12]}"


def job_command(project: ComposeProject, job: JobSpec, keep_as: str = "") -> Command:
    return job_project(project, job).run(job.service, ["sh", "-c", job.command], no_deps=job.no_deps, keep_as=keep_as)


def report(run: JobRunner, results: Sequence[JobResult]) -> None:
    """Each job's verdict, then what became of its reports: warnings for declared files it did not write,
    an error for a JUnit file that cannot be read, the JUnit counts, slowest and failed cases, coverage."""
    for result in results:
        for line in job_report(run, result):
            run.console.line(line)


def job_report(run: JobRunner, result: JobResult) -> list[str]:
    job, reports = result.job, result.reports
    verdict = "passed" if result.returncode == 0 else f"FAILED (exit code {result.returncode})"
    junit = run.report_file(job, "junit")
    shown = f", JUnit report {run.relative(junit)}" if junit.is_file() else ""
    lines = [f"job {job.name}: {verdict} in {result.seconds:.1f}s{shown}"]
    lines += [f"warning: job {job.name} did not write its declared report {path}" for path in reports.missing]
    if reports.problem:
        lines.append(f"error: {reports.problem}")
    if reports.summary is not None:
        lines += [f"  {line}" for line in reports.summary.lines()]
    if (coverage := result.coverage) is not None:
        lines.append(f"Lines: {coverage}% (coverage of job {job.name})")
    if (landed := reports.landed.get("coverage")) is not None:
        lines.append(f"  coverage report ({job.reports.coverage_format}): {run.relative(landed)}")
    return lines


def verdict(results: Sequence[JobResult]) -> None:
    """Raise JobFailed when any job failed (with the first failing job's exit code) or left a JUnit report
    that cannot be read (exit code 1 when every job itself passed)."""
    failed = [result for result in results if result.returncode != 0]
    problems = [result.reports.problem for result in results if result.reports.problem]
    if not failed and not problems:
        return
    parts = []
    if failed:
        names = ", ".join(r.job.name for r in failed)
        parts.append(f"test job(s) failed: {names} (exit code {failed[0].returncode})")
    raise JobFailed("; ".join(parts + problems), failed[0].returncode if failed else 1)


def write_junit(path: Path, result: JobResult, clean: Callable[[str], str]) -> None:
    """The one-case JUnit report of a job that declares none, so GitLab shows each job's result and output."""
    suite = ElementTree.Element(
        "testsuite",
        name="conveyor.test",
        tests="1",
        failures="0" if result.passed else "1",
        time=f"{result.seconds:.3f}",
    )
    case = ElementTree.SubElement(
        suite, "testcase", classname="conveyor.test", name=result.job.name, time=f"{result.seconds:.3f}"
    )
    output = clean("\n".join(result.lines[-JUNIT_OUTPUT_LINES:]))
    if not result.passed:
        failure = ElementTree.SubElement(case, "failure", message=f"exit code {result.returncode}")
        failure.text = output
    ElementTree.SubElement(case, "system-out").text = output
    path.parent.mkdir(parents=True, exist_ok=True)
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
