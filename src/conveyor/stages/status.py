"""`inv deploy.status`: wait for the rollouts of an environment's Deployments (or one named Deployment), in
its context and namespace, exactly as `kubectl rollout status` decides, failing fast on pods that cannot
start. It only reads the cluster."""

from __future__ import annotations

from conveyor.config.model import Environment
from conveyor.errors import ConfigError
from conveyor.kube import ClusterAccess
from conveyor.stages.rollouts import Waiting, open_cluster, watch_rollout


def status(environment: Environment, deployment: str, access: ClusterAccess, waiting: Waiting) -> None:
    """Wait for `deployment` (default: every deploy target of `environment`) like kubectl."""
    names = [deployment] if deployment else environment.deployments
    if not names:
        raise ConfigError("no deployment to wait for", "pass --deployment NAME or configure conveyor.deploy_targets")
    waiting.console.line(f"status: {environment.describe()}")
    with open_cluster(access, environment, waiting.console) as cluster:
        for name in names:
            watch_rollout(cluster, name, waiting).raise_for_failure()
