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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from conveyor import tagnames
from conveyor.gitinfo import Branches
from conveyor.guard.references import ClusterView, Usage
from conveyor.permits import DeletionPermit
from conveyor.registry.inventory import TagInfo


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


Action = Literal["delete", "keep", "absent", "skipped"]


@dataclass(frozen=True)
class GuardVerdict:
    """The guard's word on one candidate tag: delete (with the permit the registry layer needs), keep,
    absent (already gone) or skipped (listed, but its manifest is missing), and why."""

    tag: str
    action: Action
    reason: str
    digest: str | None = None
    permit: DeletionPermit | None = None
    rule: str = ""  # which of the guard's rules kept it: in-use, promoted, newest, unknown-age, waiting, branch

    @property
    def placeholder(self) -> bool:
        return self.permit is not None and self.permit.placeholder


# ---- what asking needs ---------------------------------------------------------------------------------


def needs_branches(tags: Iterable[str]) -> bool:
    """Whether deciding on `tags` needs the branches on origin (a tag that could be a branch's slug)."""
    return any(_may_be_branch(tag) for tag in tags)


def _may_be_branch(tag: str) -> bool:
    return tagnames.is_slug(tag) and not (
        tagnames.is_commit(tag) or tagnames.is_release(tag) or tagnames.is_promotion(tag)
    )


# ---- the decision --------------------------------------------------------------------------------------


def decide(candidates: Mapping[str, str], facts: Facts) -> list[GuardVerdict]:
    """For each candidate tag (tag -> why it is proposed), delete, keep or absent, with the reason."""
    usage = Usage.of(facts.registry, facts.repository, facts.clusters)
    newest = newest_releases(facts.tags.values(), facts.keep_releases)
    promoted = _promoted(facts)
    verdicts = []
    for tag, why in candidates.items():
        info = facts.tags.get(tag)
        if info is None:
            verdicts.append(GuardVerdict(tag, "absent", "no such tag (already gone)"))
        elif info.missing:
            verdicts.append(GuardVerdict(tag, "skipped", "listed, manifest missing: skipped"))
        elif info.placeholder:
            why = "placeholder left by an interrupted deletion"
            verdicts.append(GuardVerdict(tag, "delete", why, info.digest, _permit(facts, info, why, placeholder=True)))
        else:
            rule, keep = next(
                (
                    (rule, reason)
                    for rule, reason in (
                        ("in-use", usage.reason(tag, info.digest)),
                        ("promoted", _promotion_reason(info, promoted, facts)),
                        ("newest", _release_reason(info, newest, facts.keep_releases)),
                        ("waiting", _waiting_reason(info, facts)),
                        ("branch", _branch_reason(tag, facts.branches)),
                    )
                    if reason
                ),
                ("", ""),
            )
            if keep:
                rule = "unknown-age" if keep.startswith("creation time unknown") else rule
                verdicts.append(GuardVerdict(tag, "keep", keep, info.digest, rule=rule))
            else:
                verdicts.append(GuardVerdict(tag, "delete", why, info.digest, _permit(facts, info, why)))
    return verdicts


def _permit(facts: Facts, info: TagInfo, reason: str, placeholder: bool = False) -> DeletionPermit:
    return DeletionPermit(facts.repository, info.tag, info.digest, reason, placeholder)


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
