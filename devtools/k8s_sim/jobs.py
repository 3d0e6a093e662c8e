"""The Job controller (pkg/controller/job/job_controller.go, as in Kubernetes 1.32) and the TTL-after-finished
controller, one sync per tick.

Pods are created by parallelism and completions (NonIndexed), named `<job>-<5 characters>`, carrying the
batch.kubernetes.io/job-tracking finalizer until the controller has counted them into status.succeeded or
status.failed (a pod deleted before it succeeded counts as failed). A failed pod is replaced after a
back-off that doubles with each failure since the last success (BACKOFF_BASE here, 10 s in a real
cluster). The Job fails when status.failed exceeds backoffLimit (backoffLimit 0: the first failure), or a
restartPolicy OnFailure Job's restarts reach it (BackoffLimitExceeded, "Job has reached the specified
backoff limit"), or once it has been active activeDeadlineSeconds (DeadlineExceeded, "Job was active
longer than specified deadline"); it succeeds when `completions` pods have succeeded (CompletionsReached,
"Reached expected number of succeeded pods"). As since 1.31 the interim condition (FailureTarget or
SuccessCriteriaMet) comes first, its active pods are deleted, and the terminal one (Failed, or Complete
with status.completionTime) follows once no pod is terminating. status.ready and status.terminating are
always reported, as with the JobReadyPods and JobPodReplacementPolicy features on.

ttlSecondsAfterFinished: that long after the terminal condition the Job is deleted with its pods
(the TTL controller's foreground deletion)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devtools.k8s_sim.defaults import JOB_TRACKING_FINALIZER
from devtools.k8s_sim.kubelet import pod_ready
from devtools.k8s_sim.store import Obj, now_iso

if TYPE_CHECKING:
    from devtools.k8s_sim.cluster import Cluster

BACKOFF_BASE = 1.0  # seconds before the first replacement of a failed pod (10 s in a real cluster)
BACKOFF_MAX = 360.0
BACKOFF_LIMIT = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")
COMPLETIONS = ("CompletionsReached", "Reached expected number of succeeded pods")


@dataclass
class JobRuntime:
    """What the controller remembers of one Job between syncs (its pod failure back-off record)."""

    failures: int = 0  # failed pods since the last success
    last_failure: float = 0.0  # when the last of them was counted (monotonic)
    started: float = 0.0  # when the Job was first synced (monotonic)
    finished: float = 0.0  # when the terminal condition was added (monotonic)


def condition(job: Obj, type_: str) -> Obj | None:
    return next((c for c in job.get("status", {}).get("conditions", []) if c.get("type") == type_), None)


def finished(job: Obj) -> bool:
    """util.IsJobFinished: a Complete or Failed condition that is True."""
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in job.get("status", {}).get("conditions", [])
    )


def new_condition(type_: str, reason: str, message: str) -> Obj:
    stamp = now_iso()
    return {
        "type": type_,
        "status": "True",
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def terminal(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


class JobController:
    """Syncs every controlled Job of the cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.runtimes: dict[str, JobRuntime] = {}
        self.backoff_base = BACKOFF_BASE

    def reconcile(self, job: Obj) -> None:
        cluster, meta, spec = self.cluster, job["metadata"], job["spec"]
        namespace = meta["namespace"]
        runtime = self.runtimes.setdefault(meta["uid"], JobRuntime(started=time.monotonic()))
        if finished(job):
            self._ttl(job, runtime)
            return
        if meta.get("deletionTimestamp"):
            return
        now = time.monotonic()
        pods = [p for p in cluster.store.list("pods", namespace)[0] if cluster.owned_by(p, meta["uid"])]
        active_pods = [p for p in pods if not terminal(p) and not p["metadata"].get("deletionTimestamp")]
        terminating = sum(1 for p in pods if p["metadata"].get("deletionTimestamp") and not terminal(p))
        tracked = [p for p in pods if JOB_TRACKING_FINALIZER in (p["metadata"].get("finalizers") or [])]
        new_succeeded = [p for p in tracked if p.get("status", {}).get("phase") == "Succeeded"]
        new_failed = [
            p
            for p in tracked
            if p.get("status", {}).get("phase") == "Failed"
            or (p["metadata"].get("deletionTimestamp") and p.get("status", {}).get("phase") != "Succeeded")
        ]
        status = dict(job.get("status", {}))
        succeeded = int(status.get("succeeded", 0)) + len(new_succeeded)
        failed = int(status.get("failed", 0)) + len(new_failed)
        if new_succeeded:
            runtime.failures = 0
        if new_failed:
            runtime.failures += len(new_failed)
            runtime.last_failure = now
        suspended = bool(spec.get("suspend"))
        if not status.get("startTime") and not suspended:
            status["startTime"] = now_iso()
            runtime.started = now
        conditions = list(status.get("conditions", []))
        backoff_limit = int(spec.get("backoffLimit", 6))
        final: Obj | None = None  # the terminal condition to add once no pod is terminating
        interim: Obj | None = None
        target = condition(job, "FailureTarget")
        criteria = condition(job, "SuccessCriteriaMet")
        if criteria is not None:
            final = new_condition("Complete", criteria.get("reason", ""), criteria.get("message", ""))
        elif target is not None and target.get("status") == "True":
            final = new_condition("Failed", target.get("reason", ""), target.get("message", ""))
        elif failed > backoff_limit or self._past_backoff_on_failure(job, active_pods):
            interim = new_condition("FailureTarget", *BACKOFF_LIMIT)
        elif (
            spec.get("activeDeadlineSeconds") is not None
            and not suspended
            and now - runtime.started >= float(spec["activeDeadlineSeconds"])
        ):
            interim = new_condition("FailureTarget", *DEADLINE)
        ready = sum(1 for p in active_pods if pod_ready(p))
        active = len(active_pods)
        failing = interim is not None or (final is not None and final["type"] == "Failed")
        if failing:
            for pod in active_pods:
                cluster.terminate(pod)
                terminating += 1
                if pod_ready(pod):
                    ready -= 1
            active = 0
        elif final is None:
            active = self._manage(job, active_pods, succeeded, runtime, now)
            completions = spec.get("completions")
            complete = (succeeded > 0 if completions is None else succeeded >= int(completions)) and active == 0
            if complete:
                interim = new_condition("SuccessCriteriaMet", *COMPLETIONS)
        if interim is not None:
            conditions.append(interim)
            final = new_condition(
                "Failed" if interim["type"] == "FailureTarget" else "Complete", interim["reason"], interim["message"]
            )
        # remove the tracking finalizer from what was counted (and from every pod once the Job is finishing)
        releasing = tracked if final is not None else [*new_succeeded, *new_failed]
        counted_uids = {p["metadata"]["uid"] for p in [*new_succeeded, *new_failed]}
        for pod in releasing:
            if final is not None and pod["metadata"]["uid"] not in counted_uids:
                failed += 1  # an unfinished pod of a finishing Job counts as failed
            self._release(pod)
        if final is not None and terminating == 0:
            conditions.append(final)
            runtime.finished = now
            if final["type"] == "Complete":
                status["completionTime"] = final["lastTransitionTime"]
        status.update(conditions=conditions, ready=ready, terminating=terminating, uncountedTerminatedPods={})
        if not conditions:
            del status["conditions"]
        for key, value in (("active", active), ("succeeded", succeeded), ("failed", failed)):
            if value:
                status[key] = value
            else:
                status.pop(key, None)  # omitempty
        cluster.store.update("jobs", namespace, meta["name"], lambda j: j.__setitem__("status", status))

    def _past_backoff_on_failure(self, job: Obj, active_pods: list[Obj]) -> bool:
        """pastBackoffLimitOnFailure: a restartPolicy OnFailure Job's container restarts reach the limit."""
        if job["spec"]["template"]["spec"].get("restartPolicy") != "OnFailure":
            return False
        restarts = sum(
            int(s.get("restartCount", 0))
            for p in active_pods
            if p.get("status", {}).get("phase") in ("Running", "Pending")
            for s in [*p["status"].get("initContainerStatuses", []), *p["status"].get("containerStatuses", [])]
        )
        limit = int(job["spec"].get("backoffLimit", 6))
        return restarts > 0 if limit == 0 else restarts >= limit

    def _manage(self, job: Obj, active_pods: list[Obj], succeeded: int, runtime: JobRuntime, now: float) -> int:
        """manageJob: create or delete pods towards the wanted number of active ones; returns how many are
        active after it."""
        spec = job["spec"]
        active = len(active_pods)
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        if spec.get("suspend"):
            want = 0
        elif completions is None:
            want = active if succeeded > 0 else parallelism
        else:
            want = max(0, min(int(completions) - succeeded, parallelism))
        if active > want:
            for pod in active_pods[want:]:
                self.cluster.terminate(pod)
            return want
        if active < want:
            if runtime.failures:
                delay = min(BACKOFF_MAX, self.backoff_base * 2 ** (runtime.failures - 1))
                if now - runtime.last_failure < delay:
                    return active
            for _ in range(want - active):
                self._create_pod(job)
            return want
        return active

    def _create_pod(self, job: Obj) -> None:
        self.cluster.create_pod_from_template(
            job,
            "Job",
            job["spec"]["template"],
            generate_name=f"{job['metadata']['name']}-",
            finalizers=[JOB_TRACKING_FINALIZER],
        )

    def _release(self, pod: Obj) -> None:
        meta = pod["metadata"]

        def drop(p: Obj) -> None:
            kept = [f for f in p["metadata"].get("finalizers", []) if f != JOB_TRACKING_FINALIZER]
            if kept:
                p["metadata"]["finalizers"] = kept
            else:
                p["metadata"].pop("finalizers", None)

        self.cluster.store.update("pods", meta["namespace"], meta["name"], drop)

    def _ttl(self, job: Obj, runtime: JobRuntime) -> None:
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        if not runtime.finished:
            runtime.finished = time.monotonic()
        if time.monotonic() - runtime.finished >= float(ttl):
            meta = job["metadata"]
            self.cluster.delete_cascading("jobs", meta["namespace"], meta["name"], "Foreground")
            self.runtimes.pop(meta["uid"], None)
