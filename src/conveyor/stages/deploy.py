"""The deploy stage: set the new release on each configured Deployment container, wait for each rollout as
kubectl decides (failing fast on pods that cannot start), then promote the environment's tag and delete
the releases the deletion guard lets go. On a failed rollout: keep the promotion tag where it was,
optionally roll back as `kubectl rollout undo` does, and keep the failed release while the cluster
references it. Everything is checked before anything changes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from conveyor.config.settings import DeployTarget, Place, ProdNames
from conveyor.errors import ConfigError, RegistryError
from conveyor.gitinfo import GitAnswer
from conveyor.guard.apply import guarded, promote_and_prune, show
from conveyor.guard.decision import Branches
from conveyor.guard.knowledge import Knowledge
from conveyor.kube import (
    Cluster,
    ImageChange,
    RolloutFailed,
    RolloutResult,
    WaitOptions,
    deployment_verdict,
    rollback,
    set_image,
)
from conveyor.kube.patches import container_images
from conveyor.stages.rollouts import check_targets, connect, wait, wait_options
from conveyor.stages.toolbox import Toolbox


def deploy(tools: Toolbox, kubeconfig: str = "", dry_run: bool = False) -> None:
    """`inv deploy`; the rollout timeout and rollback come from the settings (task flags win there)."""
    settings = tools.settings
    check_deployable(tools)
    place = settings.deploy_place
    targets = place.targets
    tools.console.line(f"deploy: {place.describe()}")
    check_prod_images(tools, targets)
    with connect(tools, kubeconfig) as cluster:
        check_targets(cluster, targets)
        known = Knowledge(tools, origin(tools), strict=False, opened={place.environment: cluster})
        if dry_run:
            known.clusters()  # says whether the deletion guard may list what it needs
            for line in plan(tools, cluster, targets):
                tools.console.line(f"dry run: {line}")
            return
        cause = f"conveyor deploy: commit {settings.commit_sha}, pipeline {settings.pipeline_id}"
        tools.stop.check("nothing was changed")
        changes = [set_image(cluster, t.deployment, t.container, image_of(tools, t), cause) for t in targets]
        for change in changes:
            tools.console.line(change.describe())
        options = wait_options(tools)
        results = [settle(tools, cluster, change, options) for change in changes]
        tools.stop.check(
            f"set {', '.join(c.deployment for c in changed(changes)) or 'nothing'}; the rollouts go on in the "
            "cluster; nothing promoted or deleted"
        )
        if failed := [result for result in results if not result.ok]:
            handle_failure(tools, cluster, known, changes, failed, settings.rollback_enabled)
        promote_and_prune(tools, known)
        warn_if_unknown(tools, known)


def settle(tools: Toolbox, cluster: Cluster, change: ImageChange, options: WaitOptions) -> RolloutResult:
    """A changed Deployment is waited for. An unchanged one counts as verified only when it is fully rolled
    out (with the image it already runs); otherwise its rollout in progress is waited for."""
    if not change.changed:
        verdict = deployment_verdict(cluster.get_deployment(change.deployment))
        if verdict.done:
            tools.console.line(f'deployment "{change.deployment}": no change; its rollout is complete')
            return RolloutResult(change.deployment, True, verdict.message)
    return wait(tools, cluster, change.deployment, options)


def origin(tools: Toolbox) -> Callable[[], Branches]:
    return GitAnswer(tools.settings.project_dir).origin_branches


def check_deployable(tools: Toolbox) -> None:
    settings = tools.settings
    if not settings.deployable:
        raise ConfigError(
            settings.why_not_deployable(),
            "deploy from a deployable branch, or add it to conveyor.deployable_branches (CONVEYOR_DEPLOYABLE_BRANCHES)",
        )


def check_prod_images(tools: Toolbox, targets: Sequence[DeployTarget]) -> None:
    """Every image to deploy must be in the registry: a cluster would otherwise fail to pull it."""
    with tools.registry() as client:
        for target in targets:
            ref = tools.settings.images.prod[target.image].release
            if client.head_digest(ref.repository, ref.tag) is None:
                raise RegistryError(
                    f"the prod image {ref} is not in the registry", "run inv build-prod for this commit"
                )


def prod_names(tools: Toolbox, place: Place) -> list[ProdNames]:
    """The names of the prod images the environment's targets run, each once."""
    return [tools.settings.images.prod[name] for name in place.images]


def image_of(tools: Toolbox, target: DeployTarget) -> str:
    return str(tools.settings.images.prod[target.image].release)


def plan(tools: Toolbox, cluster: Cluster, targets: Sequence[DeployTarget]) -> list[str]:
    lines = []
    for target in targets:
        current = container_images(cluster.get_deployment(target.deployment))[target.container]
        new = image_of(tools, target)
        action = "no change" if current == new else f"set image {current} -> {new}, then wait for the rollout"
        lines.append(f'deployment "{target.deployment}" container {target.container}: {action}')
    keep = tools.settings.keep_releases
    place = tools.settings.deploy_place
    for names in prod_names(tools, place):
        lines.append(
            f"on success: move {names.promotion(place)} to {names.release}, then delete the releases no cluster "
            f"uses that are not among the {keep} newest"
        )
        lines.append(f"on failure: keep {names.promotion(place)}; keep {names.release} while the cluster references it")
    return lines


def handle_failure(
    tools: Toolbox,
    cluster: Cluster,
    known: Knowledge,
    changes: Sequence[ImageChange],
    failed: Sequence[RolloutResult],
    roll_back: bool,
) -> None:
    """Keep the promotion tag, roll back if asked, then let the guard weigh the failed release (the
    cluster references it: in the Deployment, or in its rollout history after a rollback); then fail."""
    tools.console.line(f"kept {tools.settings.deploy_place.promotion_tag} where it was")
    if roll_back:
        options = wait_options(tools)
        for change in changed(changes):
            undone = rollback(cluster, change.deployment)
            tools.console.line(f'deployment "{change.deployment}": {undone.message} (to revision {undone.revision})')
            if undone.rolled_back:
                wait(tools, cluster, change.deployment, options)
    else:
        for change in changed(changes):
            tools.console.line(f"to roll back: {undo_command(cluster, change.deployment)}")
    with tools.registry() as client:
        reports = [
            guarded(client, known, names.release.repository, {names.release.tag: "the failed release"})
            for names in prod_names(tools, tools.settings.deploy_place)
        ]
    show(tools, reports)
    warn_if_unknown(tools, known)
    raise RolloutFailed(failed[0].message + ("; rolled back" if roll_back else "; not rolled back (CONVEYOR_ROLLBACK)"))


def undo_command(cluster: Cluster, deployment: str) -> str:
    target = cluster.target
    context = f" --context {target.context}" if target.context and target.context != "in-cluster" else ""
    return f"kubectl rollout undo deployment/{deployment} --namespace {target.namespace}{context}"


def warn_if_unknown(tools: Toolbox, known: Knowledge) -> None:
    for view in known.clusters():
        if view.problem:
            tools.console.line(f"warning: kept every release {view.place} might use: {view.problem}")


def changed(changes: Sequence[ImageChange]) -> list[ImageChange]:
    return [change for change in changes if change.changed]
