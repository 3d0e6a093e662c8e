"""What the clusters reference, as the deletion guard reads it: each image reference found (as written
there, and where), parsed by the distribution grammar (a pod's imageID with its scheme too), and indexed
for one repository by tag and by digest. A reference that cannot be parsed puts its whole repository in
doubt (or every repository, when not even that can be read). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from conveyor.errors import BadReference
from conveyor.reference import DEFAULT_DOMAIN, ImageReference

DOCKER_HUB = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
SCHEMES = ("docker-pullable://", "docker://", "containerd://")


@dataclass(frozen=True)
class Use:
    """One image reference found in a cluster, as written there, and where."""

    image: str
    where: str


@dataclass(frozen=True)
class ClusterView:
    """What one place Conveyor deploys to references, or why it could not be asked."""

    place: str
    uses: tuple[Use, ...] = ()
    problem: str = ""


@dataclass(frozen=True)
class Usage:
    """The cluster references that concern one repository, indexed for the decision."""

    by_tag: Mapping[str, str]
    by_digest: Mapping[str, str]
    everything: str  # non-empty: every tag of the repository is kept, for this reason

    @classmethod
    def of(cls, registry: str, repository: str, clusters: tuple[ClusterView, ...] | None) -> Usage:
        """What `clusters` reference in `repository` of `registry`; None: no cluster is asked about it."""
        if clusters is None:
            return cls({}, {}, "")
        home = (_registry(registry), repository)
        by_tag: dict[str, str] = {}
        by_digest: dict[str, str] = {}
        problems = []
        for view in clusters:
            if view.problem:
                problems.append(f"cannot tell whether {view.place} uses it: {view.problem}")
                continue
            for use in view.uses:
                reference = cluster_reference(use.image)
                if reference is None:
                    rough = rough_repository(use.image)
                    if rough is None or rough == home:
                        problems.append(f"{use.where} references {use.image!r}, which cannot be parsed")
                    continue
                if (_registry(reference.registry), reference.repository) != home:
                    continue
                if reference.tag:
                    by_tag.setdefault(reference.tag, f"in use by {use.where}")
                if reference.digest:
                    by_digest.setdefault(reference.digest, f"in use by {use.where} (by digest)")
        return cls(by_tag, by_digest, "; ".join(dict.fromkeys(problems)))

    def reason(self, tag: str, digest: str | None) -> str:
        return self.everything or self.by_tag.get(tag) or (self.by_digest.get(digest, "") if digest else "")


def cluster_reference(text: str) -> ImageReference | None:
    """An image as a cluster writes it (container image, or a pod's imageID with its scheme), parsed by the
    distribution grammar; a reference with neither tag nor digest means `latest`. None when unparseable."""
    for scheme in SCHEMES:
        text = text.removeprefix(scheme)
    try:
        reference = ImageReference.parse(text)
    except BadReference:
        return None
    return reference if reference.tag or reference.digest else reference.with_tag("latest")


def rough_repository(text: str) -> tuple[str, str] | None:
    """(registry, repository) of a reference the grammar rejects, as nearly as it can be read; None when
    not even that (then every repository is in doubt)."""
    for scheme in SCHEMES:
        text = text.removeprefix(scheme)
    name = text.strip().split("@", 1)[0]
    head, _, last = name.rpartition("/")
    name = f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first.lower() == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_DOMAIN, name if "/" in name else f"library/{name}"
    repository = repository.lower().strip("/")
    return (_registry(registry), repository) if repository and repository != "library/" else None


def _registry(host: str) -> str:
    host = host.lower()
    return DEFAULT_DOMAIN if host in DOCKER_HUB else host
