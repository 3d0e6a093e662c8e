"""inv deploy, deploy.status, deploy.rollback"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from conveyor.tasks.bridge import ENVIRONMENT_HELP, dry, environment_flags, one_line_errors, toolbox

if TYPE_CHECKING:
    from conveyor.config.schema import Given

KUBECONFIG_HELP = "Kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster)."
TIMEOUT_HELP = "How long to wait for each rollout: seconds, or 90s, 5m, 1h (default: CONVEYOR_ROLLOUT_TIMEOUT, 600)."
DRY_RUN_HELP = "Check everything and print the plan; change nothing."


@task(
    name="deploy",
    default=True,
    help={
        "kubeconfig": KUBECONFIG_HELP,
        "timeout": TIMEOUT_HELP,
        "rollback": "yes or no: roll back a failed rollout (default: CONVEYOR_ROLLBACK; auto = on in GitLab CI).",
        "dry_run": DRY_RUN_HELP,
        **ENVIRONMENT_HELP,
    },
)
@one_line_errors
def deploy(
    ctx: Context,
    kubeconfig: str = "",
    timeout: str = "",
    rollback: str = "",
    dry_run: bool = False,
    environment: str = "",
    context: str = "",
    namespace: str = "",
) -> None:
    """Set the new prod image on each Deployment of the environment, wait for the rollout, then promote."""
    from conveyor.wiring.entries import run_deploy

    flags = rollout_flags(timeout, rollback) | environment_flags(environment, context, namespace)
    run_deploy(toolbox(ctx, flags), kubeconfig, dry(ctx, dry_run))


@task(
    help={
        "deployment": "Deployment to wait for (default: every deploy target of the environment).",
        "timeout": TIMEOUT_HELP,
        "kubeconfig": KUBECONFIG_HELP,
        **ENVIRONMENT_HELP,
    }
)
@one_line_errors
def status(
    ctx: Context,
    deployment: str = "",
    timeout: str = "",
    kubeconfig: str = "",
    environment: str = "",
    context: str = "",
    namespace: str = "",
) -> None:
    """Wait for a rollout exactly as `kubectl rollout status` decides; fail fast on pods that cannot start."""
    from conveyor.wiring.entries import run_status

    flags = rollout_flags(timeout, "") | environment_flags(environment, context, namespace)
    run_status(toolbox(ctx, flags), deployment, kubeconfig)


@task(help={"timeout": TIMEOUT_HELP, "kubeconfig": KUBECONFIG_HELP, "dry_run": DRY_RUN_HELP, **ENVIRONMENT_HELP})
@one_line_errors
def rollback(
    ctx: Context,
    timeout: str = "",
    kubeconfig: str = "",
    dry_run: bool = False,
    environment: str = "",
    context: str = "",
    namespace: str = "",
) -> None:
    """Undo the last rollout of each Deployment of the environment (as `kubectl rollout undo`), wait for it,
    then move the environment's promotion tag back to the release it runs again. Deletes nothing."""
    from conveyor.wiring.entries import run_rollback

    flags = rollout_flags(timeout, "") | environment_flags(environment, context, namespace)
    run_rollback(toolbox(ctx, flags), kubeconfig, dry(ctx, dry_run))


def rollout_flags(timeout: str, rollback: str) -> dict[str, Given]:
    """The flags that override settings (CONVEYOR_ROLLOUT_TIMEOUT, CONVEYOR_ROLLBACK), typed with them."""
    from conveyor.config.schema import Given

    return {"rollout_timeout": Given(timeout, "--timeout"), "rollback": Given(rollback, "--rollback")}


collection = Collection("deploy", deploy, status, rollback)
