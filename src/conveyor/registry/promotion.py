"""Moving a promotion tag (`prod`, `prod-<environment>`) to a release, server-side: the manifest is copied
(GET, then PUT under the tag), no layer moves. The one place a promotion tag is written; when to move it
(after a verified rollout, back after a rollback) is the stages' business (conveyor.stages.releases)."""

from __future__ import annotations

from conveyor.registry.client import RegistryClient
from conveyor.registry.errors import ManifestNotFound


def move_tag(client: RegistryClient, repository: str, release: str, tag: str, dry_run: bool = False) -> str:
    """Point `tag` at what `release` points at, server-side; answers what happened, in words."""
    new_digest = client.head_digest(repository, release)
    if new_digest is None:
        raise ManifestNotFound(
            f"release {client.registry}/{repository}:{release} does not exist", "run inv build-prod first"
        )
    if client.head_digest(repository, tag) == new_digest:
        return f"{tag} already points at {release} ({new_digest})"
    if not dry_run:
        client.retag(repository, release, tag)
    return f"{'would promote' if dry_run else 'promoted'} {tag} to {release} ({new_digest})"
