"""The request bodies Conveyor sends to change a Deployment, built as pure data exactly as kubectl builds
them: `kubectl set image` (strategic merge patch) and `kubectl rollout undo` (JSON patch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.kube.errors import RollbackError, UnknownContainer
from conveyor.kube.objects import REVISION_ANNOTATION, owned, revision, template_without_hash

STRATEGIC_MERGE = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
CHANGE_CAUSE = "kubernetes.io/change-cause"
CONTAINER_LISTS = ("containers", "initContainers")
# kubectl's annotationsToSkip: kept from the Deployment, never copied from the ReplicaSet on rollback.
ROLLBACK_KEEP_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
)

Obj = Mapping[str, Any]


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def container_images(deployment: Obj) -> dict[str, str]:
    """Container name -> image, for the containers and init containers of the pod template."""
    pod_spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {str(c.get("name")): str(c.get("image", "")) for field in CONTAINER_LISTS for c in pod_spec.get(field) or []}


def set_image_patch(deployment: Obj, container: str, image: str, change_cause: str = "") -> dict[str, Any] | None:
    """kubectl set image's strategic merge patch for one container, or None when the image is already set.

    kubectl computes it as a two-way merge patch, which carries `$setElementOrder/<list>` (every container
    name, in order) beside the changed element; with --record it adds the change-cause annotation."""
    pod_spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for field in CONTAINER_LISTS:
        names = [str(c.get("name")) for c in pod_spec.get(field) or []]
        if container not in names:
            continue
        current = next(c for c in pod_spec[field] if c.get("name") == container)
        if current.get("image") == image:
            return None
        body: dict[str, Any] = {}
        if change_cause:
            body["metadata"] = {"annotations": {CHANGE_CAUSE: change_cause}}
        body["spec"] = {
            "template": {
                "spec": {
                    f"$setElementOrder/{field}": [{"name": n} for n in names],
                    field: [{"image": image, "name": container}],
                }
            }
        }
        return body
    known = ", ".join(sorted(container_images(deployment))) or "none"
    raise UnknownContainer(
        f'deployment "{_name(deployment)}" has no container "{container}"', f"its containers are: {known}"
    )


@dataclass(frozen=True)
class RollbackPlan:
    """What `kubectl rollout undo` would do: a JSON patch to `revision`, or nothing (`skipped`)."""

    revision: int
    patch: list[dict[str, Any]]
    skipped: str = ""


def _revision_replicaset(deployment: Obj, replicasets: Sequence[Obj], to_revision: int) -> Obj:
    mine = [rs for rs in owned(replicasets, deployment) if revision(rs) is not None]
    if to_revision > 0:
        found = next((rs for rs in mine if revision(rs) == to_revision), None)
        if found is None:
            raise RollbackError(f"unable to find specified revision {to_revision} in history")
        return found
    ordered = sorted(mine, key=lambda rs: revision(rs) or 0, reverse=True)
    if len(ordered) < 2:
        raise RollbackError(f'no rollout history found for deployment "{_name(deployment)}"')
    return ordered[1]


def rollback_plan(deployment: Obj, replicasets: Sequence[Obj], to_revision: int = 0) -> RollbackPlan:
    """kubectl's DeploymentRollbacker: the previous revision's (or `to_revision`'s) ReplicaSet template
    without its pod-template-hash label replaces spec.template; annotations come from that ReplicaSet,
    except the revision bookkeeping ones, which stay as the Deployment has them."""
    if to_revision < 0:
        raise RollbackError(f"unable to find specified revision {to_revision} in history")
    target = _revision_replicaset(deployment, replicasets, to_revision)
    number = revision(target) or 0
    if (deployment.get("spec") or {}).get("paused"):
        raise RollbackError(
            "you cannot rollback a paused deployment",
            f"resume it first with 'kubectl rollout resume deployment/{_name(deployment)}' and try again",
        )
    template = template_without_hash((target.get("spec") or {}).get("template") or {})
    current = template_without_hash((deployment.get("spec") or {}).get("template") or {})
    if template == current:
        return RollbackPlan(number, [], f"skipped rollback (current template already matches revision {number})")
    deployment_annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    annotations = {k: deployment_annotations[k] for k in ROLLBACK_KEEP_ANNOTATIONS if k in deployment_annotations}
    for key, value in ((target.get("metadata") or {}).get("annotations") or {}).items():
        if key not in ROLLBACK_KEEP_ANNOTATIONS:
            annotations[key] = value
    patch = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    return RollbackPlan(number, patch)
