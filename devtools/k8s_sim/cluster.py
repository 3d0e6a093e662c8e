"""A simulated deployment controller, ReplicaSet controller and kubelet working on the Store.

The kubelet "pulls" an image by asking the real test registry (HEAD /v2/<repo>/manifests/<ref>), so an
image that was never pushed fails with ErrImagePull, then ImagePullBackOff, as on a real node; a pulled
image's status carries containerd's imageID (<repository>@<the registry's digest>).

StatefulSets, DaemonSets, Jobs and CronJobs have no controller here: tests seed them (seed_object) to be
listed. A bare Pod seeded that way is run by the kubelet."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from conveyor.registry.manifests import ACCEPT as MANIFEST_TYPES
from devtools.k8s_sim.patch import label_match
from devtools.k8s_sim.scenarios import Scenario
from devtools.k8s_sim.store import Obj, Store, now_iso

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


def template_hash(template: Obj) -> str:
    clean = copy.deepcopy(template)
    clean.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    digest = hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[int(digest[i : i + 2], 16) % len(alphabet)] for i in range(0, 20, 2))


def without_hash(template: Obj) -> Obj:
    clean = copy.deepcopy(template)
    clean.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return clean


def selector_string(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


def owned_by(obj: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid and ref.get("controller") for ref in obj["metadata"].get("ownerReferences", []))


def repository(image: str) -> str:
    """The image's repository as containerd names it: no tag or digest, Docker Hub names in full."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    first = name.split("/", 1)[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + (name if "/" in name else f"library/{name}")
    return name


@dataclass(frozen=True)
class Pull:
    """The outcome of pulling one image: containerd's imageID, or its error message."""

    image_id: str = ""
    error: str = ""


def pull_image(image: str, registry: str | None) -> Pull:
    """Pull `image` from the test registry (a HEAD of its manifest; the imageID carries the digest the
    registry answered). Images elsewhere pull unless their tag says `missing`, with a fake digest."""
    fake = Pull(f"{repository(image)}@sha256:{hashlib.sha256(image.encode()).hexdigest()}")
    host, _, rest = image.partition("/")
    if registry is None or host != registry:
        return fake if ":missing" not in image else Pull(error=f'failed to resolve reference "{image}": not found')
    repo, ref = (rest.split("@", 1) if "@" in rest else rest.rsplit(":", 1)) if ":" in rest else (rest, "latest")
    try:
        answer = requests.head(
            f"http://{host}/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_TYPES}, timeout=5
        )
    except requests.RequestException as exc:
        return Pull(error=f'failed to do request: Head "http://{host}/v2/{repo}/manifests/{ref}": {exc}')
    if answer.status_code == 200:
        digest = answer.headers.get("Docker-Content-Digest")
        return Pull(f"{repository(image)}@{digest}") if digest else fake
    return Pull(
        error=f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {image}: not found'
    )


def pod_images(spec: Obj) -> list[str]:
    """Every image a pod spec needs, init containers first, each once."""
    containers = [*spec.get("initContainers", []), *spec.get("containers", [])]
    return list(dict.fromkeys(str(c["image"]) for c in containers))


def container(name: str, image: str) -> Obj:
    """A container as the API server stores it after defaulting."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "Always" if image.endswith(":latest") else "IfNotPresent",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def pod_spec(containers: Mapping[str, str], init: Mapping[str, str] | None = None) -> Obj:
    """A defaulted pod spec running `containers` (name -> image) after the `init` containers."""
    spec: Obj = {"containers": [container(name, image) for name, image in containers.items()]}
    if init:
        spec["initContainers"] = [container(name, image) for name, image in init.items()]
    spec.update(
        restartPolicy="Always",
        terminationGracePeriodSeconds=30,
        dnsPolicy="ClusterFirst",
        securityContext={},
        schedulerName="default-scheduler",
    )
    return spec


KINDS = {
    "statefulsets": ("apps/v1", "StatefulSet"),
    "daemonsets": ("apps/v1", "DaemonSet"),
    "jobs": ("batch/v1", "Job"),
    "cronjobs": ("batch/v1", "CronJob"),
    "pods": ("v1", "Pod"),
}


def workload(kind: str, namespace: str, name: str, spec: Obj) -> Obj:
    """A StatefulSet, DaemonSet, Job, CronJob or bare Pod (plural `kind`) running pod spec `spec`, in the
    shape the real API server stores after defaulting (a Job's selector names its own uid)."""
    labels = {"app": name}
    meta: Obj = {"name": name, "namespace": namespace, "labels": labels}
    template: Obj = {"metadata": {"labels": labels}, "spec": spec}
    batch = {**spec, "restartPolicy": "Never" if kind == "jobs" else "OnFailure"}  # Always is invalid for a Job
    body: Obj
    if kind == "statefulsets":
        body = {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": template,
            "serviceName": name,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        }
        status: Obj = {"replicas": 0, "availableReplicas": 0}
    elif kind == "daemonsets":
        body = {
            "selector": {"matchLabels": labels},
            "template": template,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "revisionHistoryLimit": 10,
        }
        status = {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}
    elif kind == "jobs":
        meta["uid"] = str(uuid.uuid4())
        meta["labels"] = labels = {
            "batch.kubernetes.io/controller-uid": meta["uid"],
            "batch.kubernetes.io/job-name": name,
            "controller-uid": meta["uid"],
            "job-name": name,
        }
        body = {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 6,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": meta["uid"]}},
            "template": {"metadata": {"labels": labels}, "spec": batch},
            "completionMode": "NonIndexed",
            "suspend": False,
            "podReplacementPolicy": "TerminatingOrFailed",
        }
        status = {}
    elif kind == "cronjobs":
        body = {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "jobTemplate": {"metadata": {}, "spec": {"template": {"metadata": {}, "spec": batch}}},
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
        }
        status = {}
    elif kind == "pods":
        meta["labels"] = {"run": name}
        body, status = copy.deepcopy(spec), {"phase": "Pending", "qosClass": "BestEffort"}
    else:
        raise ValueError(f"cannot seed {kind}: one of statefulsets, daemonsets, jobs, cronjobs, pods")
    gv, kind_name = KINDS[kind]
    return {"apiVersion": gv, "kind": kind_name, "metadata": meta, "spec": body, "status": status}


def _open_gate() -> threading.Event:
    gate = threading.Event()
    gate.set()
    return gate


@dataclass
class PodRuntime:
    """What the kubelet knows of one pod (kept beside the API object)."""

    created: float
    phase: str = "pulling"  # pulling | backoff | starting | running | crashed | ready
    since: float = 0.0
    restarts: int = 0
    pull_error: str = ""
    failed_image: str = ""  # the image whose pull failed
    image_ids: dict[str, str] = field(default_factory=dict)  # image -> containerd's imageID, once pulled


@dataclass
class DeploymentRuntime:
    generation_seen: int = 0
    generation_time: float = 0.0
    rollout_start: float = 0.0
    last_progress: float = 0.0
    progress_key: tuple[int, ...] = ()
    completed_at: dict[int, float] = field(default_factory=dict)


@dataclass
class Cluster:
    store: Store
    scenario: Scenario
    registry: str | None = None  # host:port of the test registry the kubelet pulls from
    tick: float = 0.05
    ready_gate: threading.Event = field(default_factory=_open_gate)  # cleared: no pod becomes Ready
    crash_images: set[str] = field(default_factory=set)  # a bad release: containers of these images crash
    pods: dict[str, PodRuntime] = field(default_factory=dict)
    deployments: dict[str, DeploymentRuntime] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="k8s-sim-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception as exc:  # keep the simulator alive; the test sees the symptom
                print(f"k8s-sim controller error: {exc!r}")
            self._stop.wait(self.tick)

    # -- seeding -------------------------------------------------------------------------------------
    def seed_deployment(
        self, namespace: str, name: str, image: str, container: str = "app", revision_history_limit: int = 10
    ) -> Obj:
        """A Deployment that has already rolled out revision 1 with `image`: its ReplicaSet and ready pods."""
        labels = {"app": name}
        deployment: Obj = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": {REVISION: "1"}},
            "spec": {
                "replicas": self.scenario.replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec({container: image})},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": revision_history_limit,
                "progressDeadlineSeconds": self.scenario.progress_deadline,
            },
            "status": {},
        }
        created = self.store.create("deployments", deployment)
        uid = created["metadata"]["uid"]
        now = time.monotonic()
        self.deployments[uid] = DeploymentRuntime(generation_seen=1, generation_time=now, rollout_start=now)
        rs = self._create_replicaset(created, 1)
        image_ids = {image: pull_image(image, self.registry).image_id}
        for _ in range(self.scenario.replicas):
            pod = self._create_pod(rs)
            self.pods[pod["metadata"]["uid"]] = PodRuntime(created=now, phase="ready", since=now, image_ids=image_ids)
        self.reconcile()
        return created

    def seed_object(self, kind: str, namespace: str, name: str, spec: Obj) -> Obj:
        """Create a StatefulSet, DaemonSet, Job, CronJob or bare Pod (plural `kind`) whose pods run `spec`
        (see pod_spec()). Nothing controls them; the kubelet runs a bare Pod."""
        return self.store.create(kind, workload(kind, namespace, name, spec))

    # -- controller ----------------------------------------------------------------------------------
    def reconcile(self) -> None:
        for deployment in self.store.list("deployments")[0]:
            self._reconcile_deployment(deployment)
        for pod in self.store.list("pods")[0]:
            self._kubelet(pod)
        self._collect_orphans()

    def _runtime(self, deployment: Obj) -> DeploymentRuntime:
        meta = deployment["metadata"]
        runtime = self.deployments.setdefault(meta["uid"], DeploymentRuntime())
        generation = int(meta.get("generation", 1))
        if generation != runtime.generation_seen:
            runtime.generation_seen = generation
            runtime.generation_time = time.monotonic()
        return runtime

    def _reconcile_deployment(self, deployment: Obj) -> None:
        meta = deployment["metadata"]
        runtime = self._runtime(deployment)
        generation = int(meta.get("generation", 1))
        observed = int(deployment.get("status", {}).get("observedGeneration", 0))
        now = time.monotonic()
        if generation > observed and now - runtime.generation_time < self.scenario.observe_delay:
            return
        deleting = self.scenario.delete_after and runtime.rollout_start and generation > 1
        if deleting and now - runtime.rollout_start >= self.scenario.delete_after:
            self.store.delete("deployments", meta["namespace"], meta["name"])
            return
        replicasets = [rs for rs in self.store.list("replicasets", meta["namespace"])[0] if owned_by(rs, meta["uid"])]
        new_rs = self._new_replicaset(deployment, replicasets, runtime)
        olds = [rs for rs in replicasets if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        self._scale(deployment, new_rs, olds)
        self._update_status(deployment, runtime)
        self._cleanup(deployment, new_rs)

    def _cleanup(self, deployment: Obj, new_rs: Obj) -> None:
        """The deployment controller's cleanupDeployment once a rollout is complete: of the old ReplicaSets
        beyond spec.revisionHistoryLimit, oldest revision first, delete those scaled down to nothing."""
        meta = deployment["metadata"]
        current = self.store.get("deployments", meta["namespace"], meta["name"])
        if current is None or not _complete(current):
            return
        olds = [
            rs
            for rs in self.store.list("replicasets", meta["namespace"])[0]
            if owned_by(rs, meta["uid"])
            and rs["metadata"]["uid"] != new_rs["metadata"]["uid"]
            and not rs["metadata"].get("deletionTimestamp")
        ]
        olds.sort(key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, "0")))
        for rs in olds[: max(0, len(olds) - int(current["spec"].get("revisionHistoryLimit", 10)))]:
            busy = int(rs["status"].get("replicas", 0)) or int(rs["spec"].get("replicas", 0))
            stale = int(rs["metadata"].get("generation", 1)) > int(rs["status"].get("observedGeneration", 0))
            if not busy and not stale:
                self.store.delete("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _new_replicaset(self, deployment: Obj, replicasets: list[Obj], runtime: DeploymentRuntime) -> Obj:
        template = without_hash(deployment["spec"]["template"])
        revisions = [int(rs["metadata"].get("annotations", {}).get(REVISION, "0")) for rs in replicasets]
        latest = max(revisions, default=0)
        match = next((rs for rs in replicasets if without_hash(rs["spec"]["template"]) == template), None)
        if match is None:
            match = self._create_replicaset(deployment, latest + 1, replicas=0)
            runtime.rollout_start = time.monotonic()
            runtime.last_progress = runtime.rollout_start
        elif int(match["metadata"].get("annotations", {}).get(REVISION, "0")) < latest:
            revision = str(latest + 1)  # a rollback: the old ReplicaSet becomes the newest revision
            match = (
                self.store.update(
                    "replicasets",
                    match["metadata"]["namespace"],
                    match["metadata"]["name"],
                    lambda rs: rs["metadata"]["annotations"].__setitem__(REVISION, revision),
                )
                or match
            )
            runtime.rollout_start = time.monotonic()
            runtime.last_progress = runtime.rollout_start
        revision = match["metadata"]["annotations"][REVISION]
        meta = deployment["metadata"]
        if meta.get("annotations", {}).get(REVISION) != revision:
            self.store.update(
                "deployments",
                meta["namespace"],
                meta["name"],
                lambda d: d["metadata"].setdefault("annotations", {}).__setitem__(REVISION, revision),
            )
        return match

    def _create_replicaset(self, deployment: Obj, revision: int, replicas: int | None = None) -> Obj:
        meta = deployment["metadata"]
        template = copy.deepcopy(deployment["spec"]["template"])
        pod_hash = template_hash(template)
        template["metadata"].setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(deployment["spec"]["selector"])
        selector["matchLabels"][HASH_LABEL] = pod_hash
        annotations = {k: v for k, v in meta.get("annotations", {}).items() if k != REVISION}
        annotations[REVISION] = str(revision)
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "namespace": meta["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": deployment["spec"]["replicas"] if replicas is None else replicas,
                "selector": selector,
                "template": template,
            },
            "status": {"replicas": 0, "observedGeneration": 1},
        }
        return self.store.create("replicasets", rs)

    def _pods_of(self, rs: Obj) -> list[Obj]:
        meta = rs["metadata"]
        return [p for p in self.store.list("pods", meta["namespace"])[0] if owned_by(p, meta["uid"])]

    def _available(self, rs: Obj) -> int:
        return sum(1 for p in self._pods_of(rs) if _pod_ready(p) and not p["metadata"].get("deletionTimestamp"))

    def _scale(self, deployment: Obj, new_rs: Obj, olds: list[Obj]) -> None:
        desired = int(deployment["spec"].get("replicas", 1))
        new_available = self._available(new_rs)
        surge = self.scenario.surge
        target = desired if surge == 0 else min(desired, new_available + surge)
        self._set_replicas(new_rs, target)
        remaining = 0 if self.scenario.recreate else max(0, desired - new_available)
        for rs in sorted(olds, key=lambda r: r["metadata"]["creationTimestamp"], reverse=True):
            keep = min(int(rs["spec"].get("replicas", 0)), remaining)
            remaining -= keep
            self._set_replicas(rs, keep)
        for rs in [new_rs, *olds]:
            self._sync_pods(rs)

    def _set_replicas(self, rs: Obj, replicas: int) -> None:
        if int(rs["spec"].get("replicas", 0)) != replicas:
            meta = rs["metadata"]
            self.store.update(
                "replicasets", meta["namespace"], meta["name"], lambda r: r["spec"].update(replicas=replicas)
            )
            rs["spec"]["replicas"] = replicas

    def _sync_pods(self, rs: Obj) -> None:
        meta = rs["metadata"]
        current = self.store.get("replicasets", meta["namespace"], meta["name"]) or rs
        pods = self._pods_of(current)
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        want = int(current["spec"].get("replicas", 0))
        for _ in range(want - len(live)):
            self._create_pod(current)
        for pod in live[want:] if want < len(live) else []:
            self._terminate(pod)
        now = time.monotonic()
        for pod in pods:
            runtime = self.pods.get(pod["metadata"]["uid"])
            if (
                pod["metadata"].get("deletionTimestamp")
                and runtime
                and now - runtime.since >= self.scenario.terminate_delay
            ):
                self.store.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
                self.pods.pop(pod["metadata"]["uid"], None)
        pods = self._pods_of(current)
        ready = sum(1 for p in pods if _pod_ready(p) and not p["metadata"].get("deletionTimestamp"))
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": int(current["metadata"].get("generation", 1)),
        }
        self.store.update("replicasets", meta["namespace"], meta["name"], lambda r: r.__setitem__("status", status))

    def _terminate(self, pod: Obj) -> None:
        meta = pod["metadata"]
        runtime = self.pods.setdefault(meta["uid"], PodRuntime(created=time.monotonic()))
        runtime.since = time.monotonic()
        self.store.update(
            "pods",
            meta["namespace"],
            meta["name"],
            lambda p: p["metadata"].update(deletionTimestamp=now_iso(), deletionGracePeriodSeconds=30),
        )

    def _create_pod(self, rs: Obj) -> Obj:
        meta = rs["metadata"]
        template = copy.deepcopy(rs["spec"]["template"])
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{meta['name']}-{uuid.uuid4().hex[:5]}",
                "namespace": meta["namespace"],
                "labels": template["metadata"].get("labels", {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template["spec"],
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        created = self.store.create("pods", pod)
        self.pods.setdefault(created["metadata"]["uid"], PodRuntime(created=time.monotonic(), since=time.monotonic()))
        return created

    def _update_status(self, deployment: Obj, runtime: DeploymentRuntime) -> None:
        meta = deployment["metadata"]
        current = self.store.get("deployments", meta["namespace"], meta["name"])
        if current is None:
            return
        replicasets = [rs for rs in self.store.list("replicasets", meta["namespace"])[0] if owned_by(rs, meta["uid"])]
        template = without_hash(current["spec"]["template"])
        new_rs = next((rs for rs in replicasets if without_hash(rs["spec"]["template"]) == template), None)
        desired = int(current["spec"].get("replicas", 1))
        total = sum(int(rs["status"].get("replicas", 0)) for rs in replicasets)
        updated = int(new_rs["status"].get("replicas", 0)) if new_rs else 0
        available = sum(int(rs["status"].get("availableReplicas", 0)) for rs in replicasets)
        ready = sum(int(rs["status"].get("readyReplicas", 0)) for rs in replicasets)
        now = time.monotonic()
        key = (total, updated, available, ready, int(current["metadata"].get("generation", 1)))
        if key != runtime.progress_key:
            runtime.progress_key = key
            runtime.last_progress = now
        complete = updated == desired and total == updated and available == updated
        old_conditions = {c["type"]: c for c in current.get("status", {}).get("conditions", [])}
        progressing = old_conditions.get("Progressing", {})
        rs_name = new_rs["metadata"]["name"] if new_rs else meta["name"]
        if complete:
            reason, status, message = (
                "NewReplicaSetAvailable",
                "True",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            )
            runtime.completed_at.setdefault(key[-1], time.time())
        elif progressing.get("reason") == "ProgressDeadlineExceeded" or (
            now - runtime.last_progress > int(current["spec"].get("progressDeadlineSeconds", 600))
        ):
            reason, status, message = (
                "ProgressDeadlineExceeded",
                "False",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
            )
        else:
            reason, status, message = "ReplicaSetUpdated", "True", f'ReplicaSet "{rs_name}" is progressing.'
        conditions = [
            _condition(
                "Available",
                "True" if available >= desired else "False",
                "MinimumReplicasAvailable" if available >= desired else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available >= desired
                else "Deployment does not have minimum availability.",
                old_conditions.get("Available"),
            ),
            _condition("Progressing", status, reason, message, progressing or None),
        ]
        status_obj: dict[str, Any] = {
            "observedGeneration": int(current["metadata"].get("generation", 1)),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": conditions,
        }
        if desired - available > 0:
            status_obj["unavailableReplicas"] = desired - available
        for zero in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if status_obj[zero] == 0:
                del status_obj[zero]  # the real API omits zero counts (omitempty)
        self.store.update("deployments", meta["namespace"], meta["name"], lambda d: d.__setitem__("status", status_obj))

    def _collect_orphans(self) -> None:
        """Garbage collection: ReplicaSets and pods whose owners are all gone are deleted (objects without
        owners, like a bare Pod, stay)."""
        for kind, owner_kind in (("replicasets", "deployments"), ("pods", "replicasets")):
            live = {o["metadata"]["uid"] for o in self.store.list(owner_kind)[0]}
            for obj in self.store.list(kind)[0]:
                refs = obj["metadata"].get("ownerReferences", [])
                if refs and not any(ref["uid"] in live for ref in refs):
                    self.store.delete(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])

    # -- kubelet -------------------------------------------------------------------------------------
    def _kubelet(self, pod: Obj) -> None:
        meta = pod["metadata"]
        runtime = self.pods.setdefault(meta["uid"], PodRuntime(created=time.monotonic(), since=time.monotonic()))
        if meta.get("deletionTimestamp"):
            return
        now = time.monotonic()
        container = pod["spec"]["containers"][0]
        crash = self.scenario.crash or container["image"] in self.crash_images
        if self.scenario.unschedulable and runtime.phase != "ready":
            self._set_pod_status(pod, _unschedulable_status())
            return
        if (runtime.phase == "pulling" and now - runtime.since >= self.scenario.pull_delay) or (
            runtime.phase == "backoff" and now - runtime.since >= 3.0
        ):
            pulls = {image: pull_image(image, self.registry) for image in pod_images(pod["spec"])}
            failed, error = next(((image, p.error) for image, p in pulls.items() if p.error), ("", ""))
            if error:
                if runtime.phase == "pulling" or runtime.pull_error != error:
                    self._event(pod, "Warning", "Failed", f'Failed to pull image "{failed}": {error}')
                    self._event(pod, "Warning", "Failed", "Error: ErrImagePull")
                runtime.phase, runtime.since, runtime.pull_error, runtime.failed_image = "backoff", now, error, failed
            else:
                for image in pulls:
                    self._event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine')
                runtime.image_ids = {image: p.image_id for image, p in pulls.items()}
                runtime.phase, runtime.since = "running", now
        elif runtime.phase == "running" and crash and now - runtime.since >= 0.3:
            runtime.phase, runtime.since, runtime.restarts = "crashed", now, runtime.restarts + 1
            self._event(
                pod,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {container['name']} in pod "
                f"{meta['name']}_{meta['namespace']}({meta['uid']})",
            )
        elif runtime.phase == "crashed" and now - runtime.since >= 1.0:
            runtime.phase, runtime.since = "running", now
        elif (
            runtime.phase == "running"
            and not crash
            and not self.scenario.never_ready
            and now - runtime.since >= self.scenario.ready_delay
            and self.ready_gate.is_set()
        ):
            runtime.phase, runtime.since = "ready", now
        self._set_pod_status(pod, _pod_status(pod, runtime, now))

    def _set_pod_status(self, pod: Obj, status: Obj) -> None:
        meta = pod["metadata"]
        self.store.update("pods", meta["namespace"], meta["name"], lambda p: p.__setitem__("status", status))

    def _event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        meta = pod["metadata"]
        stamp = now_iso()
        self.store.create(
            "events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"]},
                "involvedObject": {
                    "kind": "Pod",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "apiVersion": "v1",
                },
                "reason": reason,
                "message": message,
                "type": type_,
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "source": {"component": "kubelet", "host": "sim-node"},
            },
        )

    # -- queries for tests and benchmarks --------------------------------------------------------------
    def completed_at(self, namespace: str, name: str, generation: int) -> float | None:
        deployment = self.store.get("deployments", namespace, name)
        if deployment is None:
            return None
        return self.deployments.get(deployment["metadata"]["uid"], DeploymentRuntime()).completed_at.get(generation)

    def selector_pods(self, namespace: str, selector: str) -> list[Obj]:
        return [p for p in self.store.list("pods", namespace)[0] if label_match(selector, p["metadata"]["labels"])]


def _complete(deployment: Obj) -> bool:
    """deploymentutil.DeploymentComplete: every replica updated and available, the generation observed."""
    status, desired = deployment.get("status", {}), int(deployment["spec"].get("replicas", 1))
    counts = (status.get(key, 0) for key in ("updatedReplicas", "replicas", "availableReplicas"))
    observed = int(status.get("observedGeneration", 0)) >= int(deployment["metadata"].get("generation", 1))
    return observed and all(int(count) == desired for count in counts)


def _pod_ready(pod: Obj) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def _condition(type_: str, status: str, reason: str, message: str, old: Obj | None) -> Obj:
    stamp = now_iso()
    same = old is not None and old.get("status") == status and old.get("reason") == reason
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": old["lastUpdateTime"] if same and old else stamp,
        "lastTransitionTime": old["lastTransitionTime"] if old and old.get("status") == status else stamp,
        "reason": reason,
        "message": message,
    }


def _unschedulable_status() -> Obj:
    return {
        "phase": "Pending",
        "qosClass": "BestEffort",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "lastProbeTime": None,
                "message": "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                "1 No preemption victims found for incoming pod.",
            }
        ],
    }


def _pod_status(pod: Obj, runtime: PodRuntime, now: float) -> Obj:
    container = pod["spec"]["containers"][0]
    ready = runtime.phase == "ready"
    state: Obj
    last_state: Obj = {}
    if runtime.phase == "pulling":
        state = {"waiting": {"reason": "ContainerCreating"}}
    elif runtime.phase == "backoff":
        if now - runtime.since < 1.0:
            state = {"waiting": {"reason": "ErrImagePull", "message": runtime.pull_error}}
        else:
            failed = runtime.failed_image or container["image"]
            state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{failed}"'}}
    elif runtime.phase == "crashed":
        stamp = pod["metadata"]["creationTimestamp"]
        terminated = {"exitCode": 1, "reason": "Error", "startedAt": stamp, "finishedAt": stamp}
        if now - runtime.since < 0.3:
            state = {"terminated": terminated}
        else:
            state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 10s restarting failed "
                    f"container={container['name']} pod={pod['metadata']['name']}"
                    f"_{pod['metadata']['namespace']}({pod['metadata']['uid']})",
                }
            }
            last_state = {"terminated": terminated}
    else:
        state = {"running": {"startedAt": pod["metadata"]["creationTimestamp"]}}
    started = "running" in state
    conditions: list[Obj] = [
        {"type": "PodReadyToStartContainers", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": "True" if ready else "False"},
        {"type": "ContainersReady", "status": "True" if ready else "False"},
        {"type": "PodScheduled", "status": "True"},
    ]
    for condition in conditions:
        condition["lastProbeTime"] = None
        if condition["status"] == "False":
            condition["reason"] = "ContainersNotReady"
    status: Obj = {
        "phase": "Running" if started or runtime.restarts else "Pending",
        "conditions": conditions,
        "hostIP": "10.0.0.1",
        "podIP": "10.244.0.10" if started else None,
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": runtime.image_ids.get(c["image"], ""),
                "ready": ready,
                "started": started,
                "restartCount": runtime.restarts,
                "state": state,
                "lastState": last_state,
            }
            for c in pod["spec"]["containers"]
        ],
    }
    if pod["spec"].get("initContainers"):  # not run: completed once every image is pulled
        stamp = pod["metadata"]["creationTimestamp"]
        done = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": stamp, "finishedAt": stamp}}
        status["initContainerStatuses"] = [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": runtime.image_ids.get(c["image"], ""),
                "ready": bool(runtime.image_ids),
                "started": False,
                "restartCount": 0,
                "state": done if runtime.image_ids else {"waiting": {"reason": "PodInitializing"}},
                "lastState": {},
            }
            for c in pod["spec"]["initContainers"]
        ]
    return status
