"""inv pipeline"""

from __future__ import annotations

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from tasks.wiring import dry, one_line_errors, toolbox


@task(
    help={
        "until": "Stop after this stage (build, test, build-prod, deploy, cleanup); cleanup still runs.",
        "only": "Run only this job (e.g. test:unit, build-ci, cleanup:ci-image).",
        "dry_run": "Print the jobs that would run, in order, and change nothing.",
    }
)
@one_line_errors
def pipeline(ctx: Context, until: str = "", only: str = "", dry_run: bool = False) -> None:
    """Run the whole pipeline locally in GitLab's order (cleanup always), then print a summary table."""
    from conveyor.pipeline import describe, select
    from conveyor.pipeline_run import exit_code, plan_lines, run_pipeline, stage_runners, summary

    tools = toolbox(ctx)
    jobs = select(describe(tools.settings), until=until, only=only)
    if dry(ctx, dry_run):
        for line in plan_lines(tools, jobs):
            tools.console.line(line)
        return
    outcomes = run_pipeline(tools, jobs, stage_runners())
    for line in summary(outcomes):
        tools.console.line(line)
    if code := exit_code(outcomes):
        raise Exit(code=code)
