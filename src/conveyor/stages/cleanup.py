"""The cleanup stage: the cleanup tasks' work on the registry, every deletion through the deletion guard
(conveyor.stages.deleting): one tag asked for, this commit's CI image tag, old releases after a promotion,
and tags by a policy's rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from conveyor import tagnames
from conveyor.config.model import CleanupPolicy
from conveyor.console import Console
from conveyor.errors import BadReference, CleanupRefused
from conveyor.guard.policy import plan_policy, policy_candidates
from conveyor.interrupt import Stop
from conveyor.kube import ClusterAccess
from conveyor.reference import ImageReference
from conveyor.registry.client import RegistryClient
from conveyor.registry.errors import ReferenceOutsideRegistry
from conveyor.registry.inventory import collect_tags
from conveyor.slug import ref_slug
from conveyor.stages.deleting import CleanupReport, TagOutcome, guarded, show
from conveyor.stages.knowledge import Knowledge
from conveyor.stages.releases import Release, check_promotable, promote_and_prune


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
    reference: ImageReference, client: RegistryClient, known: Knowledge, console: Console, stop: Stop, dry_run: bool
) -> None:
    """`inv cleanup --tag`: delete one tag if the guard lets it go; a kept tag is a refusal (exit 1)."""
    report = guarded(client, known, reference.repository, {reference.tag: "asked for"}, stop, dry_run=dry_run)
    show([report], console, stop)
    if kept := [o for o in report.outcomes if o.action == "kept"]:
        raise CleanupRefused(f"{reference} was not deleted: {kept[0].reason}", "nothing was changed")


def cleanup_ci_image(
    commit: ImageReference,
    branch: ImageReference,
    client: RegistryClient,
    known: Knowledge,
    console: Console,
    stop: Stop,
    dry_run: bool = False,
) -> None:
    """Delete this commit's CI image tag; the branch tag (same digest) stays."""
    if commit.tag == branch.tag:
        why = "the commit tag is the branch tag: deleting it would take the branch's image"
        show([CleanupReport(commit.repository, (TagOutcome(commit.tag, "kept", why),), dry_run=dry_run)], console, stop)
        return
    before = client.head_digest(branch.repository, branch.tag)
    candidates = {commit.tag: "this commit's CI image"}
    report = guarded(client, known, commit.repository, candidates, stop, dry_run=dry_run)
    after = before if dry_run else client.head_digest(branch.repository, branch.tag)
    show([report], console, stop)
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
    console: Console,
    stop: Stop,
    dry_run: bool = False,
) -> None:
    """`inv cleanup.old-prod`: once the deploy targets run this commit's release, fully rolled out, promote
    it and prune the releases nothing needs (without the cluster check, promote anyway)."""
    seen = release.look(client)
    if not known.skip_cluster_check:
        check_promotable(release, access)
    promote_and_prune(release, client, known, console, stop, dry_run, seen)


def cleanup_by_policy(
    policy: CleanupPolicy,
    repository: str,
    client: RegistryClient,
    known: Knowledge,
    console: Console,
    stop: Stop,
    dry_run: bool,
) -> None:
    """`inv cleanup.policy`: plan by the rules, then let the guard weigh every tag the plan would delete."""
    live = frozenset(ref_slug(b) for b in known.live_branches()) if policy.gone_branches else None
    created_for = (lambda _tag: True) if policy.needs_ages else tagnames.is_release
    tags = collect_tags(client, repository, created_for=created_for)
    plan = plan_policy(repository, list(tags.values()), policy, datetime.now(UTC), live)
    candidates = policy_candidates(plan, tags)
    report = guarded(client, known, repository, candidates, stop, tags, dry_run)
    kept = tuple(
        TagOutcome(e.tag, "kept", f"[{e.rule}] {e.reason}", e.digest) for e in plan.entries if e.tag not in candidates
    )
    show([replace(report, outcomes=kept + report.outcomes)], console, stop)
