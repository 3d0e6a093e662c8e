"""`inv pipeline`: the whole pipeline locally, in GitLab's order. Stages run one after another; the test
jobs run in parallel; a failure skips the later stages except jobs that run always (cleanup of the CI
image, GitLab's `when: always`); deploy stages run only on deployable branches. Jobs run in this process
with one shared Toolbox, through the tasks' own entries (conveyor.wiring.entries), so the pipeline adds
almost nothing to the time spent in docker, compose, the registry and the cluster."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from conveyor.errors import ConveyorError
from conveyor.pipeline import description
from conveyor.pipeline.description import POLICY_JOB, STAGES, PipelineJob
from conveyor.wiring import entries
from conveyor.wiring.toolbox import Toolbox

StageRunner = Callable[[Toolbox], object]


@dataclass(frozen=True)
class JobOutcome:
    job: PipelineJob
    status: str  # passed, failed, skipped
    seconds: float = 0.0
    detail: str = ""
    exit_code: int = 0


def run_pipeline(
    tools: Toolbox, jobs: Sequence[PipelineJob], runners: Mapping[str, StageRunner]
) -> tuple[JobOutcome, ...]:
    """Run `jobs` stage by stage and return every job's outcome (skipped ones included). A manual job runs
    only when it is the one job asked for (`inv pipeline --only deploy:production`)."""
    outcomes: list[JobOutcome] = []
    asked = jobs[0].name if len(jobs) == 1 else ""
    for stage in STAGES:
        stage_jobs = [job for job in jobs if job.stage == stage]
        if not stage_jobs:
            continue
        failed_before = any(outcome.status == "failed" for outcome in outcomes)
        with tools.console.section(f"stage_{stage.replace('-', '_')}", f"Stage {stage}"):
            if stage == "test":
                outcomes += run_test_stage(tools, stage_jobs, failed_before)
            else:
                outcomes += [run_job(tools, job, runners, failed_before, job.name == asked) for job in stage_jobs]
    return tuple(outcomes)


def stage_runners(jobs: Sequence[PipelineJob]) -> dict[str, StageRunner]:
    """What each non-test job runs, in this process (the tasks' own entries); a deploy job deploys its
    environment."""
    runners: dict[str, StageRunner] = {
        "build-ci": entries.build_ci,
        "build-prod": entries.build_prod,
        "cleanup:ci-image": entries.cleanup_ci_image,
        POLICY_JOB: entries.scheduled_cleanup,
    }
    for job in jobs:
        if job.environment:
            runners[job.name] = functools.partial(entries.deploy_to, environment=job.environment)
    return runners


def plan_lines(tools: Toolbox, jobs: Sequence[PipelineJob]) -> list[str]:
    """The dry run: every job GitLab would create, in order, with the command it runs and when (`always`,
    `manual`), or why it would not run."""
    lines = []
    for job in jobs:
        reason = description.skip_reason(tools.settings, job)
        when = f" ({job.when})" if job.when != "on_success" else ""
        lines.append(f"{job.stage:<10}  {job.name:<18}  " + (f"skip: {reason}" if reason else job.command + when))
    return lines


def skip_reason(tools: Toolbox, job: PipelineJob, failed_before: bool, asked: bool = False) -> str:
    """Why the local run skips `job`: GitLab would not create it, an earlier stage failed, or it starts by
    hand and was not asked for."""
    if reason := description.skip_reason(tools.settings, job):
        return reason
    if failed_before and not job.always:
        return "an earlier stage failed"
    if job.manual and not asked:
        return f"started by hand: inv pipeline --only {job.name}"
    return ""


def run_job(
    tools: Toolbox, job: PipelineJob, runners: Mapping[str, StageRunner], failed_before: bool, asked: bool = False
) -> JobOutcome:
    if reason := skip_reason(tools, job, failed_before, asked):
        tools.console.line(f"{job.name}: skipped: {reason}")
        return JobOutcome(job, "skipped", detail=reason)
    started = time.monotonic()
    try:
        runners[job.name](tools)
    except ConveyorError as error:
        tools.console.line(f"{job.name}: failed: {error}")
        return JobOutcome(job, "failed", time.monotonic() - started, str(error), error.exit_code)
    return JobOutcome(job, "passed", time.monotonic() - started)


def run_test_stage(tools: Toolbox, jobs: Sequence[PipelineJob], failed_before: bool) -> list[JobOutcome]:
    """All test jobs at once (in parallel, one pull), each reported as its own pipeline job."""
    runnable = [job for job in jobs if not skip_reason(tools, job, failed_before)]
    skipped = [run_job(tools, job, {}, failed_before) for job in jobs if job not in runnable]
    if not runnable:
        return skipped
    started = time.monotonic()
    try:
        ran = entries.run_tests(tools, names=[job.task[-1] for job in runnable])
        results = {result.job.name: result for result in ran}
    except ConveyorError as error:
        seconds = time.monotonic() - started
        return skipped + [JobOutcome(job, "failed", seconds, str(error), error.exit_code) for job in runnable]
    outcomes = []
    for job in runnable:
        result = results[job.task[-1]]
        status = "passed" if result.passed else "failed"
        detail = "" if result.passed else result.reports.problem or f"exit code {result.returncode}"
        outcomes.append(JobOutcome(job, status, result.seconds, detail, result.returncode or int(not result.passed)))
    return skipped + outcomes


def summary(outcomes: Sequence[JobOutcome]) -> list[str]:
    """The summary table: each job, its stage, result and duration; then the verdict."""
    width = max([len(o.job.name) for o in outcomes] + [3])
    lines = [f"{'job':<{width}}  {'stage':<10}  {'result':<7}  duration  detail"]
    for outcome in outcomes:
        duration = f"{outcome.seconds:7.1f}s" if outcome.status != "skipped" else "       -"
        lines.append(
            f"{outcome.job.name:<{width}}  {outcome.job.stage:<10}  {outcome.status:<7}  {duration}  {outcome.detail}"
        )
    failed = [o.job.name for o in outcomes if o.status == "failed"]
    lines.append(f"pipeline: {'failed (' + ', '.join(failed) + ')' if failed else 'passed'}")
    return lines


def exit_code(outcomes: Sequence[JobOutcome]) -> int:
    """0 when every job passed or was skipped, else the first failed job's exit code."""
    return next((o.exit_code or 1 for o in outcomes if o.status == "failed"), 0)
