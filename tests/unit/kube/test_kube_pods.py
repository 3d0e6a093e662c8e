"""Pod failures of the new ReplicaSet, and which ReplicaSet is new."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.kube.objects import owned
from conveyor.kube.pods import (
    PodFailure,
    first_failure,
    latest_warning,
    new_replicaset,
    pod_failure,
    pod_selector,
    with_event,
)

Obj = dict[str, Any]


def pod(
    name: str = "web-abc-1",
    *,
    waiting: Obj | None = None,
    terminated: Obj | None = None,
    conditions: list[Obj] | None = None,
    init: bool = False,
    deleting: bool = False,
) -> Obj:
    state: Obj = {"running": {}}
    if waiting is not None:
        state = {"waiting": waiting}
    if terminated is not None:
        state = {"terminated": terminated}
    statuses = [{"name": "app", "state": state, "ready": False, "restartCount": 0}]
    status: Obj = {"phase": "Pending", "conditions": conditions or []}
    status["initContainerStatuses" if init else "containerStatuses"] = statuses
    meta: Obj = {"name": name, "uid": f"uid-{name}", "ownerReferences": [{"uid": "rs-new", "controller": True}]}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": status}


@pytest.mark.parametrize(
    "reason",
    [
        "ErrImagePull",
        "ImagePullBackOff",
        "CrashLoopBackOff",
        "RunContainerError",
        "CreateContainerConfigError",
        "InvalidImageName",
        "CreateContainerError",
    ],
)
def test_failing_waiting_reasons(reason: str) -> None:
    failure = pod_failure(pod(waiting={"reason": reason, "message": "why"}))
    assert failure == PodFailure("web-abc-1", "app", reason, "why")


@pytest.mark.parametrize("reason", ["ContainerCreating", "PodInitializing"])
def test_normal_waiting_reasons_are_not_failures(reason: str) -> None:
    assert pod_failure(pod(waiting={"reason": reason})) is None


def test_running_pod_is_fine() -> None:
    assert pod_failure(pod()) is None


def test_non_zero_exit_is_a_failure_with_exit_code() -> None:
    failure = pod_failure(pod(terminated={"exitCode": 137, "reason": "OOMKilled"}))
    assert failure is not None
    assert (failure.reason, failure.message) == ("OOMKilled", "exit code 137")


def test_zero_exit_is_not_a_failure() -> None:
    assert pod_failure(pod(terminated={"exitCode": 0, "reason": "Completed"})) is None


def test_init_container_failure() -> None:
    failure = pod_failure(pod(init=True, waiting={"reason": "CrashLoopBackOff", "message": "back-off"}))
    assert failure is not None and failure.reason == "CrashLoopBackOff"


def test_unschedulable() -> None:
    condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes"}
    failure = pod_failure(pod(conditions=[condition]))
    assert failure == PodFailure("web-abc-1", "", "Unschedulable", "0/1 nodes")
    assert failure.describe() == "pod web-abc-1: Unschedulable: 0/1 nodes"


def test_terminating_pods_are_ignored() -> None:
    assert pod_failure(pod(deleting=True, waiting={"reason": "ErrImagePull"})) is None


def test_first_failure_is_stable_by_pod_name() -> None:
    pods = [pod("web-b", waiting={"reason": "ErrImagePull"}), pod("web-a", waiting={"reason": "CrashLoopBackOff"})]
    failure = first_failure(pods)
    assert failure is not None and failure.pod == "web-a"
    assert first_failure([pod("x")]) is None


def event(pod_name: str, type_: str, reason: str, message: str, stamp: str, rv: int) -> Obj:
    return {
        "metadata": {"resourceVersion": str(rv)},
        "involvedObject": {"kind": "Pod", "name": pod_name},
        "type": type_,
        "reason": reason,
        "message": message,
        "lastTimestamp": stamp,
    }


def test_latest_warning_prefers_the_telling_message() -> None:
    events = [
        event("p", "Warning", "Failed", 'Failed to pull image "x": not found', "2026-01-01T00:00:01Z", 1),
        event("p", "Warning", "Failed", "Error: ErrImagePull", "2026-01-01T00:00:01Z", 2),
        event("p", "Normal", "BackOff", 'Back-off pulling image "x"', "2026-01-01T00:00:05Z", 3),
        event("other", "Warning", "Failed", "elsewhere", "2026-01-01T00:00:09Z", 4),
    ]
    assert latest_warning(events, "p") == 'Failed: Failed to pull image "x": not found'
    assert latest_warning(events[1:2], "p") == "Failed: Error: ErrImagePull"
    assert latest_warning(events, "nobody") == ""


def test_latest_warning_is_the_newest() -> None:
    events = [
        event("p", "Warning", "BackOff", "new", "2026-01-01T00:00:09Z", 1),
        event("p", "Warning", "Unhealthy", "old", "2026-01-01T00:00:01Z", 2),
    ]
    assert latest_warning(events, "p") == "BackOff: new"


def test_describe_names_pod_container_reason_and_event() -> None:
    failure = with_event(
        PodFailure("web-1", "app", "ImagePullBackOff", 'Back-off pulling image "r/app:v9"'),
        [event("web-1", "Warning", "Failed", 'Failed to pull image "r/app:v9": not found', "t", 1)],
    )
    assert failure.describe() == (
        'pod web-1 container app: ImagePullBackOff: Back-off pulling image "r/app:v9" '
        '(latest warning event: Failed: Failed to pull image "r/app:v9": not found)'
    )


# -- the new ReplicaSet ------------------------------------------------------------------------------------
def template(image: str, pod_hash: str = "") -> Obj:
    labels = {"app": "web"}
    if pod_hash:
        labels["pod-template-hash"] = pod_hash
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}}


def replicaset(
    name: str, image: str, revision: str, owner: str = "dep-uid", created: str = "2026-01-01T00:00:00Z"
) -> Obj:
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [{"uid": owner, "controller": True}],
        },
        "spec": {
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": name[-3:]}},
            "template": template(image, name[-3:]),
        },
    }


def deployment_obj(image: str, revision: str, generation: int = 2, observed: int = 2) -> Obj:
    return {
        "metadata": {
            "name": "web",
            "uid": "dep-uid",
            "generation": generation,
            "annotations": {"deployment.kubernetes.io/revision": revision},
        },
        "spec": {"template": template(image)},
        "status": {"observedGeneration": observed},
    }


def test_new_replicaset_matches_the_template_ignoring_the_hash_label() -> None:
    sets = [
        replicaset("web-aaa", "app:v1", "1"),
        replicaset("web-bbb", "app:v2", "2"),
        replicaset("web-ccc", "app:v2", "5", owner="someone-else"),
    ]
    rs = new_replicaset(deployment_obj("app:v2", "2"), sets)
    assert rs is not None and rs["metadata"]["name"] == "web-bbb"
    assert pod_selector(rs) == "app=web,pod-template-hash=bbb"


def test_no_new_replicaset_before_the_controller_made_it() -> None:
    sets = [replicaset("web-aaa", "app:v1", "1")]
    assert new_replicaset(deployment_obj("app:v2", "1", generation=2, observed=1), sets) is None


def test_revision_is_the_fallback_once_observed() -> None:
    sets = [replicaset("web-aaa", "app:v1", "1"), replicaset("web-bbb", "app:v1-defaulted", "2")]
    rs = new_replicaset(deployment_obj("app:v2", "2"), sets)
    assert rs is not None and rs["metadata"]["name"] == "web-bbb"


def test_owned_matches_the_controller_uid() -> None:
    pods = [pod("a"), {"metadata": {"name": "b", "ownerReferences": [{"uid": "rs-new", "controller": False}]}}]
    assert [p["metadata"]["name"] for p in owned(pods, {"metadata": {"uid": "rs-new"}})] == ["a"]


def test_describe_does_not_repeat_what_the_event_says() -> None:
    failure = PodFailure(
        "web-1",
        "app",
        "ErrImagePull",
        "rpc error: not found",
        'Failed: Failed to pull image "r/app:v9": rpc error: not found',
    )
    assert failure.describe() == (
        'pod web-1 container app: ErrImagePull (latest warning event: Failed: Failed to pull image "r/app:v9": '
        "rpc error: not found)"
    )
