"""The test stage: run the configured jobs in the CI image with `docker compose run --rm -T`, each in its
own compose project (so parallel jobs never share service containers), `--no-deps` for jobs without
services; report coverage in GitLab's regex form and write one JUnit file per job."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from conveyor.config.patterns import compile_pattern
from conveyor.config.settings import JobSpec
from conveyor.docker.compose import ComposeProject
from conveyor.errors import ConfigError, JobFailed, RegistryError, ToolError
from conveyor.process import Command
from conveyor.stages.toolbox import Toolbox

JUNIT_OUTPUT_LINES = 200


@dataclass(frozen=True)
class JobResult:
    job: JobSpec
    returncode: int
    seconds: float
    lines: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.returncode == 0

    @property
    def coverage(self) -> str | None:
        """The last coverage value the job printed, by its coverage regex (what GitLab would pick)."""
        if not self.job.coverage_regex:
            return None
        pattern = compile_pattern(self.job.coverage_regex, f"the coverage regex of test job {self.job.name}")
        values = [m.group(1) if m.groups() else m.group(0) for line in self.lines if (m := pattern.search(line))]
        return values[-1] if values else None


def select_jobs(tools: Toolbox, names: Sequence[str]) -> tuple[JobSpec, ...]:
    if names:
        return tuple(tools.settings.job(name) for name in names)
    if not tools.settings.test_jobs:
        raise ConfigError("no test jobs configured", "add conveyor.test_jobs to invoke.yaml")
    return tools.settings.test_jobs


def needed_services(jobs: Sequence[JobSpec]) -> list[str]:
    """The services the jobs run in or need, in first-seen order."""
    seen: dict[str, None] = {}
    for job in jobs:
        seen[job.service] = None
        seen.update(dict.fromkeys(job.services))
    return list(seen)


def run_tests(tools: Toolbox, names: Sequence[str] = (), dry_run: bool = False) -> tuple[JobResult, ...]:
    """Run the named jobs (default: all) in parallel, report each, and return their results (`verdict` turns
    failures into JobFailed)."""
    jobs = select_jobs(tools, names)
    project = tools.ci_project()
    services = needed_services(jobs)
    tools.check_compose(project, services)
    ci_image = tools.settings.images.ci_commit
    if tools.engine().registry_digest(ci_image) is None:
        raise RegistryError(f"the CI image {ci_image} is not in the registry", "run inv build-ci for this commit first")
    if dry_run:
        tools.console.line(f"dry run: would run: {project.pull(services).display()}")
        for job in jobs:
            tools.console.line(f"dry run: would run: {job_command(project, job).display()}")
        return ()
    with tools.logged_in() as session:
        results = pull_and_run(session, project, services, jobs)
    report(tools, results)
    return results


def pull_and_run(
    tools: Toolbox, project: ComposeProject, services: Sequence[str], jobs: Sequence[JobSpec]
) -> tuple[JobResult, ...]:
    with tools.console.section("pull", f"Pull {', '.join(services)}"):
        pulled = tools.run(project.pull(services), tools.console.prefixed("  "))
        if not pulled.ok:
            raise ToolError(f"pulling images for the test jobs failed: {pulled.last_line()}", "see the output above")
    prefix = len(jobs) > 1
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return tuple(pool.map(lambda job: run_job(tools, project, job, prefix), jobs))


def run_job(tools: Toolbox, project: ComposeProject, job: JobSpec, prefix: bool) -> JobResult:
    """Run one job in its own compose project and take that project down afterwards."""
    own = job_project(project, job)
    sink = tools.console.prefixed(f"[{job.name}] " if prefix else "")
    started = time.monotonic()
    try:
        ran = tools.run(job_command(project, job), sink)
    finally:
        tools.run(own.down())
    return JobResult(job=job, returncode=ran.returncode, seconds=time.monotonic() - started, lines=ran.lines)


def job_project(project: ComposeProject, job: JobSpec) -> ComposeProject:
    """Each job runs in a compose project of its own, so parallel jobs never share service containers."""
    return project.with_name(f"{project.name}-{job.name}")


def job_command(project: ComposeProject, job: JobSpec) -> Command:
    return job_project(project, job).run(job.service, ["sh", "-c", job.command], no_deps=job.no_deps)


def report(tools: Toolbox, results: Sequence[JobResult]) -> None:
    console = tools.console
    reports = tools.settings.reports_dir
    for result in results:
        path = write_junit(reports, result, tools.console.redactor.clean)
        verdict = "passed" if result.passed else f"FAILED (exit code {result.returncode})"
        console.line(f"job {result.job.name}: {verdict} in {result.seconds:.1f}s, JUnit report {tools.relative(path)}")
        if (coverage := result.coverage) is not None:
            console.line(f"Lines: {coverage}% (coverage of job {result.job.name})")


def verdict(results: Sequence[JobResult]) -> None:
    """Raise JobFailed with the first failing job's exit code when any job failed."""
    failed = [result for result in results if not result.passed]
    if failed:
        first = failed[0]
        names = ", ".join(r.job.name for r in failed)
        raise JobFailed(f"test job(s) failed: {names} (exit code {first.returncode})", first.returncode)


def write_junit(directory: Path, result: JobResult, clean: Callable[[str], str]) -> Path:
    """One JUnit file per job, so GitLab shows each job's result and output."""
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
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"junit-{result.job.name}.xml"
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
