"""inv init / conveyor init"""

from __future__ import annotations

from pathlib import Path

from invoke.context import Context
from invoke.tasks import task

from conveyor.tasks.bridge import dry, one_line_errors


@task(
    iterable=["file", "prod_file"],
    help={
        "file": "A compose file of the CI image and test jobs (repeat for more; default: compose's own default files).",
        "prod_file": "A compose file that builds prod images (repeat for more; default: the first *prod*.yml found).",
        "ci_service": "The compose service that builds the CI image (default: guessed from the services with build:).",
        "force": "Replace the files init writes when they exist (never your compose files).",
        "dry_run": "Print what would be written; write nothing.",
    },
)
@one_line_errors
def init(
    ctx: Context,
    file: list[str] | None = None,
    prod_file: list[str] | None = None,
    ci_service: str = "",
    force: bool = False,
    dry_run: bool = False,
) -> None:
    """Start Conveyor in a project with compose files: invoke.yaml, a compose override, .env.example, tasks.py."""
    from conveyor.init import Options, init_project

    options = Options(
        cwd=Path.cwd(),
        files=tuple(file or ()),
        prod_files=tuple(prod_file or ()),
        ci_service=ci_service,
        force=force,
    )
    for line in init_project(options, dry(ctx, dry_run)):
        print(line)
