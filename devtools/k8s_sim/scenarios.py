"""Scripted behaviours of the simulated deployment controller and kubelet, one per rollout situation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """How the cluster behaves for the pods of a new rollout (pods that existed before are healthy).

    Times are seconds after the pod was created (kubelet) or after the rollout started (controller)."""

    name: str
    replicas: int = 2
    progress_deadline: int = 600
    surge: int = 0  # 0: the new ReplicaSet scales to all replicas at once; n: n more than are available
    recreate: bool = False  # old ReplicaSets scale to zero at once (strategy Recreate)
    pull_delay: float = 0.2  # pod created -> image pulled (or the pull fails)
    ready_delay: float = 0.3  # container started -> Ready
    never_ready: bool = False  # readiness probe never passes
    crash: bool = False  # the container exits 1 shortly after it starts, then CrashLoopBackOff
    unschedulable: bool = False  # no node fits the pods
    observe_delay: float = 0.0  # the controller observes a new generation this late (stale observedGeneration)
    terminate_delay: float = 0.0  # old pods stay Terminating this long
    drop_watches_after: float = 0.0  # the server cuts every watch connection after this long
    compact_history: bool = False  # every write compacts the history: resuming a watch gets 410 Gone
    delete_after: float = 0.0  # the Deployment is deleted this long after its rollout started
    expect_success: bool = True
    pod_failure: bool = False  # Conveyor should fail early on the new pods
    nodes: int = 2  # simulated nodes, sim-node-1 .. sim-node-N (a DaemonSet runs a pod on each)
    job_backoff: float = 1.0  # a Job replaces a failed pod after this, doubled per failure (10 s in a cluster)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("success"),
        Scenario("slow-success", replicas=3, surge=1, pull_delay=0.5, ready_delay=1.0),
        Scenario("stale-observed-generation", observe_delay=2.0),
        Scenario("old-replicas-pending-termination", terminate_delay=2.5),
        Scenario("unavailable-replicas", recreate=True, ready_delay=3.0),
        Scenario("progress-deadline-exceeded", never_ready=True, progress_deadline=3, expect_success=False),
        Scenario("image-pull-failure", progress_deadline=20, expect_success=False, pod_failure=True),
        Scenario("crash-loop", crash=True, progress_deadline=20, expect_success=False, pod_failure=True),
        Scenario("unschedulable", unschedulable=True, progress_deadline=20, expect_success=False, pod_failure=True),
        Scenario("dropped-watches", replicas=3, surge=1, ready_delay=1.0, drop_watches_after=0.7),
        Scenario("gone-410", replicas=3, surge=1, ready_delay=1.0, drop_watches_after=0.7, compact_history=True),
        Scenario("deleted", never_ready=True, delete_after=2.0, expect_success=False),
    )
}
