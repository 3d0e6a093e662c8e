"""The cleanup stage: the cleanup tasks' work on the registry, every deletion through the deletion guard
(conveyor.stages.deleting): one tag asked for, this commit's CI image tag, old releases after a promotion,
and tags by a policy's rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from conveyor import tagnames
from conveyor.config.model import CleanupPolicy
from conveyor.errors import BadReference, CleanupRefused
from conveyor.guard.policy import PolicyPlan, plan_policy, policy_candidates
from conveyor.kube import ClusterAccess
from conveyor.reference import ImageReference
from conveyor.registry.client import RegistryClient
from conveyor.registry.errors import ReferenceOutsideRegistry
from conveyor.registry.inventory import TagInfo, collect_tags
from conveyor.slug import ref_slug
from conveyor.stages.deleting import Candidates, guarded
from conveyor.stages.knowledge import Knowledge
from conveyor.stages.releases import Release, check_promotable, promote_and_prune
from conveyor.stages.reports import CleanupReport, Reports, TagOutcome


def parse_tag_reference(text: str, registry: str) -> ImageReference:
    """Parse a `registry/repository:tag` to clean up; it must be in `registry` and name a tag (not a digest)."""
    reference = ImageReference.parse(text)
    if reference.registry != registry:
        raise ReferenceOutsideRegistry(
            f"{text} is not in the configured registry {registry}",
            "give a reference under CI_REGISTRY_IMAGE, or set CI_REGISTRY to its registry",
        )
    if reference.digest:
        raise BadReference(
            f"{text} names a digest",
            "cleanup deletes tags (deleting a digest deletes every tag on it): give registry/repository:tag",
        )
    if not reference.tag:
        raise BadReference(f"{text} names no tag", "add :<tag> (cleanup never assumes :latest)")
    return reference


def cleanup_one_tag(
    reference: ImageReference, client: RegistryClient, known: Knowledge, reports: Reports, dry_run: bool
) -> None:
    """`inv cleanup --tag`: delete one tag if the guard lets it go; a kept tag is a refusal (exit 1)."""
    candidates = Candidates.of({reference.tag: "asked for"}, "asked")
    report = guarded(client, known, reference.repository, candidates, reports.stop, dry_run=dry_run)
    reports.show([report])
    if kept := [o for o in report.outcomes if o.action == "kept"]:
        raise CleanupRefused(f"{reference} was not deleted: {kept[0].reason}", "nothing was changed")


def cleanup_ci_image(
    commit: ImageReference,
    branch: ImageReference,
    client: RegistryClient,
    known: Knowledge,
    reports: Reports,
    dry_run: bool = False,
) -> None:
    """Delete this commit's CI image tag; the branch tag (same digest) stays."""
    console = reports.console
    if commit.tag == branch.tag:
        why = "the commit tag is the branch tag: deleting it would take the branch's image"
        outcome = TagOutcome(commit.tag, "kept", why, rule="branch-tag")
        reports.show([CleanupReport(commit.repository, (outcome,), dry_run=dry_run)])
        return
    before = client.head_digest(branch.repository, branch.tag)
    candidates = Candidates.of({commit.tag: "this commit's CI image"}, "ci-image")
    report = guarded(client, known, commit.repository, candidates, reports.stop, dry_run=dry_run)
    after = before if dry_run else client.head_digest(branch.repository, branch.tag)
    reports.show([report])
    if after is None:
        console.line(f"note: branch tag {branch.tag} does not exist")
    elif after == before:
        console.line(f"note: branch tag {branch.tag} still points at {after}")
    else:
        console.line(f"note: branch tag {branch.tag} now points at {after} (pushed meanwhile)")


def cleanup_old_prod(
    release: Release,
    client: RegistryClient,
    access: ClusterAccess,
    known: Knowledge,
    reports: Reports,
    dry_run: bool = False,
) -> None:
    """`inv cleanup.old-prod`: once the deploy targets run this commit's release, fully rolled out, promote
    it and prune the releases nothing needs (without the cluster check, promote anyway)."""
    seen = release.look(client)
    if not known.skip_cluster_check:
        check_promotable(release, access)
    promote_and_prune(release, client, known, reports, dry_run, seen)


def cleanup_by_policy(
    policy: CleanupPolicy,
    repository: str,
    client: RegistryClient,
    known: Knowledge,
    reports: Reports,
    dry_run: bool,
) -> None:
    """`inv cleanup.policy`: plan by the rules, then let the guard weigh every tag the plan would delete."""
    live = frozenset(ref_slug(b) for b in known.live_branches()) if policy.gone_branches else None
    created_for = (lambda _tag: True) if policy.needs_ages else tagnames.is_release
    with reports.console.section("reading", f"Reading the tags of {repository}"):
        tags = collect_tags(client, repository, created_for=created_for)
    plan = plan_policy(repository, list(tags.values()), policy, datetime.now(UTC), live)
    candidates = Candidates(*policy_candidates(plan, tags))
    decided(plan, candidates, client, known, reports, tags, dry_run)


def decided(
    plan: PolicyPlan,
    candidates: Candidates,
    client: RegistryClient,
    known: Knowledge,
    reports: Reports,
    tags: Mapping[str, TagInfo],
    dry_run: bool,
) -> None:
    """Carry out a policy's plan through the guard, and report every tag: what the rules kept, and what the
    guard made of what they would delete."""
    with reports.console.section("deleting", f"Deleting from {plan.repository}"):
        report = guarded(
            client, known, plan.repository, candidates, reports.stop, tags, dry_run, console=reports.console
        )
    kept = tuple(
        TagOutcome(e.tag, e.action, e.reason, e.digest, e.rule, _created(tags, e.tag))
        for e in plan.entries
        if e.tag not in candidates.reasons
    )
    reports.show([replace(report, outcomes=kept + report.outcomes)])


def _created(tags: Mapping[str, TagInfo], tag: str) -> datetime | None:
    info = tags.get(tag)
    return info.created if info else None
