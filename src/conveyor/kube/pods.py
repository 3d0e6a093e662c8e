"""Pod failures that doom a rollout, found in the new ReplicaSet's pods (kubectl never looks; Skaffold does).

All functions here are pure: they take API objects in their JSON form and return what they found."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from conveyor.kube.objects import Obj, match_labels_selector, owned, revision, template_without_hash

FAILING_WAITING_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "CrashLoopBackOff",
        "RunContainerError",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
    }
)


@dataclass(frozen=True)
class PodFailure:
    """Why one pod of the new ReplicaSet cannot become ready."""

    pod: str
    container: str
    reason: str
    message: str
    event: str = ""  # the latest Warning event of the pod: "Reason: message"

    def describe(self) -> str:
        where = f"pod {self.pod}" + (f" container {self.container}" if self.container else "")
        text = f"{where}: {self.reason}"
        if self.message and self.message not in self.event:  # else the event says it, and more
            text += f": {self.message}"
        if self.event and self.event not in text:
            text += f" (latest warning event: {self.event})"
        return " ".join(text.split())


# -- which ReplicaSet is new --------------------------------------------------------------------------------
def new_replicaset(deployment: Obj, replicasets: Sequence[Obj]) -> Obj | None:
    """The Deployment's new ReplicaSet, as kubectl's deploymentutil.FindNewReplicaSet: among the ReplicaSets
    it owns, the oldest whose pod template equals the Deployment's (ignoring pod-template-hash). When none
    matches yet, the one whose revision annotation equals the Deployment's, once the controller has observed
    the Deployment's current generation."""
    mine = sorted(
        owned(replicasets, deployment),
        key=lambda rs: (
            str((rs.get("metadata") or {}).get("creationTimestamp", "")),
            (rs.get("metadata") or {}).get("name", ""),
        ),
    )
    template = template_without_hash((deployment.get("spec") or {}).get("template") or {})
    for rs in mine:
        if template_without_hash((rs.get("spec") or {}).get("template") or {}) == template:
            return rs
    meta = deployment.get("metadata") or {}
    observed = int((deployment.get("status") or {}).get("observedGeneration") or 0)
    if int(meta.get("generation") or 0) <= observed and revision(deployment):
        return next((rs for rs in mine if revision(rs) == revision(deployment)), None)
    return None


def pod_selector(replicaset: Obj) -> str:
    """A label selector string for the pods of `replicaset` (its matchLabels, which carry the hash)."""
    return match_labels_selector(replicaset)


# -- what is wrong with a pod --------------------------------------------------------------------------------
def _unschedulable(pod: Obj) -> PodFailure | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            name = (pod.get("metadata") or {}).get("name", "")
            return PodFailure(name, "", "Unschedulable", str(condition.get("message", "")))
    return None


def _container_failure(pod_name: str, status: Obj) -> PodFailure | None:
    state = status.get("state") or {}
    container = str(status.get("name", ""))
    waiting = state.get("waiting")
    if waiting and waiting.get("reason") in FAILING_WAITING_REASONS:
        return PodFailure(pod_name, container, str(waiting["reason"]), str(waiting.get("message", "")))
    terminated = state.get("terminated")
    if terminated and int(terminated.get("exitCode") or 0) != 0:
        reason = str(terminated.get("reason") or "Error")
        detail = f"exit code {terminated.get('exitCode')}"
        message = str(terminated.get("message") or "").strip()
        return PodFailure(pod_name, container, reason, f"{detail}: {message}" if message else detail)
    return None


def pod_failure(pod: Obj) -> PodFailure | None:
    """The first reason this pod cannot become ready: unschedulable, or a container (init containers
    first) waiting for a failing reason or terminated with a non-zero exit code."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return None
    unschedulable = _unschedulable(pod)
    if unschedulable is not None:
        return unschedulable
    name = str((pod.get("metadata") or {}).get("name", ""))
    status = pod.get("status") or {}
    for container_status in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        failure = _container_failure(name, container_status)
        if failure is not None:
            return failure
    return None


def first_failure(pods: Iterable[Obj]) -> PodFailure | None:
    """The failure of the first failing pod (by name, so that the answer is stable)."""
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("name", ""))):
        failure = pod_failure(pod)
        if failure is not None:
            return failure
    return None


def _event_time(event: Obj) -> tuple[str, int]:
    meta = event.get("metadata") or {}
    stamp = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or ""
    stamp = stamp or meta.get("creationTimestamp") or ""
    return str(stamp), int(meta.get("resourceVersion") or 0)


def latest_warning(events: Iterable[Obj], pod: str) -> str:
    """'Reason: message' of the pod's latest Warning event that says more than "Error: <reason>", or empty."""
    warnings = [e for e in events if e.get("type") == "Warning" and (e.get("involvedObject") or {}).get("name") == pod]
    if not warnings:
        return ""
    # "Error: ErrImagePull" repeats the reason; the event before it says why ("Failed to pull image ...").
    telling = [e for e in warnings if not str(e.get("message", "")).startswith("Error: ")]
    latest = max(telling or warnings, key=_event_time)
    return f"{latest.get('reason', '')}: {latest.get('message', '')}"


def with_event(failure: PodFailure, events: Iterable[Obj]) -> PodFailure:
    return replace(failure, event=latest_warning(events, failure.pod))
