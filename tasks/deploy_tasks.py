"""inv deploy, deploy.status"""

from __future__ import annotations

from invoke import Collection, Context, task

from tasks.wiring import exit_when_done, one_line_errors, toolbox

KUBECONFIG_HELP = "Kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster)."
TIMEOUT_HELP = "Seconds to wait for each rollout (default: CONVEYOR_ROLLOUT_TIMEOUT, 600)."


@task(
    default=True,
    help={
        "kubeconfig": KUBECONFIG_HELP,
        "timeout": TIMEOUT_HELP,
        "rollback": "yes or no: roll back a failed rollout (default: CONVEYOR_ROLLBACK; auto = on in GitLab CI).",
        "dry_run": "Check everything and print the plan; change nothing.",
    },
)
@exit_when_done
@one_line_errors
def apply(ctx: Context, kubeconfig: str = "", timeout: float = 0.0, rollback: str = "", dry_run: bool = False) -> None:
    """Set the new prod image on each Deployment, wait for the rollout, then promote `prod`."""
    from conveyor.deploy_stage import deploy

    deploy(toolbox(ctx, rollout_flags(timeout, rollback)), kubeconfig, dry_run)


@task(
    help={
        "deployment": "Deployment to wait for (default: every deploy target).",
        "timeout": TIMEOUT_HELP,
        "kubeconfig": KUBECONFIG_HELP,
    }
)
@exit_when_done
@one_line_errors
def status(ctx: Context, deployment: str = "", timeout: float = 0.0, kubeconfig: str = "") -> None:
    """Wait for a rollout exactly as `kubectl rollout status` decides; fail fast on pods that cannot start."""
    from conveyor.deploy_stage import status as wait

    wait(toolbox(ctx, rollout_flags(timeout, "")), deployment, kubeconfig)


def rollout_flags(timeout: float, rollback: str) -> dict[str, str | None]:
    """The flags that override settings (CONVEYOR_ROLLOUT_TIMEOUT, CONVEYOR_ROLLBACK); unset ones don't."""
    answers = {"yes": "true", "true": "true", "no": "false", "false": "false"}
    return {
        "rollout_timeout": str(timeout) if timeout else None,
        "rollback": answers.get(rollback.lower(), rollback) if rollback else None,
    }


collection = Collection("deploy", apply, status)
