"""The wait loop against a scripted fake API: messages once per change, resume after drops, list again
after 410 Gone, deletion, pod failures, overall timeout."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from conveyor.kube.cluster import WatchEvent, WatchExpired, WatchInterrupted
from conveyor.kube.errors import ClusterError, RolloutFailed
from conveyor.kube.wait import WaitOptions, deadline_warning, wait_for_rollout
from tests.support.factories import FakeClock

Obj = dict[str, Any]


def state(
    rv: int,
    generation: int = 2,
    observed: int = 2,
    updated: int = 2,
    replicas: int = 2,
    available: int = 2,
    deadline: bool = False,
) -> Obj:
    status: Obj = {
        "observedGeneration": observed,
        "replicas": replicas,
        "updatedReplicas": updated,
        "availableReplicas": available,
    }
    if deadline:
        status["conditions"] = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    return {
        "metadata": {"name": "web", "uid": "d", "generation": generation, "resourceVersion": str(rv)},
        "spec": {
            "replicas": 2,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
        },
        "status": status,
    }


Step = list[WatchEvent] | type[Exception] | Exception


@dataclass
class FakeApi:
    """Answers lists from `listed` in turn and watches from `watches` in turn (a list of events, or an
    exception raised when the watch starts or after its events)."""

    listed: list[Obj]
    watches: list[Step]
    namespace: str = "ns"
    pods_answer: list[Obj] = field(default_factory=list)
    replicasets_answer: list[Obj] = field(default_factory=list)
    watch_calls: list[tuple[str, int]] = field(default_factory=list)
    list_calls: int = 0

    def list_deployment(self, name: str) -> tuple[Obj, str]:
        obj = self.listed[min(self.list_calls, len(self.listed) - 1)]
        self.list_calls += 1
        return obj, obj["metadata"]["resourceVersion"]

    def watch_deployment(self, name: str, resource_version: str, seconds: int) -> Iterator[WatchEvent]:
        self.watch_calls.append((resource_version, seconds))
        step = self.watches.pop(0) if self.watches else []
        if isinstance(step, list):
            yield from step
            return
        raise step

    def replicasets(self, deployment: Obj) -> list[Obj]:
        return self.replicasets_answer

    def pods(self, selector: str) -> list[Obj]:
        return self.pods_answer

    def pod_events(self, pod: str) -> list[Obj]:
        return []


def run(api: FakeApi, timeout: float = 60.0, **options: Any) -> tuple[Any, list[str], list[str]]:
    messages: list[str] = []
    warnings: list[str] = []
    clock = FakeClock(now=0.0, tick=0.01)
    result = wait_for_rollout(
        api,
        "web",
        WaitOptions(timeout=timeout, **options),
        messages.append,
        warnings.append,
        clock=clock,
        sleep=clock.sleep,
    )
    return result, messages, warnings


def modified(obj: Obj) -> WatchEvent:
    return WatchEvent("MODIFIED", obj)


def test_success_prints_each_message_once() -> None:
    waiting = state(10, updated=1, replicas=3)
    api = FakeApi(
        [waiting], [[modified(state(11, updated=1, replicas=3)), modified(state(12, replicas=3)), modified(state(13))]]
    )
    result, messages, _ = run(api)
    assert result.ok and result.message == 'deployment "web" successfully rolled out'
    assert messages == [
        'Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...',
        'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
        'deployment "web" successfully rolled out',
    ]
    assert api.watch_calls[0][0] == "10"


def test_already_rolled_out_does_not_watch() -> None:
    api = FakeApi([state(5)], [])
    result, _messages, _ = run(api)
    assert result.ok and api.watch_calls == []


def test_dropped_watch_resumes_from_the_last_resource_version() -> None:
    api = FakeApi(
        [state(10, observed=1)], [[modified(state(11, available=1))], WatchInterrupted("eof"), [modified(state(14))]]
    )
    result, _, _ = run(api)
    assert result.ok
    assert [rv for rv, _ in api.watch_calls] == ["10", "11", "11"]
    assert api.list_calls == 1


def test_gone_lists_again_and_watches_from_the_lists_version() -> None:
    api = FakeApi([state(10, observed=1), state(20, available=1)], [WatchExpired("too old"), [modified(state(21))]])
    result, _, _ = run(api)
    assert result.ok
    assert api.list_calls == 2
    assert [rv for rv, _ in api.watch_calls] == ["10", "20"]


def test_deleted_is_a_failure() -> None:
    api = FakeApi([state(10, observed=1)], [[WatchEvent("DELETED", state(11, observed=1))]])
    result, _, _ = run(api)
    assert not result.ok
    assert result.message == 'deployment "web" was deleted while waiting for its rollout'
    with pytest.raises(RolloutFailed):
        result.raise_for_failure()


def test_deadline_exceeded_is_kubectls_failure() -> None:
    api = FakeApi([state(10, available=1)], [[modified(state(11, available=1, deadline=True))]])
    result, messages, _ = run(api)
    assert not result.ok and result.message == 'deployment "web" exceeded its progress deadline'
    assert messages == ['Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...']


def test_timeout_names_the_last_status() -> None:
    api = FakeApi([state(10, available=1)], [])
    result, _, _ = run(api, timeout=3)
    assert not result.ok
    assert result.message == (
        'deployment "web" did not finish rolling out within 3s (last status: Waiting for '
        'deployment "web" rollout to finish: 1 of 2 updated replicas are available...)'
    )


def test_watch_windows_are_short_and_bounded_by_the_timeout() -> None:
    api = FakeApi([state(10, available=1)], [])
    run(api, timeout=3, inspect_interval=2.0)
    assert all(seconds <= 2 for _, seconds in api.watch_calls)


def test_cluster_errors_are_retried_then_raised() -> None:
    api = FakeApi([state(10, available=1)], [ClusterError("down"), [modified(state(11))]])
    result, _, _ = run(api)
    assert result.ok
    assert api.list_calls == 2  # listed again after the error, then watched from the new list
    api = FakeApi([state(10, available=1)], [ClusterError("down")] * 3)
    with pytest.raises(ClusterError):
        run(api)


def test_pod_failure_fails_at_once() -> None:
    deployment = state(10, available=0)
    rs = {
        "metadata": {"name": "web-h", "uid": "rs", "ownerReferences": [{"uid": "d", "controller": True}]},
        "spec": {
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "h"}},
            "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "h"}}, "spec": {"containers": []}},
        },
    }
    bad = {
        "metadata": {"name": "web-h-1", "ownerReferences": [{"uid": "rs", "controller": True}]},
        "status": {
            "containerStatuses": [
                {"name": "app", "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}
            ]
        },
    }
    api = FakeApi([deployment], [], replicasets_answer=[rs], pods_answer=[bad])
    result, _, _ = run(api)
    assert not result.ok and result.failure is not None
    assert result.message == 'deployment "web" rollout failed: pod web-h-1 container app: ErrImagePull: not found'
    assert api.watch_calls == []
    api = FakeApi([deployment], [[modified(state(11))]], replicasets_answer=[rs], pods_answer=[bad])
    assert run(api, inspect_pods=False)[0].ok


def test_deadline_warning() -> None:
    assert deadline_warning(state(1), 600) == ""
    assert deadline_warning(state(1), 900) == (
        'warning: the timeout (900s) is longer than deployment "web"\'s progressDeadlineSeconds (600s): '
        "the cluster will declare the rollout failed first"
    )
    api = FakeApi([state(5)], [])
    assert run(api, timeout=601)[2] == [deadline_warning(state(1), 601)]


def test_pods_that_cannot_be_listed_degrade_to_kubectls_verdict_with_a_warning() -> None:
    class Forbidden(FakeApi):
        def replicasets(self, deployment: Obj) -> list[Obj]:
            raise ClusterError("listing replicasets: forbidden")

    api = Forbidden([state(10, available=1)], [[modified(state(11))]])
    result, _, warnings = run(api)
    assert result.ok
    assert warnings == [
        'warning: cannot inspect the pods of deployment "web" (listing replicasets: forbidden); '
        "waiting for the Deployment's own verdict only"
    ]


def test_a_server_that_drops_every_watch_is_not_hammered() -> None:
    drops: list[Step] = [WatchInterrupted("eof")] * 5
    api = FakeApi([state(10, available=1)], [*drops, [modified(state(11))]])
    clock = FakeClock(now=0.0, tick=0.01)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.sleep(seconds)

    result = wait_for_rollout(api, "web", WaitOptions(timeout=60), clock=clock, sleep=sleep)
    assert result.ok
    assert slept == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_errors_while_listing_again_are_retried_too() -> None:
    class FlakyList(FakeApi):
        def list_deployment(self, name: str) -> tuple[Obj, str]:
            if self.list_calls == 1:
                self.list_calls += 1
                raise ClusterError("listing deployment web: connection refused")
            return super().list_deployment(name)

    api = FlakyList([state(10, available=1), state(10, available=1), state(30)], [WatchExpired("old")])
    result, _, _ = run(api)
    assert result.ok and api.list_calls == 3
