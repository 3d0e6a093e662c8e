"""`inv deploy.rollback`: undo the last rollout of each Deployment of the environment being deployed, as
`kubectl rollout undo` does, wait for each rollout, then move the environment's promotion tag back to the
release it runs again. Every Deployment's plan and the registry are read before anything changes; a tag
moves only when every target of its prod image runs one `prod-<sha>` release of the project's registry
that the registry still holds. Nothing is deleted."""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.kube import Cluster, ClusterAccess, RolloutFailed, UndoPlan, plan_rollback, rollback
from conveyor.kube.patches import container_images
from conveyor.registry.client import RegistryClient
from conveyor.stages.releases import Release, move_back, tag_moves
from conveyor.stages.rollouts import Waiting, check_targets, open_cluster, watch_rollout


def roll_back(release: Release, client: RegistryClient, access: ClusterAccess, waiting: Waiting, dry_run: bool) -> None:
    """Plan every undo (a Deployment without history refuses the whole run), say what the tags would do,
    then undo, wait, and move the tags to what the environment runs once the rollouts are verified."""
    environment, console = release.environment, waiting.console
    console.line(f"rollback: {environment.describe()}")
    with open_cluster(access, environment, console) as cluster:
        check_targets(cluster, environment.targets)
        plans = [plan_rollback(cluster, name) for name in environment.deployments]
        after = {p.deployment: p.after for p in plans}
        seen = release.look(client)  # the registry answers before anything changes
        lines = move_back(client, environment, tag_moves(release, after), dry_run=True)
        if dry_run:
            for line in [*(plan.describe() for plan in plans), *lines]:
                console.line(f"dry run: {line}")
            return
        waiting.stop.check("nothing was changed")
        undo(cluster, release, plans, waiting)
        runs = {plan.deployment: container_images(cluster.get_deployment(plan.deployment)) for plan in plans}
    for line in move_back(client, environment, tag_moves(release, runs), seen=seen):
        console.line(line)


def undo(cluster: Cluster, release: Release, plans: Sequence[UndoPlan], waiting: Waiting) -> None:
    """Roll each Deployment back and wait for every rollout; a failed one keeps the tags where they are."""
    for plan in plans:
        done = rollback(cluster, plan.deployment)
        waiting.console.line(f'deployment "{plan.deployment}": {done.message} (to revision {done.revision})')
    results = [watch_rollout(cluster, plan.deployment, waiting) for plan in plans]
    waiting.stop.check(f"rolled back {', '.join(p.deployment for p in plans)}; the rollouts go on; no tag moved")
    if failed := [result for result in results if not result.ok]:
        raise RolloutFailed(f"{failed[0].message}; {release.environment.promotion_tag} kept where it was")
