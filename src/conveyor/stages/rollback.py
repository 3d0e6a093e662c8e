"""`inv deploy.rollback`: undo the last rollout of each Deployment of the environment being deployed, as
`kubectl rollout undo` does, wait for each rollout, then move the environment's promotion tag back to the
release it runs again. Every Deployment's plan and the registry are read before anything changes; a tag
moves only when every target of its prod image runs one `prod-<sha>` release of the project's registry
that the registry still holds. Nothing is deleted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from conveyor import tagnames
from conveyor.config.settings import Place, ProdNames
from conveyor.errors import BadReference
from conveyor.kube import Cluster, RolloutFailed, UndoPlan, plan_rollback, rollback
from conveyor.kube.patches import container_images
from conveyor.reference import ImageReference
from conveyor.registry import RegistryClient
from conveyor.registry.cleanup import promote
from conveyor.stages.rollouts import check_targets, connect, wait, wait_options
from conveyor.stages.toolbox import Toolbox

Images = Mapping[str, Mapping[str, str]]  # deployment -> container -> image


@dataclass(frozen=True)
class TagMove:
    """For one prod image: the release its promotion tag goes to, or why the tag stays where it is."""

    names: ProdNames
    release: str = ""
    why_not: str = ""


def roll_back(tools: Toolbox, kubeconfig: str = "", dry_run: bool = False) -> None:
    """Plan every undo (a Deployment without history refuses the whole run), say what the tags would do,
    then undo, wait, and move the tags to what the environment runs once the rollouts are verified."""
    place = tools.settings.deploy_place
    tools.console.line(f"rollback: {place.describe()}")
    with connect(tools, kubeconfig) as cluster:
        check_targets(cluster, place.targets)
        plans = [plan_rollback(cluster, name) for name in place.deployments]
        with tools.registry() as client:  # the registry answers before anything changes
            lines = retag(client, place, tag_moves(tools, place, {p.deployment: p.after for p in plans}), dry_run=True)
        if dry_run:
            for line in [*(plan.describe() for plan in plans), *lines]:
                tools.console.line(f"dry run: {line}")
            return
        tools.stop.check("nothing was changed")
        undo(tools, cluster, place, plans)
        runs = {plan.deployment: container_images(cluster.get_deployment(plan.deployment)) for plan in plans}
    with tools.registry() as client:
        for line in retag(client, place, tag_moves(tools, place, runs)):
            tools.console.line(line)


def undo(tools: Toolbox, cluster: Cluster, place: Place, plans: Sequence[UndoPlan]) -> None:
    """Roll each Deployment back and wait for every rollout; a failed one keeps the tags where they are."""
    for plan in plans:
        done = rollback(cluster, plan.deployment)
        tools.console.line(f'deployment "{plan.deployment}": {done.message} (to revision {done.revision})')
    options = wait_options(tools)
    results = [wait(tools, cluster, plan.deployment, options) for plan in plans]
    tools.stop.check(f"rolled back {', '.join(p.deployment for p in plans)}; the rollouts go on; no tag moved")
    if failed := [result for result in results if not result.ok]:
        raise RolloutFailed(f"{failed[0].message}; {place.promotion_tag} kept where it was")


def tag_moves(tools: Toolbox, place: Place, runs: Images) -> list[TagMove]:
    """For each prod image the environment's targets use: the release all of them run."""
    prod = tools.settings.images.prod
    moves = []
    for image in place.images:
        targets = [t for t in place.targets if t.image == image]
        seen = [
            (f'deployment "{t.deployment}" container {t.container}', runs.get(t.deployment, {}).get(t.container, ""))
            for t in targets
        ]
        moves.append(tag_move(prod[image], seen))
    return moves


def tag_move(names: ProdNames, seen: Sequence[tuple[str, str]]) -> TagMove:
    """The release every (where, image) in `seen` runs, or why there is none to promote."""
    releases: dict[str, list[str]] = {}
    for where, image in seen:
        if not image:
            return TagMove(names, why_not=f"there is no {where} in the revision it runs now")
        tag = release_of(names, image)
        if not tag:
            return TagMove(
                names, why_not=f"{where} runs {image}, which is not a prod-<sha> release of {names.release.name}"
            )
        releases.setdefault(tag, []).append(where)
    if len(releases) > 1:
        disagree = "; ".join(f"{', '.join(wheres)} run {tag}" for tag, wheres in releases.items())
        return TagMove(names, why_not=f"the targets of {names.release.name} disagree: {disagree}")
    return TagMove(names, release=next(iter(releases), ""), why_not="" if releases else "no target runs it")


def release_of(names: ProdNames, image: str) -> str:
    """The release tag `image` names in the prod image's repository of the project's registry, else ''."""
    try:
        reference = ImageReference.parse(image)
    except BadReference:
        return ""
    home = names.release
    same = (reference.registry.lower(), reference.repository) == (home.registry.lower(), home.repository)
    return reference.tag if same and not reference.digest and tagnames.is_release(reference.tag) else ""


def retag(client: RegistryClient, place: Place, moves: Sequence[TagMove], dry_run: bool = False) -> list[str]:
    """Move each promotion tag server-side (or say what would move); a release the registry no longer
    holds, or none to move to, leaves the tag where it is. Answers a line per prod image."""
    lines = []
    for move in moves:
        repository, promotion = move.names.release.repository, place.promotion_tag
        why = move.why_not
        if not why and client.head_digest(repository, move.release) is None:
            why = f"{move.names.release.with_tag(move.release)} is not in the registry"
        if why:
            lines.append(f"{'would keep' if dry_run else 'kept'} {repository}:{promotion} where it is: {why}")
        else:
            lines.append(f"{repository}: {promote(client, repository, move.release, promotion, dry_run)}")
    return lines
