"""inv gitlab-ci"""

from __future__ import annotations

from invoke import Context, task

from tasks.wiring import PROJECT_DIR, one_line_errors, portable_settings


@task(help={"check": "Write nothing; fail when the committed .gitlab-ci.yml differs from what would be written."})
@one_line_errors
def gitlab_ci(ctx: Context, check: bool = False) -> None:
    """Write .gitlab-ci.yml from the pipeline description in invoke.yaml (or --check it)."""
    from conveyor.errors import ConfigError
    from conveyor.gitlab_ci import render
    from conveyor.pipeline import describe

    settings = portable_settings(ctx)
    jobs = describe(settings)
    text = render(jobs, settings)
    path = PROJECT_DIR / ".gitlab-ci.yml"
    if not check:
        path.write_text(text)
        print(f"wrote {path.name}: {len(jobs)} jobs")
        return
    if not path.is_file() or path.read_text() != text:
        raise ConfigError(".gitlab-ci.yml differs from the pipeline description", "run inv gitlab-ci and commit it")
    print(".gitlab-ci.yml is up to date")
