"""The deploy stage: set the new prod image on each configured Deployment container, wait for each rollout
as kubectl decides (failing fast on pods that cannot start), then promote `prod` and delete the previous
prod image. On a failed rollout: keep `prod`, delete the failed `prod-<sha>` tag, and optionally roll back
as `kubectl rollout undo` does, waiting for that too. Everything is checked before anything changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from conveyor.cleanup import delete_tag
from conveyor.cleanup_stage import cleanup_old_prod, registry_client, show
from conveyor.errors import ConfigError, RegistryError
from conveyor.kube import (
    Cluster,
    ImageChange,
    RolloutFailed,
    RolloutResult,
    UnknownContainer,
    WaitOptions,
    load_cluster,
    rollback,
    set_image,
    wait_for_rollout,
)
from conveyor.kube.patches import container_images
from conveyor.settings import DeployTarget
from conveyor.toolbox import Toolbox


def connect(tools: Toolbox, kubeconfig: str = "") -> Cluster:
    """The cluster: --kubeconfig, KUBECONFIG, ~/.kube/config, then in-cluster; says which."""
    settings = tools.settings
    in_cluster = {
        "KUBERNETES_SERVICE_HOST": settings.kubernetes_service_host,
        "KUBERNETES_SERVICE_PORT": settings.kubernetes_service_port,
    }
    cluster = load_cluster(
        kubeconfig=kubeconfig or None,
        env_kubeconfig=settings.kubeconfig or None,
        namespace=settings.kube_namespace or None,
        home=Path.home(),
        environ={key: value for key, value in in_cluster.items() if value},
    )
    tools.console.line(f"cluster: {cluster.target.describe()}")
    return cluster


def wait_options(tools: Toolbox) -> WaitOptions:
    return WaitOptions(timeout=tools.settings.timeout_seconds)


def wait(tools: Toolbox, cluster: Cluster, deployment: str, options: WaitOptions) -> RolloutResult:
    result = wait_for_rollout(
        cluster, deployment, options, on_message=tools.console.line, on_warning=tools.console.line
    )
    tools.console.line(result.message)
    return result


def status(tools: Toolbox, deployment: str = "", kubeconfig: str = "") -> None:
    """`inv deploy.status`: wait for the named Deployment (default: every deploy target) like kubectl."""
    names = [deployment] if deployment else unique(t.deployment for t in tools.settings.deploy_targets)
    if not names:
        raise ConfigError("no deployment to wait for", "pass --deployment NAME or configure conveyor.deploy_targets")
    options = wait_options(tools)
    with connect(tools, kubeconfig) as cluster:
        for name in names:
            wait(tools, cluster, name, options).raise_for_failure()


def deploy(
    tools: Toolbox,
    kubeconfig: str = "",
    dry_run: bool = False,
) -> None:
    """`inv deploy`; the rollout timeout and rollback come from the settings (task flags win there)."""
    settings = tools.settings
    targets = settings.deploy_targets
    check_deployable(tools)
    check_prod_images(tools, targets)
    with connect(tools, kubeconfig) as cluster:
        check_targets(cluster, targets)
        if dry_run:
            for line in plan(tools, cluster, targets):
                tools.console.line(f"dry run: {line}")
            return
        cause = f"conveyor deploy: commit {settings.commit_sha}, pipeline {settings.pipeline_id}"
        changes = [set_image(cluster, t.deployment, t.container, image_of(tools, t), cause) for t in targets]
        for change in changes:
            tools.console.line(change.describe())
        options = wait_options(tools)
        results = [wait(tools, cluster, change.deployment, options) for change in changed(changes)]
        failed = [result for result in results if not result.ok]
        if not failed:
            cleanup_old_prod(tools)
            return
        handle_failure(tools, cluster, changes, failed, settings.rollback_enabled)


def check_deployable(tools: Toolbox) -> None:
    settings = tools.settings
    if not settings.deployable:
        raise ConfigError(
            f"{settings.ref_name!r} is not a deployable branch ({', '.join(settings.deployable_branches) or 'none'})",
            "deploy from a deployable branch, or add it to CONVEYOR_DEPLOYABLE_BRANCHES",
        )
    if not settings.deploy_targets:
        raise ConfigError("no deploy targets configured", "add conveyor.deploy_targets to invoke.yaml")


def check_prod_images(tools: Toolbox, targets: Sequence[DeployTarget]) -> None:
    """Every image to deploy must be in the registry: a cluster would otherwise fail to pull it."""
    with registry_client(tools) as client:
        for target in targets:
            ref = tools.settings.images.prod[target.image].commit
            if client.head_digest(ref.repository, ref.tag) is None:
                raise RegistryError(
                    f"the prod image {ref} is not in the registry", "run inv build-prod for this commit"
                )


def check_targets(cluster: Cluster, targets: Sequence[DeployTarget]) -> None:
    """Each Deployment exists and has the container: before any change."""
    for target in targets:
        containers = container_images(cluster.get_deployment(target.deployment))
        if target.container not in containers:
            raise UnknownContainer(
                f'deployment "{target.deployment}" has no container "{target.container}"',
                f"its containers are: {', '.join(sorted(containers)) or 'none'}; fix conveyor.deploy_targets",
            )


def image_of(tools: Toolbox, target: DeployTarget) -> str:
    return str(tools.settings.images.prod[target.image].commit)


def plan(tools: Toolbox, cluster: Cluster, targets: Sequence[DeployTarget]) -> list[str]:
    lines = []
    for target in targets:
        current = container_images(cluster.get_deployment(target.deployment))[target.container]
        new = image_of(tools, target)
        action = "no change" if current == new else f"set image {current} -> {new}, then wait for the rollout"
        lines.append(f'deployment "{target.deployment}" container {target.container}: {action}')
    for names in tools.settings.images.prod.values():
        lines.append(f"on success: move {names.generic} to {names.commit} and delete the previous prod image")
        lines.append(f"on failure: keep {names.generic}, delete {names.commit}")
    return lines


def changed(changes: Sequence[ImageChange]) -> list[ImageChange]:
    return [change for change in changes if change.changed]


def handle_failure(
    tools: Toolbox,
    cluster: Cluster,
    changes: Sequence[ImageChange],
    failed: Sequence[RolloutResult],
    roll_back: bool,
) -> None:
    """Keep `prod`, delete the failed `prod-<sha>` tags, roll back if asked; then fail with the reason."""
    with registry_client(tools) as client:
        reports = [
            delete_tag(client, names.commit.repository, names.commit.tag)
            for names in tools.settings.images.prod.values()
        ]
    show(tools, reports)
    tools.console.line("kept the generic prod tag where it was")
    if roll_back:
        options = wait_options(tools)
        for change in changed(changes):
            undone = rollback(cluster, change.deployment)
            tools.console.line(f'deployment "{change.deployment}": {undone.message} (to revision {undone.revision})')
            if undone.rolled_back:
                wait(tools, cluster, change.deployment, options)
    raise RolloutFailed(failed[0].message + ("; rolled back" if roll_back else "; not rolled back (CONVEYOR_ROLLBACK)"))


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
