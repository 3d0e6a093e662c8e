"""Which images a cluster references, for the cleanup's deletion guard: Deployment templates and the
ReplicaSets of their revision history (what `kubectl rollout undo` returns a Deployment to), StatefulSets
and DaemonSets and their ControllerRevisions (what it returns them to), CronJobs, Jobs and Pods (their
specs, and the image and imageID each container status reports).

images_of() is pure. images_in_cluster() lists each kind in every namespace, in chunks (`limit` and
`continue`; a 410 on a continue token starts that list over, never a partial view); where a cluster-wide
list is forbidden it lists the fallback namespaces it is given, and without any it fails. It fails closed:
any error is a ClusterError naming the kind, the scope and the context."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from conveyor.kube.cluster import Connection
from conveyor.kube.errors import ClusterError, ContinueExpired, ListForbidden
from conveyor.kube.objects import REVISION_ANNOTATION

Obj = Mapping[str, Any]

# (plural, API group path) of every kind whose objects reference images.
KINDS: tuple[tuple[str, str], ...] = (
    ("deployments", "/apis/apps/v1"),
    ("replicasets", "/apis/apps/v1"),
    ("statefulsets", "/apis/apps/v1"),
    ("daemonsets", "/apis/apps/v1"),
    ("cronjobs", "/apis/batch/v1"),
    ("jobs", "/apis/batch/v1"),
    ("pods", "/api/v1"),
    ("controllerrevisions", "/apis/apps/v1"),
)
CHUNK = 500  # objects per list request (kubectl's --chunk-size default)
RESTARTS = 3  # a list whose continue token expired this often is given up
CONTAINERS = (("containers", ""), ("initContainers", "init container"), ("ephemeralContainers", "ephemeral container"))
STATUSES = (
    ("containerStatuses", ""),
    ("initContainerStatuses", "init container"),
    ("ephemeralContainerStatuses", "ephemeral container"),
)
IMAGE_ID_ONLY = re.compile(r"(sha256:)?[0-9a-f]{64}")  # an image id without a repository names no tag


@dataclass(frozen=True)
class ImageUse:
    """One reference to an image by one object of the cluster."""

    image: str  # as written in the object (a status's imageID without its "docker-pullable://" scheme)
    kind: str  # "deployment", "replicaset", "statefulset", "daemonset", "cronjob", "job", "pod"
    name: str
    namespace: str
    detail: str = ""  # "revision 7", "revision 6 of deployment/web, kept for rollout undo", "running (imageID)"...

    def where(self) -> str:
        """E.g. 'deployment/web (namespace shop, revision 7)'."""
        context = ", ".join(part for part in (f"namespace {self.namespace}", self.detail) if part)
        return f"{self.kind}/{self.name} ({context})"


class Lister(Protocol):
    @property
    def connection(self) -> Connection: ...

    def list_page(
        self, kind: str, group: str, namespace: str | None, limit: int, token: str = ""
    ) -> tuple[list[dict[str, Any]], str]: ...


def images_in_cluster(
    cluster: Lister, fallback: Sequence[str] | None = None, deadline: Callable[[], None] = lambda: None
) -> list[ImageUse]:
    """Every image the objects of every kind in KINDS reference, in every namespace; where a cluster-wide
    list of a kind is forbidden, in the `fallback` namespaces (None: the forbidden list is the error).
    `deadline` raises once the time to ask this cluster is up; it is asked before every request."""
    uses = []
    for kind, group in KINDS:
        for obj in list_kind(cluster, kind, group, fallback, deadline):
            uses += images_of(kind, obj)
    return uses


def list_kind(
    cluster: Lister, kind: str, group: str, fallback: Sequence[str] | None, deadline: Callable[[], None]
) -> list[dict[str, Any]]:
    try:
        return list_every(cluster, kind, group, None, deadline)
    except ListForbidden as error:
        if not fallback:
            raise ListForbidden(
                f"{error.problem}, so the guard cannot know what else runs there",
                f"grant the read-only ClusterRole conveyor-guard (README 'What Conveyor never deletes'), or name "
                f"the namespaces to look in (conveyor.guard.namespaces); {error.hint}",
            ) from None
    return [obj for namespace in fallback for obj in list_every(cluster, kind, group, namespace, deadline)]


def list_every(
    cluster: Lister, kind: str, group: str, namespace: str | None, deadline: Callable[[], None]
) -> list[dict[str, Any]]:
    """Every object of `kind` in `namespace` (None: every namespace), chunk by chunk; a continue token
    that expired (410) starts the list over, at most RESTARTS times."""
    for _ in range(RESTARTS + 1):
        items: list[dict[str, Any]] = []
        token = ""
        try:
            while True:
                deadline()
                page, token = cluster.list_page(kind, group, namespace, CHUNK, token)
                items += page
                if not token:
                    return items
        except ContinueExpired:
            continue
    scope = f'namespace "{namespace}"' if namespace else "every namespace"
    raise ClusterError(
        f"the list of {kind} in {scope} kept changing: its continue token expired {RESTARTS + 1} times",
        "run the cleanup again when the cluster is quieter",
    )


def images_of(kind: str, obj: Obj) -> list[ImageUse]:
    """The images one object references: every container, init container and ephemeral container of its pod
    spec (a CronJob's in its jobTemplate) and, for a pod, each container status's image and imageID.
    `kind` is the plural, singular or Kind name ("cronjobs", "cronjob", "CronJob")."""
    singular = kind.lower().removesuffix("s")
    meta = obj.get("metadata") or {}
    context = _context(singular, obj)
    found: list[tuple[Any, str]] = []
    spec = _pod_spec(singular, obj)
    for field, role in CONTAINERS:
        for container in spec.get(field) or []:
            found.append((container.get("image"), _join(context, _role(role, container))))
    if singular == "pod":
        for field, role in STATUSES:
            for status in (obj.get("status") or {}).get(field) or []:
                state = next(iter(status.get("state") or {}), "")
                for key in ("image", "imageID"):
                    found.append(
                        (status.get(key), _join(context, _role(role, status), f"{state} ({key})" if state else key))
                    )
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
    uses = (ImageUse(image, singular, name, namespace, detail) for raw, detail in found if (image := _clean(raw)))
    return list(dict.fromkeys(uses))


def _pod_spec(kind: str, obj: Obj) -> Obj:
    spec = obj.get("spec") or {}
    if kind == "pod":
        return spec
    if kind == "controllerrevision":  # the template patch of a StatefulSet's or DaemonSet's revision
        spec = ((obj.get("data") or {}).get("spec")) or {}
    if kind == "cronjob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def _context(kind: str, obj: Obj) -> str:
    """What the object is to its owner: "revision 7", "revision 6 of deployment/web, kept for rollout undo"."""
    meta = obj.get("metadata") or {}
    revision = (meta.get("annotations") or {}).get(REVISION_ANNOTATION)
    text = f"revision {revision}" if revision and kind in ("deployment", "replicaset") else ""
    if kind == "controllerrevision":
        text = f"revision {obj.get('revision', '?')}"
    owner = next((ref for ref in meta.get("ownerReferences") or [] if ref.get("controller")), None)
    if owner:
        text = f"{text} of {str(owner.get('kind', '')).lower()}/{owner.get('name', '')}".strip()
        if kind == "replicaset" and owner.get("kind") == "Deployment" and not (obj.get("spec") or {}).get("replicas"):
            text += ", kept for rollout undo"
        if kind == "controllerrevision":
            text += ", kept for rollout undo"
    return text


def _role(role: str, container: Obj) -> str:
    """Which container, in words, unless it is a plain one: "init container migrate"."""
    return f"{role} {container.get('name', '')}" if role else ""


def _join(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


def _clean(value: Any) -> str:
    """The image as written, without a "docker-pullable://" style scheme; "" when there is none to keep."""
    text = str(value or "").strip()
    text = text.split("://", 1)[1] if "://" in text else text
    return "" if IMAGE_ID_ONLY.fullmatch(text) else text
