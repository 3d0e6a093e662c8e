"""Moving a promotion tag (`prod`, `prod-<environment>`) to a release, server-side: the manifest is copied
(GET, then PUT under the tag), no layer moves; a tag that moved since the stage looked is left alone. The
one place a promotion tag is written; when to move it (after a verified rollout, back after a rollback) is
the stages' business (conveyor.stages.releases)."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.registry.client import RegistryClient
from conveyor.registry.errors import ManifestNotFound


@dataclass(frozen=True)
class Seen:
    """What a promotion tag pointed at when the stage decided to move it (None: it did not exist)."""

    digest: str | None


def move_tag(
    client: RegistryClient, repository: str, release: str, tag: str, dry_run: bool = False, seen: Seen | None = None
) -> str:
    """Point `tag` at what `release` points at, server-side; answers what happened, in words. With `seen`,
    the tag is read again just before it moves and left alone when it moved since (another pipeline
    promoted meanwhile); the window left is the one request of the move itself."""
    new_digest = client.head_digest(repository, release)
    if new_digest is None:
        raise ManifestNotFound(
            f"release {client.registry}/{repository}:{release} does not exist", "run inv build-prod first"
        )
    current = client.head_digest(repository, tag)
    if current == new_digest:
        return f"{tag} already points at {release} ({new_digest})"
    if seen is not None and current != seen.digest:
        return f"left {tag} alone: it moved since this run looked (was {seen.digest or 'absent'}, now {current})"
    if not dry_run:
        client.retag(repository, release, tag)
    return f"{'would promote' if dry_run else 'promoted'} {tag} to {release} ({new_digest})"
