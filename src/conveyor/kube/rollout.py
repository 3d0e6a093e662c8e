"""The rollout verdict for one Deployment, exactly as `kubectl rollout status` decides it
(kubectl's polymorphichelpers DeploymentStatusViewer.Status): a small pure function of the object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

TIMED_OUT_REASON = "ProgressDeadlineExceeded"


class State(Enum):
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class RolloutVerdict:
    """kubectl's message for this state of the Deployment (without its trailing newline)."""

    state: State
    message: str

    @property
    def done(self) -> bool:
        return self.state is State.DONE

    @property
    def failed(self) -> bool:
        return self.state is State.FAILED

    @property
    def final(self) -> bool:
        return self.state is not State.WAITING


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def deployment_verdict(deployment: Mapping[str, Any]) -> RolloutVerdict:
    """The verdict for a Deployment in the API's JSON form (camelCase keys, as the API server sends it)."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = meta.get("name", "")
    if _int(meta.get("generation")) > _int(status.get("observedGeneration")):
        return RolloutVerdict(State.WAITING, "Waiting for deployment spec update to be observed...")
    progressing = _condition(status, "Progressing")
    if progressing is not None and progressing.get("reason") == TIMED_OUT_REASON:
        return RolloutVerdict(State.FAILED, f'deployment "{name}" exceeded its progress deadline')
    updated = _int(status.get("updatedReplicas"))
    replicas = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    wanted = spec.get("replicas")
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if wanted is not None and updated < _int(wanted):
        return RolloutVerdict(
            State.WAITING, f"{prefix}{updated} out of {_int(wanted)} new replicas have been updated..."
        )
    if replicas > updated:
        return RolloutVerdict(State.WAITING, f"{prefix}{replicas - updated} old replicas are pending termination...")
    if available < updated:
        return RolloutVerdict(State.WAITING, f"{prefix}{available} of {updated} updated replicas are available...")
    return RolloutVerdict(State.DONE, f'deployment "{name}" successfully rolled out')
