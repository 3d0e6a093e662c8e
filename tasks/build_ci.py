"""inv build-ci"""

from __future__ import annotations

from invoke import Context, task

from tasks.wiring import one_line_errors, toolbox


@task
@one_line_errors
def build_ci(ctx: Context) -> None:
    """Build the CI image with the branch image as cache, tag it with the commit and branch slug, push both."""
    from conveyor.imagebuild import build_ci as run

    run(toolbox(ctx))
