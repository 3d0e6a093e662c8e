"""The cleanup stage: what the cleanup tasks do with the settings, the registry client, the cleanup engine
(conveyor.cleanup) and the deletion guard (conveyor.guard, with its knowledge), and how their reports are
printed. Every deletion goes through `guarded`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from conveyor import tagnames
from conveyor.cleanup import (
    CleanupReport,
    Policy,
    TagOutcome,
    apply_verdicts,
    collect_tags,
    parse_target,
    plan_policy,
    policy_candidates,
    promote,
)
from conveyor.errors import CleanupRefused, ConfigError, RegistryError
from conveyor.gitinfo import GitAnswer
from conveyor.guard import TagInfo, decide
from conveyor.knowledge import Knowledge
from conveyor.reference import ImageReference
from conveyor.registry import GitLabTagsApi, RegistryClient
from conveyor.slug import ref_slug
from conveyor.toolbox import Toolbox


def registry_client(tools: Toolbox) -> RegistryClient:
    """A client for the configured registry with the run's credentials (see Toolbox.credentials) and GitLab's
    tags API where GitLab's variables say so."""
    settings = tools.settings
    return RegistryClient(
        settings.registry,
        tools.credentials,
        scheme=settings.scheme,
        redactor=tools.console.redactor,
        gitlab=gitlab_api(tools),
        deadline=settings.registry_timeout,
    )


def gitlab_api(tools: Toolbox) -> GitLabTagsApi | None:
    settings = tools.settings
    if not (settings.gitlab_api_url and settings.gitlab_project_id):
        return None
    if settings.registry_access_token:
        return GitLabTagsApi(settings.gitlab_api_url, settings.gitlab_project_id, settings.registry_access_token)
    if settings.job_token:
        return GitLabTagsApi(settings.gitlab_api_url, settings.gitlab_project_id, settings.job_token, "JOB-TOKEN")
    return None


def show(tools: Toolbox, reports: Sequence[CleanupReport]) -> None:
    """Print every report; fail (after printing all) when a tag could not be cleaned up."""
    for report in reports:
        for line in report.lines():
            tools.console.line(line)
    deleted = sum(len(report.deleted) for report in reports)
    waiting = sum(len(report.tags("not-started")) for report in reports)
    tools.stop.check(f"{deleted} tags deleted, {waiting} not started (see the lines above)")
    failed = [f"{report.repository}:{tag}" for report in reports for tag in report.failed]
    if failed:
        raise RegistryError(f"cleanup failed for {', '.join(failed)}", "see the lines above; run the task again")


def repository_of(tools: Toolbox, name: str) -> str:
    """The registry path of the image `name` under the project's registry image."""
    return ImageReference.parse(f"{tools.settings.registry_image}/{name}").repository


def knowledge(tools: Toolbox, skip_cluster_check: bool = False) -> Knowledge:
    """The deletion guard's knowledge for a standalone cleanup task: strict (a cluster that cannot be
    asked refuses the run before anything changes)."""
    return Knowledge(tools, GitAnswer(tools.settings.project_dir).origin_branches, skip_cluster_check)


def guarded(
    client: RegistryClient,
    known: Knowledge,
    repository: str,
    candidates: Mapping[str, str],
    tags: Mapping[str, TagInfo] | None = None,
    dry_run: bool = False,
    notes: Sequence[str] = (),
) -> CleanupReport:
    """Ask the deletion guard about `candidates` (tag -> why), then delete what it lets go."""
    tags = tags if tags is not None else collect_tags(client, repository, only=set(candidates))
    facts = known.facts(repository, tags, candidates)
    verdicts = decide(candidates, facts)
    notes = (*notes, facts.cluster_note) if facts.cluster_note else tuple(notes)
    return apply_verdicts(client, repository, verdicts, dry_run=dry_run, notes=notes, stop=known.tools.stop)


def cleanup_one_tag(tools: Toolbox, tag: str, dry_run: bool, skip_cluster_check: bool = False) -> None:
    """`inv cleanup --tag`: delete one tag if the guard lets it go; a kept tag is a refusal (exit 1)."""
    target = parse_target(tag, tools.settings.registry)
    with registry_client(tools) as client:
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
    with registry_client(tools) as client:
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


def cleanup_old_prod(tools: Toolbox, known: Knowledge, dry_run: bool = False) -> None:
    """For every prod image: move the environment's promotion tag to this commit's release, then delete
    the releases the guard lets go (not used by a cluster, not among the newest kept for rollback, not
    promoted anywhere). The caller has verified the rollout (see deploy_stage.promotable)."""
    prod = tools.settings.images.prod
    if not prod:
        tools.console.line("cleanup.old-prod: no prod images configured")
        return
    for names in prod.values():
        known.check(names.release.repository)
    reports = []
    with registry_client(tools) as client:
        for names in prod.values():
            repository, release, promotion = names.release.repository, names.release.tag, names.promotion.tag
            note = promote(client, repository, release, promotion, dry_run)
            tags = collect_tags(client, repository, only=())
            if dry_run and release in tags:  # as the registry will be once promoted
                tags[promotion] = replace(tags[release], tag=promotion)
            older = {t: "an older release" for t in tags if tagnames.is_release(t) and t != release}
            reports.append(guarded(client, known, repository, older, tags, dry_run, (note,)))
    show(tools, reports)


def cleanup_by_policy(tools: Toolbox, rules: PolicyRules, dry_run: bool, skip_cluster_check: bool = False) -> None:
    """`inv cleanup.policy`: plan by the rules, then let the guard weigh every tag the plan would delete."""
    known = knowledge(tools, skip_cluster_check)
    live = frozenset(ref_slug(b) for b in known.live_branches()) if rules.gone_branches else None
    policy = Policy(rules.keep_regex, rules.delete_regex, rules.keep_newest, rules.older_than, live)
    repository = repository_of(tools, rules.image)
    with registry_client(tools) as client:
        created_for = (lambda _tag: True) if policy.needs_created else tagnames.is_release
        tags = collect_tags(client, repository, created_for=created_for)
        plan = plan_policy(repository, list(tags.values()), policy, datetime.now(UTC))
        candidates = policy_candidates(plan, tags)
        report = guarded(client, known, repository, candidates, tags, dry_run)
    kept = tuple(
        TagOutcome(e.tag, "kept", f"[{e.rule}] {e.reason}", e.digest) for e in plan.entries if e.tag not in candidates
    )
    show(tools, [replace(report, outcomes=kept + report.outcomes)])


def parse_count(flag: str, text: str) -> int | None:
    """A flag's whole number of at least 0 ("" = not given)."""
    if not text:
        return None
    if not text.isdigit():
        raise ConfigError(f"{flag} {text!r} is not a whole number", f"give {flag} 0 or more, or leave it out")
    return int(text)


@dataclass(frozen=True)
class PolicyRules:
    """cleanup.policy's flags, checked: which image, and the rules of conveyor.cleanup.Policy."""

    image: str
    keep_regex: str = ""
    delete_regex: str = ""
    keep_newest: int | None = None
    older_than: timedelta | None = None
    gone_branches: bool = False
