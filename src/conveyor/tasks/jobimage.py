"""inv job-image"""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from conveyor.tasks.bridge import dry, one_line_errors, toolbox


@task(
    help={
        "dry_run": "Check everything (engine, registry, compose plugin, base) and print the plan; change nothing.",
        "base": "Build on this existing image instead of the debootstrapped Debian bookworm base: a Debian/Ubuntu "
        "(glibc) image with python3 >= 3.11 and python3-venv, the docker CLI and git.",
        "mirror": "The Debian mirror debootstrap fetches the base from (default http://deb.debian.org/debian).",
        "refresh_base": "Make the Debian base again with debootstrap (Debian's latest packages), even if one exists.",
    }
)
@one_line_errors
def job_image(
    ctx: Context, dry_run: bool = False, base: str = "", mirror: str = "", refresh_base: bool = False
) -> None:
    """Build and push <registry image>/conveyor-job:<Conveyor version>, the image GitLab jobs run Conveyor in."""
    from conveyor.jobimage.build import Request
    from conveyor.wiring import entries

    entries.job_image(
        toolbox(ctx), Request(dry_run=dry(ctx, dry_run), base=base, mirror=mirror, refresh_base=refresh_base)
    )
