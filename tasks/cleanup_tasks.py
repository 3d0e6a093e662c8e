"""inv cleanup, cleanup.ci-image, cleanup.old-prod, cleanup.policy"""

from __future__ import annotations

from invoke import Collection, Context, task

from tasks.wiring import PROJECT_DIR, one_line_errors, toolbox


@task(
    default=True,
    help={
        "tag": "The tag to delete, as registry/repository:tag (inside the configured registry).",
        "dry_run": "Print what would be deleted and why; change nothing.",
    },
)
@one_line_errors
def delete_tag(ctx: Context, tag: str = "", dry_run: bool = False) -> None:
    """Delete one tag safely (maintainers): never by a digest another tag shares."""
    from conveyor.cleanup_stage import cleanup_one_tag
    from conveyor.errors import ConfigError

    if not tag:
        raise ConfigError("no tag given", "use inv cleanup --tag registry/repository:tag")
    cleanup_one_tag(toolbox(ctx), tag, dry_run)


@task(help={"dry_run": "Print what would be deleted; change nothing."})
@one_line_errors
def ci_image(ctx: Context, dry_run: bool = False) -> None:
    """Delete this commit's CI image tag; the branch tag stays (runs even when earlier stages failed)."""
    from conveyor.cleanup_stage import cleanup_this_ci_image

    cleanup_this_ci_image(toolbox(ctx), dry_run)


@task(help={"dry_run": "Print the promotion and deletions; change nothing."})
@one_line_errors
def old_prod(ctx: Context, dry_run: bool = False) -> None:
    """Move `prod` to this commit's `prod-<sha>` and delete the previous prod image (deploy calls it)."""
    from conveyor.cleanup_stage import cleanup_old_prod

    cleanup_old_prod(toolbox(ctx), dry_run)


@task(
    help={
        "image": "Image under the registry image to clean (default: the CI image).",
        "keep": "Regex of tags always kept (whole tag).",
        "delete": "Regex of tags that may be deleted (whole tag); empty: none by this rule.",
        "keep_newest": "Of the deletable tags, keep this many newest.",
        "older_than": "Delete deletable tags older than this (30d, 12h, 2w).",
        "gone_branches": "Also delete tags of branches that no longer exist in git (and their commit tags).",
        "execute": "Really delete (the default is a dry run that prints the plan).",
    }
)
@one_line_errors
def policy(
    ctx: Context,
    image: str = "",
    keep: str = "",
    delete: str = "",
    keep_newest: int = -1,
    older_than: str = "",
    gone_branches: bool = False,
    execute: bool = False,
) -> None:
    """Delete tags by rules (keep N, older than, regex, gone branches): a dry run unless --execute."""
    from conveyor.cleanup_stage import cleanup_by_policy
    from conveyor.gitinfo import GitAnswer

    tools = toolbox(ctx)
    cleanup_by_policy(
        tools,
        image=image or tools.settings.ci_image_name,
        keep_regex=keep,
        delete_regex=delete,
        keep_newest=keep_newest if keep_newest >= 0 else None,
        older_than=older_than,
        gone_branches=gone_branches,
        live_branches=GitAnswer(PROJECT_DIR).branches() if gone_branches else None,
        dry_run=not execute,
    )


collection = Collection("cleanup", delete_tag, ci_image, old_prod, policy)
