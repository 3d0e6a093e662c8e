"""The pipeline, described once from the settings: stages, jobs, which run on deployable branches only
and which run always. `inv pipeline` runs it locally; `inv gitlab-ci` writes it as .gitlab-ci.yml."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.config.settings import Settings
from conveyor.errors import ConfigError

STAGES = ("build", "test", "build-prod", "deploy", "cleanup")


@dataclass(frozen=True)
class PipelineJob:
    """One job: its GitLab name and stage, the `inv` arguments it runs, and when it runs."""

    name: str
    stage: str
    task: tuple[str, ...]
    needs: tuple[str, ...] = ()
    deployable_only: bool = False
    always: bool = False
    environment: str = ""
    url: str = ""
    manual: bool = False
    coverage: bool = False
    junit: str = ""

    @property
    def command(self) -> str:
        return "inv " + " ".join(self.task)


def describe(settings: Settings) -> tuple[PipelineJob, ...]:
    """Every job of the pipeline, in stage order."""
    tests = tuple(
        PipelineJob(
            name=f"test:{job.name}",
            stage="test",
            task=("test", "--job", job.name),
            needs=("build-ci",),
            coverage=bool(job.coverage_regex),
            junit=f"{settings.reports_dir.relative_to(settings.project_dir)}/junit-{job.name}.xml",
        )
        for job in settings.test_jobs
    )
    jobs = [PipelineJob(name="build-ci", stage="build", task=("build-ci",)), *tests]
    if settings.prod_images:
        jobs.append(
            PipelineJob(
                name="build-prod",
                stage="build-prod",
                task=("build-prod",),
                needs=tuple(job.name for job in tests),
                deployable_only=True,
            )
        )
    jobs += deploy_jobs(settings)
    jobs.append(PipelineJob(name="cleanup:ci-image", stage="cleanup", task=("cleanup.ci-image",), always=True))
    return tuple(jobs)


def deploy_jobs(settings: Settings) -> list[PipelineJob]:
    """One deploy job per environment, in order, each after the one before: `deploy` when the project has
    one environment and no conveyor.environments, else `deploy:<environment>` with `--environment`."""
    jobs: list[PipelineJob] = []
    named = bool(settings.environments)
    for place in settings.places:
        jobs.append(
            PipelineJob(
                name=f"deploy:{place.environment}" if named else "deploy",
                stage="deploy",
                task=("deploy", "--environment", place.environment) if named else ("deploy",),
                needs=(jobs[-1].name,) if jobs else ("build-prod",),
                deployable_only=True,
                environment=place.environment,
                url=place.url,
                manual=place.when == "manual",
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
