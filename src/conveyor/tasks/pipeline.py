"""inv pipeline, inv gitlab-ci"""

from __future__ import annotations

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from conveyor.tasks.wiring import dry, one_line_errors, plain, project_root, toolbox


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
    from conveyor.pipeline.description import describe, select
    from conveyor.pipeline.local import exit_code, plan_lines, run_pipeline, stage_runners, summary

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


@task(
    help={
        "check": "Write nothing; fail when the committed .gitlab-ci.yml differs from what would be written.",
        "dry_run": "Write nothing; say whether the file would change.",
    }
)
@one_line_errors
def gitlab_ci(ctx: Context, check: bool = False, dry_run: bool = False) -> None:
    """Write .gitlab-ci.yml from the pipeline description in invoke.yaml (or --check it)."""
    from conveyor.errors import ConfigError
    from conveyor.pipeline.gitlab import render_file

    text, jobs = render_file(project_root(), plain(ctx.config.get("conveyor", {})))
    path = project_root() / ".gitlab-ci.yml"
    current = path.read_text() if path.is_file() else None
    if check:
        if current != text:
            raise ConfigError(".gitlab-ci.yml differs from the pipeline description", "run inv gitlab-ci and commit it")
        print(".gitlab-ci.yml is up to date")
    elif dry(ctx, dry_run):
        change = "no change" if current == text else "it differs from the file there now"
        print(f"dry run: would write {path.name}: {jobs} jobs ({change})")
    else:
        path.write_text(text)
        print(f"wrote {path.name}: {jobs} jobs")
