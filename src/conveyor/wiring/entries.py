"""One entry per task: each resolves, from the toolbox, the narrow values its stage takes (an environment,
its release, a registry client, cluster access, the Docker session, the console) and calls the stage. The
Invoke tasks and the local pipeline both call these, so a task and a pipeline job are the same code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from conveyor.config.model import CleanupPolicy, JobSpec
from conveyor.errors import ConfigError
from conveyor.jobimage.build import Request
from conveyor.jobimage.tools import JobImageTools
from conveyor.reference import ImageReference
from conveyor.stages import build, cleanup, deploy, plans, rollback, status, test
from conveyor.stages.build import BuildResult
from conveyor.stages.test import JobResult, JobRunner
from conveyor.wiring.toolbox import Toolbox


def build_ci(tools: Toolbox, dry_run: bool = False) -> BuildResult | None:
    return build.build_ci(tools.docker(), tools.ci_project(), tools.ci_target(), tools.console, tools.stop, dry_run)


def build_prod(tools: Toolbox, dry_run: bool = False) -> list[BuildResult]:
    """On deployable branches, every prod image; elsewhere a line saying why not."""
    settings = tools.settings
    if not settings.deployable:
        tools.console.line(f"build-prod: skipped: {settings.why_not_deployable()}")
        return []
    docker, project = tools.docker(), tools.prod_project()
    return build.build_prod(docker, project, tools.prod_targets(), tools.console, tools.stop, dry_run)


def run_tests(tools: Toolbox, names: Sequence[str] = (), dry_run: bool = False) -> tuple[JobResult, ...]:
    """The named test jobs (default: all), in parallel."""
    settings = tools.settings
    jobs = select_jobs(settings.test_jobs, [settings.job(name) for name in names])
    runner = JobRunner(tools.docker(), tools.ci_project(), settings.reports_dir, tools.console)
    return test.run_tests(runner, jobs, settings.images.ci_commit, dry_run)


def select_jobs(configured: Sequence[JobSpec], named: Sequence[JobSpec]) -> tuple[JobSpec, ...]:
    if named:
        return tuple(named)
    if not configured:
        raise ConfigError("no test jobs configured", "add conveyor.test_jobs to invoke.yaml")
    return tuple(configured)


def run_deploy(tools: Toolbox, kubeconfig: str = "", dry_run: bool = False) -> None:
    """`inv deploy` to the environment being deployed (the rollout timeout and rollback come from the
    settings, where task flags win)."""
    settings = tools.settings
    if not settings.deployable:
        raise ConfigError(
            settings.why_not_deployable(),
            "deploy from a deployable branch, or add it to conveyor.deployable_branches (CONVEYOR_DEPLOYABLE_BRANCHES)",
        )
    release = tools.release()
    cause = f"conveyor deploy: commit {settings.commit_sha}, pipeline {settings.pipeline_id}"
    request = deploy.DeployRequest(release, cause, settings.rollback_enabled, settings.keep_releases)
    with tools.registry() as client:
        known = tools.knowledge(strict=False)
        deploy.deploy(request, client, tools.cluster_access(kubeconfig), known, tools.waiting(), dry_run)


def deploy_to(tools: Toolbox, environment: str) -> None:
    """A pipeline's deploy job: `inv deploy --environment ENVIRONMENT`."""
    run_deploy(replace(tools, settings=tools.settings.for_environment(environment)))


def run_status(tools: Toolbox, deployment: str = "", kubeconfig: str = "") -> None:
    environment = tools.settings.deploy_environment
    status.status(environment, deployment, tools.cluster_access(kubeconfig), tools.waiting())


def run_rollback(tools: Toolbox, kubeconfig: str = "", dry_run: bool = False) -> None:
    with tools.registry() as client:
        rollback.roll_back(tools.release(), client, tools.cluster_access(kubeconfig), tools.waiting(), dry_run)


def cleanup_tag(
    tools: Toolbox, tag: str, dry_run: bool, skip_cluster_check: bool = False, as_json: bool = False
) -> None:
    reference = cleanup.parse_tag_reference(tag, tools.settings.registry)
    known = tools.knowledge(skip_cluster_check=skip_cluster_check)
    known.scope.check_home(reference.repository)  # before the registry is asked anything
    with tools.reports("cleanup", as_json) as reports, tools.registry() as client:
        cleanup.cleanup_one_tag(reference, client, known, reports, dry_run)


def cleanup_ci_image(tools: Toolbox, dry_run: bool = False, as_json: bool = False) -> None:
    images = tools.settings.images
    with tools.reports("cleanup.ci-image", as_json) as reports, tools.registry() as client:
        known = tools.knowledge()
        cleanup.cleanup_ci_image(images.ci_commit, images.ci_branch, client, known, reports, dry_run)


def cleanup_old_prod(
    tools: Toolbox, dry_run: bool = False, skip_cluster_check: bool = False, as_json: bool = False
) -> None:
    known = tools.knowledge(skip_cluster_check=skip_cluster_check)
    with tools.reports("cleanup.old-prod", as_json) as reports, tools.registry() as client:
        cleanup.cleanup_old_prod(tools.release(), client, tools.cluster_access(), known, reports, dry_run)


def cleanup_by_policy(
    tools: Toolbox,
    policies: Sequence[CleanupPolicy],
    dry_run: bool,
    skip_cluster_check: bool = False,
    as_json: bool = False,
    plan_out: Path | None = None,
) -> None:
    """Each policy's image, in turn, in one report (written as a plan to `plan_out`, a dry run's)."""
    settings = tools.settings
    if plan_out is not None and not dry_run:
        raise ConfigError(
            "--plan-out writes the plan of a dry run", "leave out --execute, then run the plan with --plan"
        )
    known = tools.knowledge(skip_cluster_check=skip_cluster_check)
    with tools.reports("cleanup.policy", as_json, plan_out) as reports, tools.registry() as client:
        for policy in policies:
            repository = ImageReference.parse(f"{settings.registry_image}/{policy.image}").repository
            known.scope.check_home(repository)
            cleanup.cleanup_by_policy(policy, repository, client, known, reports, dry_run)


def cleanup_by_plan(tools: Toolbox, path: Path, skip_cluster_check: bool = False, as_json: bool = False) -> None:
    """`cleanup.policy --execute --plan FILE`: the plan's deletions, each still weighed."""
    plan = plans.read_plan(path, tools.settings.registry_image, datetime.now(UTC))
    known = tools.knowledge(skip_cluster_check=skip_cluster_check)
    with tools.reports("cleanup.policy", as_json) as reports, tools.registry() as client:
        plans.execute_plan(plan, client, known, reports)


def scheduled_cleanup(tools: Toolbox) -> None:
    """The scheduled cleanup: conveyor.cleanup_policy's rules, executed (`inv cleanup.policy --execute`)."""
    cleanup_by_policy(tools, configured_policies(tools, CleanupPolicy()), dry_run=False)


def configured_policies(tools: Toolbox, flags: CleanupPolicy) -> list[CleanupPolicy]:
    """The rules to apply: the flags when any rule flag is given, else conveyor.cleanup_policy (only the
    `--image` one, when given); every image defaults to the CI image."""
    ci_image = tools.settings.ci_image_name
    configured = [replace(rules, image=rules.image or ci_image) for rules in tools.settings.cleanup_policy]
    if flags.has_rules or not configured:
        return [replace(flags, image=flags.image or ci_image)]
    chosen = [rules for rules in configured if flags.image in ("", rules.image)]
    if not chosen:
        names = ", ".join(rules.image for rules in configured)
        raise ConfigError(f"conveyor.cleanup_policy has no rules for image {flags.image!r}", f"its images: {names}")
    return chosen


def job_image(tools: Toolbox, request: Request) -> None:
    from conveyor.jobimage.build import job_image as build_job_image

    settings = tools.settings
    build_job_image(
        JobImageTools(tools.docker(), tools.console, tools.stop, settings.registry, settings.registry_image), request
    )
