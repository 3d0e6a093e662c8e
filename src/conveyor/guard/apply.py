"""Carrying out what the deletion guard decides, for every stage that deletes or moves a tag: guarded
deletion, promotion followed by pruning the releases nothing needs, and printing the reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from conveyor import tagnames
from conveyor.errors import CleanupRefused, RegistryError
from conveyor.guard import places
from conveyor.guard.decision import TagInfo, decide
from conveyor.guard.knowledge import Knowledge
from conveyor.kube import deployment_verdict
from conveyor.kube.patches import container_images
from conveyor.registry import RegistryClient
from conveyor.registry.cleanup import CleanupReport, apply_verdicts, collect_tags, promote
from conveyor.stages.toolbox import Toolbox


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


def promote_and_prune(tools: Toolbox, known: Knowledge, dry_run: bool = False) -> None:
    """For every prod image: move the environment's promotion tag to this commit's release, then delete
    the releases the guard lets go (not used by a cluster, not among the newest kept for rollback, not
    promoted anywhere). The caller has verified the rollout (see deploy_stage.promotable)."""
    place = tools.settings.deploy_place
    prod = {name: tools.settings.images.prod[name] for name in place.images}
    if not prod:
        tools.console.line("cleanup.old-prod: no prod images configured")
        return
    for names in prod.values():
        known.check(names.release.repository)
    reports = []
    with tools.registry() as client:
        for names in prod.values():
            repository, release, promotion = names.release.repository, names.release.tag, place.promotion_tag
            note = promote(client, repository, release, promotion, dry_run)
            tags = collect_tags(client, repository, only=())
            if dry_run and release in tags:  # as the registry will be once promoted
                tags[promotion] = replace(tags[release], tag=promotion)
            older = {t: "an older release" for t in tags if tagnames.is_release(t) and t != release}
            reports.append(guarded(client, known, repository, older, tags, dry_run, (note,)))
    show(tools, reports)


def check_promotable(tools: Toolbox) -> None:
    """For a promotion outside `inv deploy`: every deploy target runs this commit's release and is fully
    rolled out. Promotion follows a verified rollout, never precedes one."""
    targets = tools.settings.deploy_place.targets
    if not targets:
        return
    with places.connect(tools, tools.settings.deploy_place) as cluster:
        for target in targets:
            deployment = cluster.get_deployment(target.deployment)
            runs = container_images(deployment).get(target.container, "")
            release = str(tools.settings.images.prod[target.image].release)
            if runs != release:
                raise CleanupRefused(
                    f'deployment "{target.deployment}" container {target.container} runs {runs or "nothing"}, '
                    f"not {release}: nothing was promoted",
                    "promotion follows a verified rollout: run inv deploy",
                )
            verdict = deployment_verdict(deployment)
            if not verdict.done:
                raise CleanupRefused(
                    f"{verdict.message}: nothing was promoted", "wait with inv deploy.status, then run this again"
                )
