"""Releases and their promotion tags, for the stages that move them: this commit's release in one
environment (`Release`), promoting it after a verified rollout and pruning the releases the deletion guard
lets go, checking that a cluster runs it before a promotion outside `inv deploy`, and moving a promotion tag
back to the release a rollback returned to. The tag itself moves in conveyor.registry.promotion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from conveyor import tagnames
from conveyor.config.model import DeployTarget, Environment, ProdNames
from conveyor.errors import BadReference, CleanupRefused
from conveyor.kube import ClusterAccess, connect, deployment_verdict
from conveyor.kube.patches import container_images
from conveyor.reference import ImageReference
from conveyor.registry.client import RegistryClient
from conveyor.registry.inventory import collect_tags
from conveyor.registry.promotion import Seen, move_tag
from conveyor.stages.deleting import Candidates, guarded
from conveyor.stages.knowledge import Knowledge
from conveyor.stages.reports import Reports

Images = Mapping[str, Mapping[str, str]]  # deployment -> container -> image


@dataclass(frozen=True)
class Release:
    """This commit's release in one environment: the environment, and the names of each prod image its
    targets run (`prod-<sha>`, the cache `prod`)."""

    environment: Environment
    images: Mapping[str, ProdNames]

    def names(self, target: DeployTarget) -> ProdNames:
        return self.images[target.image]

    def image_of(self, target: DeployTarget) -> str:
        """The release reference `target`'s container is set to."""
        return str(self.images[target.image].release)

    def look(self, client: RegistryClient) -> dict[str, Seen]:
        """What each of the environment's promotion tags points at now (repository -> what was seen), so
        that a promotion later in the run leaves a tag alone that someone else moved meanwhile."""
        tag = self.environment.promotion_tag
        return {
            names.release.repository: Seen(client.head_digest(names.release.repository, tag))
            for names in self.images.values()
        }


def promote_and_prune(
    release: Release,
    client: RegistryClient,
    known: Knowledge,
    reports: Reports,
    dry_run: bool = False,
    seen: Mapping[str, Seen] | None = None,
) -> None:
    """For every prod image: move the environment's promotion tag to this commit's release, then delete
    the releases the guard lets go (not used by a cluster, not among the newest kept for rollback, not
    promoted anywhere). The caller has verified the rollout."""
    if not release.images:
        reports.console.line("cleanup.old-prod: no prod images configured")
        return
    for names in release.images.values():
        known.check(names.release.repository)
    promotion = release.environment.promotion_tag
    done = []
    for names in release.images.values():
        repository, tag = names.release.repository, names.release.tag
        note = move_tag(client, repository, tag, promotion, dry_run, (seen or {}).get(repository))
        tags = collect_tags(client, repository, only=())
        if dry_run and tag in tags:  # as the registry will be once promoted
            tags[promotion] = replace(tags[tag], tag=promotion)
        older = Candidates.of(
            {t: "an older release" for t in tags if tagnames.is_release(t) and t != tag}, "old-release"
        )
        done.append(guarded(client, known, repository, older, reports.stop, tags, dry_run, (note,)))
    reports.show(done)


def check_promotable(release: Release, access: ClusterAccess) -> None:
    """For a promotion outside `inv deploy`: every deploy target runs this commit's release and is fully
    rolled out. Promotion follows a verified rollout, never precedes one."""
    environment = release.environment
    if not environment.targets:
        return
    with connect(access, environment.context, environment.namespace) as cluster:
        for target in environment.targets:
            deployment = cluster.get_deployment(target.deployment)
            runs = container_images(deployment).get(target.container, "")
            wanted = release.image_of(target)
            if runs != wanted:
                raise CleanupRefused(
                    f'deployment "{target.deployment}" container {target.container} runs {runs or "nothing"}, '
                    f"not {wanted}: nothing was promoted",
                    "promotion follows a verified rollout: run inv deploy",
                )
            verdict = deployment_verdict(deployment)
            if not verdict.done:
                raise CleanupRefused(
                    f"{verdict.message}: nothing was promoted", "wait with inv deploy.status, then run this again"
                )


@dataclass(frozen=True)
class TagMove:
    """For one prod image: the release its promotion tag goes to, or why the tag stays where it is."""

    names: ProdNames
    release: str = ""
    why_not: str = ""


def tag_moves(release: Release, runs: Images) -> list[TagMove]:
    """For each prod image the environment's targets use: the release all of them run."""
    environment = release.environment
    moves = []
    for image in environment.images:
        targets = [t for t in environment.targets if t.image == image]
        seen = [
            (f'deployment "{t.deployment}" container {t.container}', runs.get(t.deployment, {}).get(t.container, ""))
            for t in targets
        ]
        moves.append(tag_move(release.images[image], seen))
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


def move_back(
    client: RegistryClient,
    environment: Environment,
    moves: Sequence[TagMove],
    dry_run: bool = False,
    seen: Mapping[str, Seen] | None = None,
) -> list[str]:
    """Move each promotion tag server-side to the release a rollback returned to (or say what would move);
    a release the registry no longer holds, or none to move to, leaves the tag where it is. Answers a line
    per prod image."""
    lines = []
    for move in moves:
        repository, promotion = move.names.release.repository, environment.promotion_tag
        why = move.why_not
        if not why and client.head_digest(repository, move.release) is None:
            why = f"{move.names.release.with_tag(move.release)} is not in the registry"
        if why:
            lines.append(f"{'would keep' if dry_run else 'kept'} {repository}:{promotion} where it is: {why}")
        else:
            moved = move_tag(client, repository, move.release, promotion, dry_run, (seen or {}).get(repository))
            lines.append(f"{repository}: {moved}")
    return lines
