"""The simulated kubelet's convention for how a container ends and what it prints."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.k8s_sim.kubelet import RUN_TIME, ContainerPlan, Kubelet, LogError, PodRuntime, plan_container


def container(*args: str, command: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": "task", "image": "reg.local/task:v1", "command": list(command), "args": list(args)}


@pytest.mark.parametrize(
    ("spec", "policy", "plan"),
    [
        (container(), "Never", ContainerPlan(0, RUN_TIME, ())),
        (container(), "Always", ContainerPlan(None, RUN_TIME, ())),
        (container("sim:fail"), "Never", ContainerPlan(1, RUN_TIME, ())),
        (container("sim:fail"), "Always", ContainerPlan(1, RUN_TIME, ())),
        (container("sim:exit=3", "sim:sleep=2.5"), "OnFailure", ContainerPlan(3, 2.5, ())),
        (container("hello", "world"), "Never", ContainerPlan(0, RUN_TIME, ("hello world",))),
        (
            container("migrate", "sim:log=step 1 done", "sim:log=step 2 done"),
            "Never",
            ContainerPlan(0, RUN_TIME, ("migrate", "step 1 done", "step 2 done")),
        ),
        (
            container("echo start; sim:fail", command=("sh", "-c")),
            "Never",
            ContainerPlan(1, RUN_TIME, ("echo start; sim:fail",)),
        ),
        (container(command=("run", "sim:sleep=0.5", "sim:log=ok")), "Never", ContainerPlan(0, 0.5, ("ok",))),
    ],
)
def test_the_plan_follows_the_markers(spec: dict[str, Any], policy: str, plan: ContainerPlan) -> None:
    assert plan_container(spec, policy) == plan


class _NoCluster:
    def __init__(self) -> None:
        self.pods: dict[str, PodRuntime] = {}


def test_logs_answer_what_was_printed_with_tail_and_timestamps() -> None:
    kubelet = Kubelet(_NoCluster())  # type: ignore[arg-type]
    pod: dict[str, Any] = {
        "metadata": {"name": "once-x7k2p", "namespace": "conveyor", "uid": "u-1"},
        "spec": {"containers": [container("a", "sim:log=b", "sim:log=c")]},
        "status": {"containerStatuses": [{"name": "task", "state": {"waiting": {"reason": "ErrImagePull"}}}]},
    }
    with pytest.raises(LogError) as waiting:
        kubelet.log(pod, "", None, False, False)
    assert str(waiting.value) == 'container "task" in pod "once-x7k2p" is waiting to start: image can\'t be pulled'
    runtime = PodRuntime(created=0.0)
    runtime.logs["task"] = [("2026-01-01T00:00:00.000000000Z", line) for line in ("a", "b", "c")]
    kubelet.pods["u-1"] = runtime
    assert kubelet.log(pod, "", None, False, False) == "a\nb\nc\n"
    assert kubelet.log(pod, "task", 2, False, False) == "b\nc\n"
    assert kubelet.log(pod, "task", 1, True, False) == "2026-01-01T00:00:00.000000000Z c\n"
    assert kubelet.log(pod, "task", 0, False, False) == ""
    with pytest.raises(LogError, match="container other is not valid for pod once-x7k2p"):
        kubelet.log(pod, "other", None, False, False)
    with pytest.raises(LogError, match='previous terminated container "task" in pod "once-x7k2p" not found'):
        kubelet.log(pod, "task", None, False, True)
