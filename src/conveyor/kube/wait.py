"""Waiting for a rollout: kubectl's verdict on every watch event, plus a look at the new ReplicaSet's pods
so that a rollout that cannot succeed fails at once instead of at the progress deadline.

The watch is kubectl's: list the Deployment (fieldSelector metadata.name), watch from the list's
resourceVersion, resume from the last seen resourceVersion when the connection drops, list again on
410 Gone. Each watch asks the server to end it after a few seconds (timeoutSeconds) and carries a
client-side read timeout, so that the pods are inspected between watches and a silent connection cannot
hang the wait."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from conveyor.kube.cluster import Obj, WatchEvent, WatchExpired, WatchInterrupted
from conveyor.kube.errors import ClusterError, DeploymentNotFound, RolloutFailed
from conveyor.kube.objects import owned
from conveyor.kube.pods import PodFailure, first_failure, new_replicaset, pod_selector, with_event
from conveyor.kube.rollout import RolloutVerdict, deployment_verdict

Sink = Callable[[str], None]
MAX_CONSECUTIVE_ERRORS = 3


class RolloutApi(Protocol):
    def list_deployment(self, name: str) -> tuple[Obj, str]: ...

    def watch_deployment(self, name: str, resource_version: str, seconds: int) -> Iterator[WatchEvent]: ...

    def replicasets(self, deployment: Obj) -> list[Obj]: ...

    def pods(self, selector: str) -> list[Obj]: ...

    def pod_events(self, pod: str) -> list[Obj]: ...


def _ignore(message: str) -> None:
    pass


def _never() -> bool:
    return False


@dataclass(frozen=True)
class RolloutResult:
    deployment: str
    ok: bool
    message: str  # the final line: kubectl's success message, or why the rollout failed
    failure: PodFailure | None = None

    def raise_for_failure(self) -> None:
        if not self.ok:
            raise RolloutFailed(self.message)


@dataclass(frozen=True)
class WaitOptions:
    timeout: float = 600.0  # overall, seconds
    inspect_pods: bool = True
    inspect_interval: float = 2.0  # seconds between looks at the new ReplicaSet's pods (and watch length)
    retry_delay: float = 1.0
    stopped: Callable[[], bool] = _never  # asked between watches: stop waiting (Ctrl-C), the rollout goes on


class _Finished(Exception):
    def __init__(self, result: RolloutResult) -> None:
        super().__init__(result.message)
        self.result = result


@dataclass
class _Waiter:
    api: RolloutApi
    name: str
    options: WaitOptions
    on_message: Sink
    on_warning: Sink
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    deadline: float = 0.0
    next_inspect: float = 0.0
    last_message: str = ""
    resource_version: str = ""
    deployment: Obj = field(default_factory=dict)
    errors: int = 0
    interruptions: int = 0
    inspecting: bool = True
    must_relist: bool = False

    # -- verdicts ------------------------------------------------------------------------------------------
    def fail(self, message: str, failure: PodFailure | None = None) -> _Finished:
        return _Finished(RolloutResult(self.name, False, message, failure))

    def observe(self, deployment: Obj) -> None:
        """Judge one state of the Deployment; print kubectl's message when it changed; stop when final."""
        self.deployment = deployment
        verdict: RolloutVerdict = deployment_verdict(deployment)
        if verdict.message != self.last_message:
            self.last_message = verdict.message
            if not verdict.failed:
                self.on_message(verdict.message)
        if verdict.done:
            raise _Finished(RolloutResult(self.name, True, verdict.message))
        if verdict.failed:
            raise self.fail(verdict.message)

    def inspect(self) -> None:
        """Fail at once when a pod of the new ReplicaSet cannot start."""
        now = self.clock()
        if not (self.options.inspect_pods and self.inspecting) or now < self.next_inspect:
            return
        self.next_inspect = now + self.options.inspect_interval
        try:
            failure = self.find_pod_failure()
        except ClusterError as error:  # e.g. a role that may not list pods: judge like kubectl, say so once
            self.inspecting = False
            self.on_warning(
                f'warning: cannot inspect the pods of deployment "{self.name}" ({error}); '
                "waiting for the Deployment's own verdict only"
            )
            return
        if failure is not None:
            raise self.fail(f'deployment "{self.name}" rollout failed: {failure.describe()}', failure)

    def find_pod_failure(self) -> PodFailure | None:
        rs = new_replicaset(self.deployment, self.api.replicasets(self.deployment))
        if rs is None:
            return None
        failure = first_failure(owned(self.api.pods(pod_selector(rs)), rs))
        return with_event(failure, self.api.pod_events(failure.pod)) if failure is not None else None

    # -- list and watch ------------------------------------------------------------------------------------
    def relist(self) -> None:
        try:
            deployment, self.resource_version = self.api.list_deployment(self.name)
        except DeploymentNotFound:
            raise self.fail(f'deployment "{self.name}" was deleted while waiting for its rollout') from None
        self.observe(deployment)

    def watch_once(self) -> None:
        remaining = self.deadline - self.clock()
        seconds = max(1, math.ceil(min(remaining, self.options.inspect_interval)))
        for event in self.api.watch_deployment(self.name, self.resource_version, seconds):
            self.interruptions = 0
            if event.type == "BOOKMARK":
                self.resource_version = _rv(event.object) or self.resource_version
                continue
            if event.type == "DELETED":
                raise self.fail(f'deployment "{self.name}" was deleted while waiting for its rollout')
            self.resource_version = _rv(event.object) or self.resource_version
            self.observe(event.object)
            self.inspect()
            if self.clock() >= self.deadline:
                return

    def step(self) -> None:
        """One watch, with recovery: resume on a dropped connection, list again on 410 Gone, retry a few
        times on cluster errors."""
        try:
            if self.must_relist:
                self.relist()
                self.must_relist = False
            self.watch_once()
            self.errors = 0
        except WatchInterrupted:
            self.errors = 0
            self.interruptions += 1
            if self.interruptions > 1:  # a server that drops every watch at once: do not spin
                self.sleep(min(1.0, 0.1 * (self.interruptions - 1)))
        except WatchExpired:
            self.must_relist = True
        except ClusterError:
            self.errors += 1
            if self.errors >= MAX_CONSECUTIVE_ERRORS:
                raise
            self.must_relist = True  # the server may have lost our resourceVersion meanwhile
            self.sleep(self.options.retry_delay)

    def timed_out(self) -> _Finished:
        last = f" (last status: {self.last_message})" if self.last_message else ""
        return self.fail(f'deployment "{self.name}" did not finish rolling out within {self.options.timeout:g}s{last}')

    def run(self, deployment: Obj, resource_version: str) -> RolloutResult:
        self.deadline = self.clock() + self.options.timeout
        self.resource_version = resource_version
        try:
            self.observe(deployment)
            self.inspect()
            while self.clock() < self.deadline:
                if self.options.stopped():
                    raise self.fail(f'stopped waiting for deployment "{self.name}": its rollout goes on in the cluster')
                self.step()
                self.inspect()
            raise self.timed_out()
        except _Finished as finished:
            return finished.result


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def deadline_warning(deployment: Obj, timeout: float) -> str:
    """A note when the wait outlasts the Deployment's progressDeadlineSeconds (the cluster gives up first)."""
    deadline = (deployment.get("spec") or {}).get("progressDeadlineSeconds")
    if deadline is None or timeout <= float(deadline):
        return ""
    name = (deployment.get("metadata") or {}).get("name", "")
    return (
        f'warning: the timeout ({timeout:g}s) is longer than deployment "{name}"\'s progressDeadlineSeconds '
        f"({deadline}s): the cluster will declare the rollout failed first"
    )


def wait_for_rollout(
    api: RolloutApi,
    name: str,
    options: WaitOptions = WaitOptions(),
    on_message: Sink = _ignore,
    on_warning: Sink = _ignore,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RolloutResult:
    """Wait until the Deployment's rollout is done (kubectl's verdict), has failed (progress deadline,
    a failing pod of the new ReplicaSet, deletion) or `options.timeout` passed.

    `on_message` gets kubectl's progress messages, each once when it changes (the success message is the
    last one); `on_warning` gets notes such as a timeout longer than the progress deadline. A missing
    Deployment raises DeploymentNotFound; an unreachable cluster raises ClusterError."""
    waiter = _Waiter(api, name, options, on_message, on_warning, clock, sleep)
    deployment, resource_version = api.list_deployment(name)
    warning = deadline_warning(deployment, options.timeout)
    if warning:
        on_warning(warning)
    return waiter.run(deployment, resource_version)
