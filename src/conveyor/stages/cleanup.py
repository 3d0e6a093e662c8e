"""The cleanup stage: the cleanup tasks' work on the registry, every deletion through the deletion guard
(conveyor.guard.apply.guarded)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from conveyor import tagnames
from conveyor.config.specs import PolicyRules
from conveyor.errors import CleanupRefused, ConfigError
from conveyor.gitinfo import GitAnswer
from conveyor.guard.apply import check_promotable, guarded, promote_and_prune, show
from conveyor.guard.knowledge import Knowledge
from conveyor.reference import ImageReference
from conveyor.registry.cleanup import (
    CleanupReport,
    Policy,
    TagOutcome,
    collect_tags,
    parse_target,
    plan_policy,
    policy_candidates,
)
from conveyor.slug import ref_slug
from conveyor.stages.toolbox import Toolbox


def repository_of(tools: Toolbox, name: str) -> str:
    """The registry path of the image `name` under the project's registry image."""
    return ImageReference.parse(f"{tools.settings.registry_image}/{name}").repository


def knowledge(tools: Toolbox, skip_cluster_check: bool = False) -> Knowledge:
    """The deletion guard's knowledge for a standalone cleanup task: strict (a cluster that cannot be
    asked refuses the run before anything changes)."""
    return Knowledge(tools, GitAnswer(tools.settings.project_dir).origin_branches, skip_cluster_check)


def cleanup_one_tag(tools: Toolbox, tag: str, dry_run: bool, skip_cluster_check: bool = False) -> None:
    """`inv cleanup --tag`: delete one tag if the guard lets it go; a kept tag is a refusal (exit 1)."""
    target = parse_target(tag, tools.settings.registry)
    with tools.registry() as client:
        known = knowledge(tools, skip_cluster_check)
        report = guarded(client, known, target.repository, {target.tag: "asked for"}, dry_run=dry_run)
    show(tools, [report])
    if kept := [o for o in report.outcomes if o.action == "kept"]:
        raise CleanupRefused(f"{target} was not deleted: {kept[0].reason}", "nothing was changed")


def cleanup_this_ci_image(tools: Toolbox, dry_run: bool = False) -> None:
    """Delete this commit's CI image tag; the branch tag (same digest) stays."""
    images = tools.settings.images
    commit, branch = images.ci_commit, images.ci_branch
    if commit.tag == branch.tag:
        why = "the commit tag is the branch tag: deleting it would take the branch's image"
        show(tools, [CleanupReport(commit.repository, (TagOutcome(commit.tag, "kept", why),), dry_run=dry_run)])
        return
    with tools.registry() as client:
        before = client.head_digest(branch.repository, branch.tag)
        report = guarded(
            client, knowledge(tools), commit.repository, {commit.tag: "this commit's CI image"}, None, dry_run
        )
        after = before if dry_run else client.head_digest(branch.repository, branch.tag)
    show(tools, [report])
    if after is None:
        tools.console.line(f"note: branch tag {branch.tag} does not exist")
    elif after == before:
        tools.console.line(f"note: branch tag {branch.tag} still points at {after}")
    else:
        tools.console.line(f"note: branch tag {branch.tag} now points at {after} (pushed meanwhile)")


def cleanup_old_prod(tools: Toolbox, dry_run: bool = False, skip_cluster_check: bool = False) -> None:
    """`inv cleanup.old-prod`: once the deploy targets run this commit's release, fully rolled out, promote
    it and prune the releases nothing needs (without the cluster check, promote anyway)."""
    if not skip_cluster_check:
        check_promotable(tools)
    promote_and_prune(tools, knowledge(tools, skip_cluster_check), dry_run)


def cleanup_by_policy(tools: Toolbox, rules: PolicyRules, dry_run: bool, skip_cluster_check: bool = False) -> None:
    """`inv cleanup.policy`: plan by the rules, then let the guard weigh every tag the plan would delete."""
    known = knowledge(tools, skip_cluster_check)
    live = frozenset(ref_slug(b) for b in known.live_branches()) if rules.gone_branches else None
    policy = Policy(rules.keep_regex, rules.delete_regex, rules.keep_newest, rules.older_than, live)
    repository = repository_of(tools, rules.image)
    with tools.registry() as client:
        created_for = (lambda _tag: True) if policy.needs_created else tagnames.is_release
        tags = collect_tags(client, repository, created_for=created_for)
        plan = plan_policy(repository, list(tags.values()), policy, datetime.now(UTC))
        candidates = policy_candidates(plan, tags)
        report = guarded(client, known, repository, candidates, tags, dry_run)
    kept = tuple(
        TagOutcome(e.tag, "kept", f"[{e.rule}] {e.reason}", e.digest) for e in plan.entries if e.tag not in candidates
    )
    show(tools, [replace(report, outcomes=kept + report.outcomes)])


def cleanup_by_configured_policy(tools: Toolbox) -> None:
    """The scheduled cleanup: conveyor.cleanup_policy's rules, executed (`inv cleanup.policy --execute`)."""
    for rules in configured_rules(tools, PolicyRules()):
        cleanup_by_policy(tools, rules, dry_run=False)


def configured_rules(tools: Toolbox, flags: PolicyRules) -> list[PolicyRules]:
    """The rules to apply: the flags when any rule flag is given, else conveyor.cleanup_policy (only the
    `--image` one, when given); every image defaults to the CI image."""
    ci_image = tools.settings.ci_image_name
    configured = [replace(rules, image=rules.image or ci_image) for rules in tools.settings.cleanup_policy]
    if replace(flags, image="") != PolicyRules() or not configured:
        return [replace(flags, image=flags.image or ci_image)]
    chosen = [rules for rules in configured if flags.image in ("", rules.image)]
    if not chosen:
        names = ", ".join(rules.image for rules in configured)
        raise ConfigError(f"conveyor.cleanup_policy has no rules for image {flags.image!r}", f"its images: {names}")
    return chosen


def parse_count(flag: str, text: str) -> int | None:
    """A flag's whole number of at least 0 ("" = not given)."""
    if not text:
        return None
    if not text.isdigit():
        raise ConfigError(f"{flag} {text!r} is not a whole number", f"give {flag} 0 or more, or leave it out")
    return int(text)
