"""Which images one namespace of a cluster references, for the cleanup's deletion guard: Deployment
templates and the ReplicaSets of their revision history (what `kubectl rollout undo` returns to),
StatefulSets, DaemonSets, CronJobs, Jobs and Pods (their specs, and the image and imageID each container
status reports).

images_of() is pure; images_in_use() lists each kind once, without a selector, and fails closed: any error
is a ClusterError naming the kind, the namespace and the context."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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
)
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


class NamespaceLister(Protocol):
    def list_all(self, kind: str, group: str) -> list[dict[str, Any]]: ...


def images_in_use(cluster: NamespaceLister) -> list[ImageUse]:
    """Every image the objects of every kind in KINDS reference in the cluster's namespace (one list request
    per kind). Raises ClusterError on any failure: an image whose use cannot be checked must be kept."""
    return [use for kind, group in KINDS for obj in cluster.list_all(kind, group) for use in images_of(kind, obj)]


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
    if kind == "cronjob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def _context(kind: str, obj: Obj) -> str:
    """What the object is to its owner: "revision 7", "revision 6 of deployment/web, kept for rollout undo"."""
    meta = obj.get("metadata") or {}
    revision = (meta.get("annotations") or {}).get(REVISION_ANNOTATION)
    text = f"revision {revision}" if revision and kind in ("deployment", "replicaset") else ""
    owner = next((ref for ref in meta.get("ownerReferences") or [] if ref.get("controller")), None)
    if owner:
        text = f"{text} of {str(owner.get('kind', '')).lower()}/{owner.get('name', '')}".strip()
        if kind == "replicaset" and owner.get("kind") == "Deployment" and not (obj.get("spec") or {}).get("replicas"):
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
