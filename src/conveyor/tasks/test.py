"""inv test"""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from conveyor.tasks.bridge import dry, one_line_errors, toolbox


@task(
    help={
        "job": "Run only this test job (as a GitLab job does); default: every job, in parallel.",
        "dry_run": "Check everything and print the pull and run commands; run nothing.",
    }
)
@one_line_errors
def test(ctx: Context, job: str = "", dry_run: bool = False) -> None:
    """Run the configured test jobs in the CI image (all in parallel, or one with --job)."""
    from conveyor.stages.test import verdict
    from conveyor.wiring.entries import run_tests

    verdict(run_tests(toolbox(ctx), [job] if job else [], dry(ctx, dry_run)))
