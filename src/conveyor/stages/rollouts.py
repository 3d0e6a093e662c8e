"""What deploy and rollback share: the cluster of the environment being deployed, each Deployment target
checked before anything changes, and waiting for rollouts as kubectl decides (`inv deploy.status`)."""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.config.settings import DeployTarget
from conveyor.errors import ConfigError
from conveyor.guard import places
from conveyor.kube import Cluster, RolloutResult, UnknownContainer, WaitOptions, wait_for_rollout
from conveyor.kube.patches import container_images
from conveyor.stages.toolbox import Toolbox


def connect(tools: Toolbox, kubeconfig: str = "") -> Cluster:
    """The cluster of the environment being deployed; says which context and namespace."""
    cluster = places.connect(tools, tools.settings.deploy_place, kubeconfig)
    tools.console.line(f"cluster: {cluster.target.describe()}")
    return cluster


def wait_options(tools: Toolbox) -> WaitOptions:
    stop = tools.stop
    return WaitOptions(timeout=tools.settings.timeout_seconds, stopped=lambda: stop.requested)


def wait(tools: Toolbox, cluster: Cluster, deployment: str, options: WaitOptions) -> RolloutResult:
    result = wait_for_rollout(
        cluster, deployment, options, on_message=tools.console.line, on_warning=tools.console.line
    )
    tools.console.line(result.message)
    return result


def status(tools: Toolbox, deployment: str = "", kubeconfig: str = "") -> None:
    """`inv deploy.status`: wait for the named Deployment (default: every deploy target of the environment
    being deployed, in its context and namespace) like kubectl."""
    place = tools.settings.deploy_place
    names = [deployment] if deployment else place.deployments
    if not names:
        raise ConfigError("no deployment to wait for", "pass --deployment NAME or configure conveyor.deploy_targets")
    tools.console.line(f"status: {place.describe()}")
    options = wait_options(tools)
    with connect(tools, kubeconfig) as cluster:
        for name in names:
            wait(tools, cluster, name, options).raise_for_failure()


def check_targets(cluster: Cluster, targets: Sequence[DeployTarget]) -> None:
    """Each Deployment exists and has the container: before any change."""
    for target in targets:
        containers = container_images(cluster.get_deployment(target.deployment))
        if target.container not in containers:
            raise UnknownContainer(
                f'deployment "{target.deployment}" has no container "{target.container}"',
                f"its containers are: {', '.join(sorted(containers)) or 'none'}; fix conveyor.deploy_targets",
            )
