"""What deploy, rollback and deploy.status share: the cluster of the environment being deployed (saying
which context and namespace), each Deployment target checked before anything changes, and waiting for a
rollout as kubectl decides, printing its messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.config.model import DeployTarget, Environment
from conveyor.console import Console
from conveyor.interrupt import Stop
from conveyor.kube import Cluster, ClusterAccess, RolloutResult, UnknownContainer, WaitOptions, connect, wait
from conveyor.kube.patches import container_images


@dataclass(frozen=True)
class Waiting:
    """How the stage waits for rollouts: the timeout of each, and where kubectl's messages go."""

    timeout: float
    console: Console
    stop: Stop

    def options(self) -> WaitOptions:
        stop = self.stop
        return WaitOptions(timeout=self.timeout, stopped=lambda: stop.requested)


def open_cluster(access: ClusterAccess, environment: Environment, console: Console) -> Cluster:
    """The environment's cluster; says which context and namespace."""
    cluster = connect(access, environment.context, environment.namespace)
    console.line(f"cluster: {cluster.connection.describe()}")
    return cluster


def watch_rollout(cluster: Cluster, deployment: str, waiting: Waiting) -> RolloutResult:
    """Wait for `deployment`'s rollout as kubectl decides, printing kubectl's messages and the verdict."""
    console = waiting.console
    result = wait.wait_for_rollout(
        cluster, deployment, waiting.options(), on_message=console.line, on_warning=console.line
    )
    console.line(result.message)
    return result


def check_targets(cluster: Cluster, targets: Sequence[DeployTarget]) -> None:
    """Each Deployment exists and has the container: before any change."""
    for target in targets:
        containers = container_images(cluster.get_deployment(target.deployment))
        if target.container not in containers:
            raise UnknownContainer(
                f'deployment "{target.deployment}" has no container "{target.container}"',
                f"its containers are: {', '.join(sorted(containers)) or 'none'}; fix conveyor.deploy_targets",
            )
