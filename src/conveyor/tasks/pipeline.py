"""inv pipeline, inv gitlab-ci"""

from __future__ import annotations

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from conveyor.tasks.bridge import dry, one_line_errors, outside_values, plain, project_root, toolbox


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
    outcomes = run_pipeline(tools, jobs, stage_runners(jobs))
    for line in summary(outcomes):
        tools.console.line(line)
    if code := exit_code(outcomes):
        raise Exit(code=code)


@task(
    help={
        "check": "Write nothing; fail, with a diff, when the committed .gitlab/conveyor.yml is stale.",
        "dry_run": "Write nothing; say whether the files would change.",
    }
)
@one_line_errors
def gitlab_ci(ctx: Context, check: bool = False, dry_run: bool = False) -> None:
    """Write Conveyor's GitLab jobs to .gitlab/conveyor.yml (and a .gitlab-ci.yml including it, if none)."""
    from conveyor.errors import ConfigError
    from conveyor.pipeline.gitlab import CONVEYOR_FILE, TEAM_FILE, render_file, render_team_file
    from conveyor.pipeline.writing import FIX, describe_change, stale_diff, team_file_note, unused_variables

    root = project_root()
    for line in unused_variables(outside_values()):
        print(line)
    text, jobs = render_file(root, plain(ctx.config.get("conveyor", {})))
    ours, team = root / CONVEYOR_FILE, root / TEAM_FILE
    if check:
        if diff := stale_diff(ours, text):
            print(diff, end="")
            raise ConfigError(f"{CONVEYOR_FILE} is stale: it differs from invoke.yaml (diff above)", FIX)
        print(f"{CONVEYOR_FILE} is up to date")
        return
    if dry(ctx, dry_run):
        print(f"dry run: would write {CONVEYOR_FILE}: {jobs} jobs ({describe_change(ours, text)})")
        if not team.exists():
            print(f"dry run: would write {TEAM_FILE}, which includes it")
        return
    ours.parent.mkdir(parents=True, exist_ok=True)
    ours.write_text(text)
    print(f"wrote {CONVEYOR_FILE}: {jobs} jobs")
    if not team.exists():
        team.write_text(render_team_file())
        print(f"wrote {TEAM_FILE}, which includes it (the file is yours from now on)")
    elif note := team_file_note(team.read_text()):
        print(note)
