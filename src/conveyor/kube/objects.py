"""Small pure readings of Kubernetes objects (the API's JSON) that several parts need: ownership, the
Deployment revision annotation, a pod template without its hash label, a matchLabels selector."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

Obj = Mapping[str, Any]
HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def controller_uid(obj: Obj) -> str:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((str(ref.get("uid", "")) for ref in refs if ref.get("controller")), "")


def owned(objects: Iterable[Obj], owner: Obj) -> list[Obj]:
    """The objects whose controller owner is `owner` (matched by uid, as the controllers do)."""
    uid = (owner.get("metadata") or {}).get("uid")
    return [obj for obj in objects if uid and controller_uid(obj) == uid]


def revision(obj: Obj) -> int | None:
    """The `deployment.kubernetes.io/revision` annotation as a number; None when absent or not a number."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def template_without_hash(template: Obj) -> dict[str, Any]:
    """A pod template as the deployment controller compares them: without the pod-template-hash label."""
    clean = copy.deepcopy(dict(template))
    labels = (clean.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return clean


def match_labels_selector(obj: Obj) -> str:
    """A label selector string from `spec.selector.matchLabels` (a Deployment's or a ReplicaSet's)."""
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
