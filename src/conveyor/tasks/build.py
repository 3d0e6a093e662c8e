"""inv build-ci, inv build-prod"""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from conveyor.tasks.bridge import dry, one_line_errors, toolbox


@task(help={"dry_run": "Check everything, look up the cache, print the build command and pushes; change nothing."})
@one_line_errors
def build_ci(ctx: Context, dry_run: bool = False) -> None:
    """Build the CI image with the branch image as cache, tag it with the commit and branch slug, push both."""
    from conveyor.wiring import entries

    entries.build_ci(toolbox(ctx), dry(ctx, dry_run))


@task(help={"dry_run": "Check everything, look up the caches, print the build command and pushes; change nothing."})
@one_line_errors
def build_prod(ctx: Context, dry_run: bool = False) -> None:
    """On deployable branches: build each prod image with cache from `prod`, tag it `prod-<sha>`, push."""
    from conveyor.wiring import entries

    entries.build_prod(toolbox(ctx), dry(ctx, dry_run))
