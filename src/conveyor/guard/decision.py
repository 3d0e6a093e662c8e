"""The deletion guard: one pure function decides, for every tag a cleanup wants to delete, whether it may
go, from facts gathered once per run. Every path that deletes a tag asks it (cleanup --tag,
cleanup.ci-image, cleanup.old-prod, cleanup.policy, deploy's promotion and failed-release handling).

A tag is kept, with the reason, when
- a cluster Conveyor deploys to references it, by tag or by its digest (Deployments and the ReplicaSets of
  their rollout history, StatefulSets, DaemonSets, CronJobs, Jobs, Pods), or references something in its
  repository that cannot be parsed;
- a cluster that should be asked could not be (unreachable, forbidden): fail closed;
- it is a promotion tag, or a release that shares its image with one (an environment runs it);
- it is a release among the newest `keep_releases`, or a release whose creation time is unknown;
- it is a release newer than what a later environment runs (staging has it, production's manual deploy
  may still take it), or a later environment has no release yet, or its release's age is unknown;
- a branch on `origin` has it as its slug, or `origin` could not be asked whether one does.

Throwaway placeholders left by an interrupted deletion are never images: they are finished (deleted)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from conveyor import tagnames
from conveyor.errors import BadReference
from conveyor.reference import DEFAULT_DOMAIN, ImageReference
from conveyor.slug import ref_slug

DOCKER_HUB = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
SCHEMES = ("docker-pullable://", "docker://", "containerd://")


@dataclass(frozen=True)
class TagInfo:
    """A tag, its digest, its image's creation time (None: unknown or not looked up), and whether it points
    at a throwaway placeholder manifest that an interrupted deletion left behind."""

    tag: str
    digest: str | None = None
    created: datetime | None = None
    placeholder: bool = False


@dataclass(frozen=True)
class Use:
    """One image reference found in a cluster, as written there, and where."""

    image: str
    where: str


@dataclass(frozen=True)
class ClusterView:
    """What one place Conveyor deploys to references, or why it could not be asked."""

    place: str
    uses: tuple[Use, ...] = ()
    problem: str = ""


@dataclass(frozen=True)
class Branches:
    """The branches on `origin`, or why `origin` could not be asked."""

    names: frozenset[str] = frozenset()
    problem: str = ""

    @functools.cached_property
    def by_slug(self) -> dict[str, str]:
        """slug -> the branch with that slug (the first by name when several share one)."""
        owners: dict[str, str] = {}
        for name in sorted(self.names):
            owners.setdefault(ref_slug(name), name)
        return owners

    def owner(self, tag: str) -> str | None:
        """The branch whose slug is `tag`."""
        return self.by_slug.get(tag)


@dataclass(frozen=True)
class Facts:
    """Everything the guard knows about one repository in one run. `clusters` None: no cluster is asked
    about this repository (`cluster_note` says why); `branches` None: origin was not asked."""

    registry: str
    repository: str
    tags: Mapping[str, TagInfo]
    clusters: tuple[ClusterView, ...] | None = None
    cluster_note: str = ""
    branches: Branches | None = None
    keep_releases: int = 3
    environments: Mapping[str, str] = field(default_factory=dict)  # promotion tag -> environment
    deploy_order: tuple[str, ...] = ()  # the promotion tags of the environments, in the order they are deployed


Action = Literal["delete", "keep", "absent"]


@dataclass(frozen=True)
class Verdict:
    tag: str
    action: Action
    reason: str
    digest: str | None = None
    placeholder: bool = False


# ---- what asking needs ---------------------------------------------------------------------------------


def needs_branches(tags: Iterable[str]) -> bool:
    """Whether deciding on `tags` needs the branches on origin (a tag that could be a branch's slug)."""
    return any(_may_be_branch(tag) for tag in tags)


def _may_be_branch(tag: str) -> bool:
    return tagnames.is_slug(tag) and not (
        tagnames.is_commit(tag) or tagnames.is_release(tag) or tagnames.is_promotion(tag)
    )


# ---- the decision --------------------------------------------------------------------------------------


def decide(candidates: Mapping[str, str], facts: Facts) -> list[Verdict]:
    """For each candidate tag (tag -> why it is proposed), delete, keep or absent, with the reason."""
    usage = _Usage.of(facts)
    newest = newest_releases(facts.tags.values(), facts.keep_releases)
    promoted = _promoted(facts)
    verdicts = []
    for tag, why in candidates.items():
        info = facts.tags.get(tag)
        if info is None:
            verdicts.append(Verdict(tag, "absent", "no such tag (already gone)"))
        elif info.placeholder:
            verdicts.append(Verdict(tag, "delete", "placeholder left by an interrupted deletion", info.digest, True))
        else:
            keep = (
                usage.reason(tag, info.digest)
                or _promotion_reason(info, promoted, facts)
                or _release_reason(info, newest, facts.keep_releases)
                or _waiting_reason(info, facts)
                or _branch_reason(tag, facts.branches)
            )
            verdicts.append(Verdict(tag, "keep" if keep else "delete", keep or why, info.digest))
    return verdicts


def newest_releases(tags: Iterable[TagInfo], keep: int) -> frozenset[str]:
    """The `keep` newest release tags by creation time; tags of unknown age never displace one."""
    known = [i for i in tags if tagnames.is_release(i.tag) and i.created is not None and not i.placeholder]
    ranked = sorted(known, key=lambda i: (i.created, i.tag), reverse=True)
    return frozenset(i.tag for i in ranked[: max(0, keep)])


def _promoted(facts: Facts) -> dict[str, str]:
    """digest -> the promotion tag pointing at it."""
    return {
        info.digest: tag
        for tag, info in sorted(facts.tags.items())
        if tagnames.is_promotion(tag) and info.digest and not info.placeholder
    }


def _promotion_reason(info: TagInfo, promoted: Mapping[str, str], facts: Facts) -> str:
    if tagnames.is_promotion(info.tag):
        return f"promotion tag{_of_environment(info.tag, facts)}"
    if info.digest is not None and info.digest in promoted:
        tag = promoted[info.digest]
        return f"the image promoted as {tag}{_of_environment(tag, facts)}"
    return ""


def _of_environment(tag: str, facts: Facts) -> str:
    environment = facts.environments.get(tag)
    return f" (environment {environment})" if environment else ""


def _release_reason(info: TagInfo, newest: frozenset[str], keep: int) -> str:
    if not tagnames.is_release(info.tag):
        return ""
    if info.created is None:
        return "creation time unknown: it may be one of the newest releases"
    return f"one of the {keep} newest releases (kept for rollback)" if info.tag in newest else ""


def _waiting_reason(info: TagInfo, facts: Facts) -> str:
    """A release that an earlier environment may run and a later one may still be given (the same image goes
    to each environment in turn): newer than what a later environment runs, or that environment has no
    release yet. Only with more than one environment."""
    if not tagnames.is_release(info.tag) or info.created is None:
        return ""
    for tag in facts.deploy_order[1:]:
        environment = facts.environments.get(tag, tag)
        runs = facts.tags.get(tag)
        if runs is None:
            return f"environment {environment} has no release yet ({tag}): it may still be deployed there"
        if runs.created is None:
            return f"the age of what environment {environment} runs ({tag}) is unknown: it may still be deployed there"
        if info.created > runs.created:
            return f"newer than what environment {environment} runs ({tag}): it may still be deployed there"
    return ""


def _branch_reason(tag: str, branches: Branches | None) -> str:
    if branches is None or branches.problem:
        if not _may_be_branch(tag):
            return ""
        why = branches.problem if branches is not None else "origin was not asked"
        return f"cannot tell whether a branch on origin has the slug {tag} ({why})"
    owner = branches.owner(tag)
    return f"branch {owner} still exists on origin" if owner else ""


# ---- cluster references --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Usage:
    """The cluster references that concern one repository, indexed for the decision."""

    by_tag: Mapping[str, str]
    by_digest: Mapping[str, str]
    everything: str  # non-empty: every tag of the repository is kept, for this reason

    @classmethod
    def of(cls, facts: Facts) -> _Usage:
        if facts.clusters is None:
            return cls({}, {}, "")
        home = (_registry(facts.registry), facts.repository)
        by_tag: dict[str, str] = {}
        by_digest: dict[str, str] = {}
        problems = []
        for view in facts.clusters:
            if view.problem:
                problems.append(f"cannot tell whether {view.place} uses it: {view.problem}")
                continue
            for use in view.uses:
                reference = cluster_reference(use.image)
                if reference is None:
                    rough = rough_repository(use.image)
                    if rough is None or rough == home:
                        problems.append(f"{use.where} references {use.image!r}, which cannot be parsed")
                    continue
                if (_registry(reference.registry), reference.repository) != home:
                    continue
                if reference.tag:
                    by_tag.setdefault(reference.tag, f"in use by {use.where}")
                if reference.digest:
                    by_digest.setdefault(reference.digest, f"in use by {use.where} (by digest)")
        return cls(by_tag, by_digest, "; ".join(dict.fromkeys(problems)))

    def reason(self, tag: str, digest: str | None) -> str:
        return self.everything or self.by_tag.get(tag) or (self.by_digest.get(digest, "") if digest else "")


def cluster_reference(text: str) -> ImageReference | None:
    """An image as a cluster writes it (container image, or a pod's imageID with its scheme), parsed by the
    distribution grammar; a reference with neither tag nor digest means `latest`. None when unparseable."""
    for scheme in SCHEMES:
        text = text.removeprefix(scheme)
    try:
        reference = ImageReference.parse(text)
    except BadReference:
        return None
    return reference if reference.tag or reference.digest else reference.with_tag("latest")


def rough_repository(text: str) -> tuple[str, str] | None:
    """(registry, repository) of a reference the grammar rejects, as nearly as it can be read; None when
    not even that (then every repository is in doubt)."""
    for scheme in SCHEMES:
        text = text.removeprefix(scheme)
    name = text.strip().split("@", 1)[0]
    head, _, last = name.rpartition("/")
    name = f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first.lower() == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_DOMAIN, name if "/" in name else f"library/{name}"
    repository = repository.lower().strip("/")
    return (_registry(registry), repository) if repository and repository != "library/" else None


def _registry(host: str) -> str:
    host = host.lower()
    return DEFAULT_DOMAIN if host in DOCKER_HUB else host
