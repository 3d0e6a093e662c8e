"""inv build-prod"""

from __future__ import annotations

from invoke import Context, task

from tasks.wiring import one_line_errors, toolbox


@task
@one_line_errors
def build_prod(ctx: Context) -> None:
    """On deployable branches: build each prod image with cache from `prod`, tag it `prod-<sha>`, push."""
    from conveyor.imagebuild import build_prod as run

    run(toolbox(ctx))
