"""Deleting tags in the registry layer's tests, with permits made by hand, each naming the digest the tag has
when it is looked up (conveyor.registry.deletion takes nothing else): one tag (absent when it is gone), or
many in two phases, each answered as the stages report it (conveyor.stages.deleting)."""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.interrupt import Stop
from conveyor.registry.client import RegistryClient
from conveyor.stages.deleting import deletions
from conveyor.stages.reports import CleanupReport, TagOutcome
from tests.support.factories import permit


def delete_tag(client: RegistryClient, repository: str, tag: str, dry_run: bool = False) -> CleanupReport:
    """Delete one tag, and only it; a missing tag is 'absent'."""
    if dry_run:
        digest = client.head_digest(repository, tag)
        outcome = TagOutcome(tag, "would-delete", "", digest) if digest else TagOutcome(tag, "absent", "already gone")
        return CleanupReport(repository, (outcome,), dry_run=True)
    done = client.deleter.delete(permit(repository, tag, client.head_digest(repository, tag)))
    if done.method == "absent":
        return CleanupReport(repository, (TagOutcome(tag, "absent", "already gone", done.previous_digest),))
    return CleanupReport(repository, (TagOutcome(tag, "deleted", f"by {done.method}", done.previous_digest),))


def delete_tags(
    client: RegistryClient,
    repository: str,
    tags: Sequence[str],
    *,
    workers: int = 8,
    dry_run: bool = False,
    stop: Stop | None = None,
) -> CleanupReport:
    """Delete `tags` (known to exist) in parallel, as a cleanup does once the guard has permitted them: each
    permit names the digest the tag has now, as the guard's would."""
    digests = {tag: None if dry_run else client.head_digest(repository, tag) for tag in tags}
    permits = [permit(repository, tag, digests[tag], reason="") for tag in tags]
    return CleanupReport(repository, deletions(client, permits, stop, dry_run, workers), dry_run=dry_run)
