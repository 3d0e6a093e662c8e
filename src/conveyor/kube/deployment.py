"""Changing a Deployment: set a container's image (as `kubectl set image`) and roll back (as
`kubectl rollout undo`). Validation happens before any request that changes the cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from conveyor.kube.cluster import Obj
from conveyor.kube.patches import JSON_PATCH, STRATEGIC_MERGE, container_images, rollback_plan, set_image_patch


class DeploymentApi(Protocol):
    def get_deployment(self, name: str) -> Obj: ...

    def patch_deployment(self, name: str, body: object, content_type: str) -> Obj: ...

    def replicasets(self, deployment: Obj) -> list[Obj]: ...


@dataclass(frozen=True)
class ImageChange:
    """The outcome of set_image. `changed` False means the image was already set: no rollout happens."""

    deployment: str
    container: str
    image: str
    previous_image: str
    changed: bool
    generation: int

    def describe(self) -> str:
        if not self.changed:
            return f'deployment "{self.deployment}": container {self.container} already runs {self.image}: no change'
        return f'deployment "{self.deployment}": container {self.container} image {self.previous_image} -> {self.image}'


def _generation(deployment: Obj) -> int:
    return int((deployment.get("metadata") or {}).get("generation") or 0)


def set_image(api: DeploymentApi, name: str, container: str, image: str, change_cause: str = "") -> ImageChange:
    """Set `container`'s image with kubectl's strategic merge patch (plus the change-cause annotation when
    given). An unknown container raises UnknownContainer before any change; the same image sends nothing."""
    deployment = api.get_deployment(name)
    previous = container_images(deployment).get(container, "")
    body = set_image_patch(deployment, container, image, change_cause)
    if body is None:
        return ImageChange(name, container, image, previous, False, _generation(deployment))
    patched = api.patch_deployment(name, body, STRATEGIC_MERGE)
    return ImageChange(name, container, image, previous, True, _generation(patched))


@dataclass(frozen=True)
class Rollback:
    deployment: str
    revision: int
    rolled_back: bool
    message: str  # kubectl's words: "rolled back" or "skipped rollback (...)"
    generation: int


@dataclass(frozen=True)
class UndoPlan:
    """What `rollback` would do to one Deployment, read without changing it: the revision it goes back to,
    kubectl's words when it would skip, and each container's image before and after."""

    deployment: str
    revision: int
    skipped: str
    before: Mapping[str, str]
    after: Mapping[str, str]

    def describe(self) -> str:
        if self.skipped:
            return f'deployment "{self.deployment}": {self.skipped}'
        changed = [
            f"container {name} {self.before.get(name) or '(none)'} -> {image}"
            for name, image in self.after.items()
            if self.before.get(name) != image
        ]
        what = "; ".join(changed) or "the same images"
        return f'deployment "{self.deployment}": roll back to revision {self.revision} ({what})'


def plan_rollback(api: DeploymentApi, name: str, to_revision: int = 0) -> UndoPlan:
    """`rollback`'s plan; raises RollbackError as it would (no history, a paused Deployment)."""
    deployment = api.get_deployment(name)
    plan = rollback_plan(deployment, api.replicasets(deployment), to_revision)
    before = container_images(deployment)
    after = container_images({"spec": {"template": plan.patch[0]["value"]}}) if plan.patch else before
    return UndoPlan(name, plan.revision, plan.skipped, before, after)


def rollback(api: DeploymentApi, name: str, to_revision: int = 0) -> Rollback:
    """Roll back to the previous revision (or `to_revision`) exactly as `kubectl rollout undo`."""
    deployment = api.get_deployment(name)
    plan = rollback_plan(deployment, api.replicasets(deployment), to_revision)
    if plan.skipped:
        return Rollback(name, plan.revision, False, plan.skipped, _generation(deployment))
    patched = api.patch_deployment(name, plan.patch, JSON_PATCH)
    return Rollback(name, plan.revision, True, "rolled back", _generation(patched))
