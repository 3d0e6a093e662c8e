"""What a repository holds, for the deletion guard and cleanup policies: its tags, each with the digest it
points at, whether that is a throwaway placeholder an interrupted deletion left behind, and its image's
creation time where asked for (one config read per digest, however many tags share it). Looked up on a small
pool of threads."""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from conveyor import tagnames
from conveyor.errors import ConveyorError
from conveyor.registry.client import RegistryClient
from conveyor.registry.errors import ManifestNotFound
from conveyor.registry.manifests import Manifest

DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class TagInfo:
    """A tag, its digest, its image's creation time (None: unknown or not looked up), whether it points at a
    throwaway placeholder manifest that an interrupted deletion left behind, and whether the registry
    lists it but has no manifest for it (`missing`: no digest)."""

    tag: str
    digest: str | None = None
    created: datetime | None = None
    placeholder: bool = False
    missing: bool = False


def collect_tags(
    client: RegistryClient,
    repository: str,
    *,
    only: Collection[str] | None = None,
    created_for: Callable[[str], bool] = tagnames.is_release,
    workers: int = DEFAULT_WORKERS,
) -> dict[str, TagInfo]:
    """The tags of `repository` (with `only`: those, plus every release and promotion tag, which the guard
    weighs), each with its digest, whether it is a placeholder, and for tags `created_for` selects, its
    image's creation time (None when it cannot be read: the guard then keeps it); a listed tag whose
    manifest is missing is `missing`. Looked up in parallel."""
    listed = client.list_tags(repository)
    names = [t for t in listed if only is None or t in only or tagnames.is_release(t) or tagnames.is_promotion(t)]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="lookup") as pool:
        manifests = list(pool.map(lambda tag: _manifest_or_none(client, repository, tag), names))
        found = {tag: m for tag, m in zip(names, manifests, strict=True) if m is not None}
        dated = {m.digest: m for tag, m in found.items() if created_for(tag) and not m.is_placeholder}
        times = list(pool.map(lambda m: _created_or_none(client, repository, m), dated.values()))
    created = dict(zip(dated, times, strict=True))
    infos = {tag: TagInfo(tag, m.digest, created.get(m.digest), m.is_placeholder) for tag, m in found.items()}
    gone = {tag: TagInfo(tag, missing=True) for tag in names if tag not in found}
    return dict(sorted((infos | gone).items()))


def _manifest_or_none(client: RegistryClient, repository: str, tag: str) -> Manifest | None:
    try:
        return client.get_manifest(repository, tag)
    except ManifestNotFound:
        return None  # deleted since it was listed


def _created_or_none(client: RegistryClient, repository: str, manifest: Manifest) -> datetime | None:
    try:
        return client.image_created(repository, manifest)
    except ConveyorError:
        return None  # an age that cannot be read is unknown: the guard keeps the tag
