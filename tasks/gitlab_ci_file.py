"""inv gitlab-ci"""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from tasks.wiring import PROJECT_DIR, dry, one_line_errors, portable_settings


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
    from conveyor.gitlab_ci import render
    from conveyor.pipeline import describe

    settings = portable_settings(ctx)
    jobs = describe(settings)
    text = render(jobs, settings)
    path = PROJECT_DIR / ".gitlab-ci.yml"
    current = path.read_text() if path.is_file() else None
    if check:
        if current != text:
            raise ConfigError(".gitlab-ci.yml differs from the pipeline description", "run inv gitlab-ci and commit it")
        print(".gitlab-ci.yml is up to date")
    elif dry(ctx, dry_run):
        change = "no change" if current == text else "it differs from the file there now"
        print(f"dry run: would write {path.name}: {len(jobs)} jobs ({change})")
    else:
        path.write_text(text)
        print(f"wrote {path.name}: {len(jobs)} jobs")
