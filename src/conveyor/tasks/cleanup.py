"""inv cleanup, cleanup.ci-image, cleanup.old-prod, cleanup.policy"""

from __future__ import annotations

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from conveyor.tasks.bridge import ENVIRONMENT_HELP, dry, environment_flags, one_line_errors, toolbox

JSON_HELP = "Print one JSON document on stdout (the report: schema conveyor.cleanup/1); human lines go to stderr."
SKIP_HELP = (
    "Delete without asking the clusters whether they still use an image (when they cannot be asked); "
    "releases kept for rollback are still kept."
)


@task(
    name="cleanup",
    default=True,
    help={
        "tag": "The tag to delete, as registry/repository:tag (inside the configured registry).",
        "dry_run": "Print what would be deleted and why; change nothing.",
        "skip_cluster_check": SKIP_HELP,
        "json": JSON_HELP,
    },
)
@one_line_errors
def cleanup(
    ctx: Context, tag: str = "", dry_run: bool = False, skip_cluster_check: bool = False, json: bool = False
) -> None:
    """Delete one tag safely (maintainers): never one a cluster uses, never by a digest another tag shares."""
    from conveyor.errors import ConfigError
    from conveyor.wiring.entries import cleanup_tag

    if not tag:
        raise ConfigError("no tag given", "use inv cleanup --tag registry/repository:tag")
    cleanup_tag(toolbox(ctx, json_output=json), tag, dry(ctx, dry_run), skip_cluster_check, json)


@task(help={"dry_run": "Print what would be deleted; change nothing.", "json": JSON_HELP})
@one_line_errors
def ci_image(ctx: Context, dry_run: bool = False, json: bool = False) -> None:
    """Delete this commit's CI image tag; the branch tag stays (runs even when earlier stages failed)."""
    from conveyor.wiring.entries import cleanup_ci_image

    cleanup_ci_image(toolbox(ctx, json_output=json), dry(ctx, dry_run), json)


@task(
    help={
        "dry_run": "Print the promotion and deletions; change nothing.",
        "skip_cluster_check": SKIP_HELP,
        "environment": ENVIRONMENT_HELP["environment"],
        "json": JSON_HELP,
    }
)
@one_line_errors
def old_prod(
    ctx: Context, dry_run: bool = False, skip_cluster_check: bool = False, environment: str = "", json: bool = False
) -> None:
    """Promote this commit's release in the environment once its cluster runs it, then delete releases
    nothing needs."""
    from conveyor.wiring.entries import cleanup_old_prod

    tools = toolbox(ctx, environment_flags(environment, "", ""), json_output=json)
    cleanup_old_prod(tools, dry(ctx, dry_run), skip_cluster_check, json)


@task(
    help={
        "image": "Image under the registry image to clean (default: the CI image).",
        "keep": "Regex of tags always kept (whole tag).",
        "delete": "Regex of tags that may be deleted (whole tag); empty: none by this rule.",
        "keep_newest": "Of the deletable tags, keep this many newest (0 or more).",
        "older_than": "Delete deletable tags older than this (30d, 12h, 2w).",
        "gone_branches": "Also delete tags of branches that no longer exist on origin (and their commit tags).",
        "execute": "Really delete (the default is a dry run that prints the plan).",
        "skip_cluster_check": SKIP_HELP,
        "json": JSON_HELP,
        "plan_out": "Write the dry run's report to this file, as a plan to execute later (--execute --plan FILE).",
        "plan": "With --execute: delete this plan's deletions (each still weighed by the guard); no rules run.",
    }
)
@one_line_errors
def policy(
    ctx: Context,
    image: str = "",
    keep: str = "",
    delete: str = "",
    keep_newest: str = "",
    older_than: str = "",
    gone_branches: bool = False,
    execute: bool = False,
    skip_cluster_check: bool = False,
    json: bool = False,
    plan_out: str = "",
    plan: str = "",
) -> None:
    """Delete tags by rules (keep N, older than, regex, gone branches): a dry run unless --execute. Without
    rule flags, the rules of conveyor.cleanup_policy in invoke.yaml (what the scheduled GitLab job runs)."""
    from pathlib import Path

    from conveyor.config.durations import AGE_MAX, parse_count, parse_duration
    from conveyor.config.model import CleanupPolicy
    from conveyor.errors import ConfigError
    from conveyor.wiring.entries import cleanup_by_plan, cleanup_by_policy, configured_policies

    tools = toolbox(ctx, json_output=json)
    if plan:
        if not execute or dry(ctx, False):
            raise ConfigError("--plan is carried out only with --execute", "a plan already is a dry run's report")
        cleanup_by_plan(tools, Path(plan), skip_cluster_check, json)
        return
    flags = CleanupPolicy(
        image=image,
        keep_regex=keep,
        delete_regex=delete,
        keep_newest=parse_count("--keep-newest", keep_newest),
        older_than=parse_duration(older_than, "--older-than", AGE_MAX) if older_than else None,
        gone_branches=gone_branches,
        older_than_text=older_than,
    )
    chosen = configured_policies(tools, flags)
    out = Path(plan_out) if plan_out else None
    cleanup_by_policy(tools, chosen, dry(ctx, not execute), skip_cluster_check, json, out)


collection = Collection("cleanup", cleanup, ci_image, old_prod, policy)
