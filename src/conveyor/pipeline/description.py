"""The pipeline, described once from the settings: stages, jobs, which run on deployable branches only,
which start by hand, which run always and which only in scheduled pipelines. `inv pipeline` runs it
locally; `inv gitlab-ci` writes it as GitLab CI YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conveyor.config.model import JobSpec, report_file
from conveyor.config.settings import Settings
from conveyor.errors import ConfigError

STAGES = ("build", "test", "build-prod", "deploy", "cleanup")
POLICY_JOB = "cleanup:policy"


@dataclass(frozen=True)
class Report:
    """A report file GitLab reads from a job's artifacts: `junit` or `coverage` (with its format)."""

    kind: str
    path: str
    format: str = ""


@dataclass(frozen=True)
class PipelineJob:
    """One job: its GitLab name and stage, the `inv` arguments it runs, and when it runs. `docker`: it needs
    the Docker engine (docker-in-docker in GitLab); `scheduled`: it runs in scheduled pipelines only, and
    then alone."""

    name: str
    stage: str
    task: tuple[str, ...]
    needs: tuple[str, ...] = ()
    deployable_only: bool = False
    always: bool = False
    manual: bool = False
    scheduled: bool = False
    docker: bool = False
    interruptible: bool = False
    environment: str = ""
    url: str = ""
    coverage: bool = False
    reports: tuple[Report, ...] = ()

    @property
    def command(self) -> str:
        return "inv " + " ".join(self.task)

    @property
    def when(self) -> str:
        """GitLab's `when` for a pipeline in which the job runs."""
        return "always" if self.always else "manual" if self.manual else "on_success"


def describe(settings: Settings) -> tuple[PipelineJob, ...]:
    """Every job of the pipeline, in stage order."""
    tests = tuple(test_job(settings, job) for job in settings.test_jobs)
    build_ci = PipelineJob(name="build-ci", stage="build", task=("build-ci",), docker=True, interruptible=True)
    jobs = [build_ci, *tests]
    if settings.prod_images:
        jobs.append(
            PipelineJob(
                name="build-prod",
                stage="build-prod",
                task=("build-prod",),
                needs=tuple(job.name for job in tests),
                deployable_only=True,
                docker=True,
                interruptible=True,
            )
        )
    jobs += deploy_jobs(settings)
    jobs.append(PipelineJob(name="cleanup:ci-image", stage="cleanup", task=("cleanup.ci-image",), always=True))
    if settings.cleanup_policy:
        task = ("cleanup.policy", "--execute")
        jobs.append(PipelineJob(name=POLICY_JOB, stage="cleanup", task=task, scheduled=True))
    return tuple(jobs)


def test_job(settings: Settings, job: JobSpec) -> PipelineJob:
    """`test:<job>`, with its JUnit report (the job's own, or the one-case report) and coverage report."""
    reports = [Report("junit", relative(settings, report_file(settings.reports_dir, job, "junit")))]
    if job.reports.coverage:
        path = relative(settings, report_file(settings.reports_dir, job, "coverage"))
        reports.append(Report("coverage", path, job.reports.coverage_format))
    return PipelineJob(
        name=f"test:{job.name}",
        stage="test",
        task=("test", "--job", job.name),
        needs=("build-ci",),
        docker=True,
        interruptible=True,
        coverage=bool(job.coverage_regex),
        reports=tuple(reports),
    )


def relative(settings: Settings, path: Path) -> str:
    """A report's path as GitLab's artifacts name it: relative to the project."""
    return path.relative_to(settings.project_dir).as_posix() if path.is_relative_to(settings.project_dir) else str(path)


def deploy_jobs(settings: Settings) -> list[PipelineJob]:
    """One deploy job per environment, in order, each after the one before: `deploy` when the project has
    one environment and no conveyor.environments, else `deploy:<environment>` with `--environment`."""
    jobs: list[PipelineJob] = []
    named = bool(settings.declared_environments)
    for environment in settings.environments:
        jobs.append(
            PipelineJob(
                name=f"deploy:{environment.name}" if named else "deploy",
                stage="deploy",
                task=("deploy", "--environment", environment.name) if named else ("deploy",),
                needs=(jobs[-1].name,) if jobs else ("build-prod",),
                deployable_only=True,
                manual=environment.when == "manual",
                environment=environment.name,
                url=environment.url,
            )
        )
    return jobs


def select(jobs: tuple[PipelineJob, ...], until: str = "", only: str = "") -> tuple[PipelineJob, ...]:
    """The jobs of a partial run: up to and including stage `until`, or the one job `only`."""
    if until and until not in STAGES:
        raise ConfigError(f"unknown stage {until!r}", f"stages are: {', '.join(STAGES)}")
    if only:
        chosen = tuple(job for job in jobs if job.name == only)
        if not chosen:
            raise ConfigError(f"unknown job {only!r}", f"jobs are: {', '.join(job.name for job in jobs)}")
        return chosen
    if until:
        last = STAGES.index(until)
        return tuple(job for job in jobs if STAGES.index(job.stage) <= last or job.always)
    return jobs


def skip_reason(settings: Settings, job: PipelineJob) -> str:
    """Why GitLab would not run `job` in this pipeline (empty: it runs), from the same variables the
    generated rules test: CI_PIPELINE_SOURCE, CI_COMMIT_BRANCH and the deployable branches."""
    if job.scheduled and not settings.scheduled:
        return "runs in scheduled pipelines only"
    if settings.scheduled and settings.cleanup_policy and not job.scheduled:
        return "a scheduled pipeline runs only the scheduled cleanup"
    if job.deployable_only and not settings.deployable:
        return settings.why_not_deployable()
    return ""
