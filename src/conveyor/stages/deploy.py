"""The deploy stage: set the new release on each configured Deployment container, wait for each rollout as
kubectl decides (failing fast on pods that cannot start), then promote the environment's tag and delete
the releases the deletion guard lets go. On a failed rollout: keep the promotion tag where it was,
optionally roll back as `kubectl rollout undo` does, and keep the failed release while the cluster
references it. Everything is checked before anything changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.errors import RegistryError
from conveyor.kube import (
    Cluster,
    ClusterAccess,
    ImageChange,
    RolloutFailed,
    RolloutResult,
    deployment_verdict,
    rollback,
    set_image,
)
from conveyor.kube.patches import container_images
from conveyor.registry.client import RegistryClient
from conveyor.stages.deleting import Candidates, guarded
from conveyor.stages.knowledge import Knowledge
from conveyor.stages.releases import Release, promote_and_prune
from conveyor.stages.reports import Reports
from conveyor.stages.rollouts import Waiting, check_targets, open_cluster, watch_rollout


@dataclass(frozen=True)
class DeployRequest:
    """One deploy: the release and where it goes, the change cause recorded on each Deployment, whether a
    failed rollout is rolled back, and how many releases the guard keeps (for the plan's words)."""

    release: Release
    cause: str
    roll_back: bool
    keep_releases: int


def deploy(
    request: DeployRequest,
    client: RegistryClient,
    access: ClusterAccess,
    known: Knowledge,
    waiting: Waiting,
    dry_run: bool = False,
) -> None:
    """`inv deploy` (the caller checked that the branch deploys)."""
    release, console, stop = request.release, waiting.console, waiting.stop
    environment = release.environment
    reports = Reports(console, stop, "deploy")
    console.line(f"deploy: {environment.describe()}")
    check_prod_images(release, client)
    seen = release.look(client)
    with open_cluster(access, environment, console) as cluster:
        check_targets(cluster, environment.targets)
        known.reuse(cluster)
        if dry_run:
            known.clusters()  # says whether the deletion guard may list what it needs
            for line in plan(request, cluster):
                console.line(f"dry run: {line}")
            return
        stop.check("nothing was changed")
        changes = [
            set_image(cluster, t.deployment, t.container, release.image_of(t), request.cause)
            for t in environment.targets
        ]
        for change in changes:
            console.line(change.describe())
        results = [settle(cluster, change, waiting) for change in changes]
        stop.check(
            f"set {', '.join(c.deployment for c in changed(changes)) or 'nothing'}; the rollouts go on in the "
            "cluster; nothing promoted or deleted"
        )
        if failed := [result for result in results if not result.ok]:
            handle_failure(request, client, cluster, known, changes, failed, reports, waiting)
        promote_and_prune(release, client, known, reports, seen=seen)
        reports.finish()
        warn_if_unknown(known)


def settle(cluster: Cluster, change: ImageChange, waiting: Waiting) -> RolloutResult:
    """A changed Deployment is waited for. An unchanged one counts as verified only when it is fully rolled
    out (with the image it already runs); otherwise its rollout in progress is waited for."""
    if not change.changed:
        verdict = deployment_verdict(cluster.get_deployment(change.deployment))
        if verdict.done:
            waiting.console.line(f'deployment "{change.deployment}": no change; its rollout is complete')
            return RolloutResult(change.deployment, True, verdict.message)
    return watch_rollout(cluster, change.deployment, waiting)


def check_prod_images(release: Release, client: RegistryClient) -> None:
    """Every image to deploy must be in the registry: a cluster would otherwise fail to pull it."""
    for target in release.environment.targets:
        ref = release.names(target).release
        if client.head_digest(ref.repository, ref.tag) is None:
            raise RegistryError(f"the prod image {ref} is not in the registry", "run inv build-prod for this commit")


def plan(request: DeployRequest, cluster: Cluster) -> list[str]:
    release = request.release
    lines = []
    for target in release.environment.targets:
        current = container_images(cluster.get_deployment(target.deployment))[target.container]
        new = release.image_of(target)
        action = "no change" if current == new else f"set image {current} -> {new}, then wait for the rollout"
        lines.append(f'deployment "{target.deployment}" container {target.container}: {action}')
    environment = release.environment
    for names in release.images.values():
        lines.append(
            f"on success: move {names.promotion(environment)} to {names.release}, then delete the releases no "
            f"cluster uses that are not among the {request.keep_releases} newest"
        )
        lines.append(
            f"on failure: keep {names.promotion(environment)}; keep {names.release} while the cluster references it"
        )
    return lines


def handle_failure(
    request: DeployRequest,
    client: RegistryClient,
    cluster: Cluster,
    known: Knowledge,
    changes: Sequence[ImageChange],
    failed: Sequence[RolloutResult],
    reports: Reports,
    waiting: Waiting,
) -> None:
    """Keep the promotion tag, roll back if asked, then let the guard weigh the failed release (the
    cluster references it: in the Deployment, or in its rollout history after a rollback); then fail."""
    release, console = request.release, waiting.console
    console.line(f"kept {release.environment.promotion_tag} where it was")
    if request.roll_back:
        for change in changed(changes):
            undone = rollback(cluster, change.deployment)
            console.line(f'deployment "{change.deployment}": {undone.message} (to revision {undone.revision})')
            if undone.rolled_back:
                watch_rollout(cluster, change.deployment, waiting)
    else:
        for change in changed(changes):
            console.line(f"to roll back: {undo_command(cluster, change.deployment)}")
    failed_release = [
        guarded(
            client,
            known,
            names.release.repository,
            Candidates.of({names.release.tag: "the failed release"}, "failed-release"),
            waiting.stop,
        )
        for names in release.images.values()
    ]
    reports.show(failed_release)
    warn_if_unknown(known)
    why = "; rolled back" if request.roll_back else "; not rolled back (CONVEYOR_ROLLBACK)"
    raise RolloutFailed(failed[0].message + why)


def undo_command(cluster: Cluster, deployment: str) -> str:
    connection = cluster.connection
    context = f" --context {connection.context}" if connection.context and connection.context != "in-cluster" else ""
    return f"kubectl rollout undo deployment/{deployment} --namespace {connection.namespace}{context}"


def warn_if_unknown(known: Knowledge) -> None:
    for view in known.clusters():
        if view.problem:
            known.console.line(f"warning: kept every release {view.place} might use: {view.problem}")


def changed(changes: Sequence[ImageChange]) -> list[ImageChange]:
    return [change for change in changes if change.changed]
