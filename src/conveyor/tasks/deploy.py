"""inv deploy, deploy.status"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from conveyor.tasks.wiring import dry, one_line_errors, toolbox

if TYPE_CHECKING:
    from conveyor.config.settings import Given

KUBECONFIG_HELP = "Kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster)."
TIMEOUT_HELP = "How long to wait for each rollout: seconds, or 90s, 5m, 1h (default: CONVEYOR_ROLLOUT_TIMEOUT, 600)."


@task(
    default=True,
    help={
        "kubeconfig": KUBECONFIG_HELP,
        "timeout": TIMEOUT_HELP,
        "rollback": "yes or no: roll back a failed rollout (default: CONVEYOR_ROLLBACK; auto = on in GitLab CI).",
        "dry_run": "Check everything and print the plan; change nothing.",
    },
)
@one_line_errors
def apply(ctx: Context, kubeconfig: str = "", timeout: str = "", rollback: str = "", dry_run: bool = False) -> None:
    """Set the new prod image on each Deployment, wait for the rollout, then promote `prod`."""
    from conveyor.stages.deploy import deploy

    deploy(toolbox(ctx, rollout_flags(timeout, rollback)), kubeconfig, dry(ctx, dry_run))


@task(
    help={
        "deployment": "Deployment to wait for (default: every deploy target).",
        "timeout": TIMEOUT_HELP,
        "kubeconfig": KUBECONFIG_HELP,
    }
)
@one_line_errors
def status(ctx: Context, deployment: str = "", timeout: str = "", kubeconfig: str = "") -> None:
    """Wait for a rollout exactly as `kubectl rollout status` decides; fail fast on pods that cannot start."""
    from conveyor.stages.deploy import status as wait

    wait(toolbox(ctx, rollout_flags(timeout, "")), deployment, kubeconfig)


def rollout_flags(timeout: str, rollback: str) -> dict[str, Given]:
    """The flags that override settings (CONVEYOR_ROLLOUT_TIMEOUT, CONVEYOR_ROLLBACK), typed with them."""
    from conveyor.config.settings import Given

    return {"rollout_timeout": Given(timeout, "--timeout"), "rollback": Given(rollback, "--rollback")}


collection = Collection("deploy", apply, status)
