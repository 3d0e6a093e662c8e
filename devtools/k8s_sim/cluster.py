"""The simulated cluster's control plane working on the Store: the deployment and ReplicaSet controllers
(here), the StatefulSet, DaemonSet and Job controllers (statefulsets.py, daemonsets.py, jobs.py), the
garbage collector, and the kubelet (kubelet.py) that runs every pod on the simulated nodes.

Objects created through the API (POST) or Cluster.create are controlled. Objects a test seeds with
seed_object are only stored, as before this simulator had those controllers: nothing creates pods for a
seeded StatefulSet, DaemonSet or Job (a seeded bare Pod is run by the kubelet)."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from devtools.k8s_sim.daemonsets import DaemonSetController
from devtools.k8s_sim.defaults import KINDS, container, pod_spec, prepare_create, workload
from devtools.k8s_sim.jobs import JobController
from devtools.k8s_sim.kubelet import (
    Kubelet,
    PodRuntime,
    Pull,
    event_object,
    pod_images,
    pod_ready,
    pull_image,
    repository,
)
from devtools.k8s_sim.patch import label_match
from devtools.k8s_sim.scenarios import Scenario
from devtools.k8s_sim.statefulsets import StatefulSetController
from devtools.k8s_sim.store import Obj, Store, now_iso

__all__ = [
    "HASH_LABEL",
    "KINDS",
    "REVISION",
    "Cluster",
    "DeploymentRuntime",
    "PodRuntime",
    "Pull",
    "container",
    "owned_by",
    "pod_images",
    "pod_spec",
    "pull_image",
    "repository",
    "selector_string",
    "template_hash",
    "without_hash",
    "workload",
]

OWNER_KINDS = ("deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs")
DEPENDENT_KINDS = ("replicasets", "pods", "controllerrevisions", "jobs")
FOREGROUND = "foregroundDeletion"
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the API server's generateName appends (5 of them)


def generated_name(prefix: str) -> str:
    """names.SimpleNameGenerator: the prefix (cut to 58 characters) and 5 random characters."""
    return prefix[:58] + "".join(random.choice(NAME_ALPHABET) for _ in range(5))


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


def _open_gate() -> threading.Event:
    gate = threading.Event()
    gate.set()
    return gate


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
    """The control plane and the nodes' kubelets of one simulated cluster."""

    store: Store
    scenario: Scenario
    registry: str | None = None  # host:port of the test registry the kubelet pulls from
    tick: float = 0.05
    ready_gate: threading.Event = field(default_factory=_open_gate)  # cleared: no pod becomes Ready
    crash_images: set[str] = field(default_factory=set)  # a bad release: containers of these images crash
    pods: dict[str, PodRuntime] = field(default_factory=dict)
    deployments: dict[str, DeploymentRuntime] = field(default_factory=dict)
    inert: set[str] = field(default_factory=set)  # uids of seeded objects no controller acts on
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.kubelet = Kubelet(self)
        self.statefulset_controller = StatefulSetController(self)
        self.daemonset_controller = DaemonSetController(self)
        self.job_controller = JobController(self)
        self.job_controller.backoff_base = self.scenario.job_backoff

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
        """Store a StatefulSet, DaemonSet, Job, CronJob or bare Pod (plural `kind`) whose pods run `spec`
        (see pod_spec()). No controller acts on it (the kubelet runs a bare Pod): use create() for a
        workload that runs."""
        created = self.store.create(kind, workload(kind, namespace, name, spec))
        if kind != "pods":
            self.inert.add(created["metadata"]["uid"])
        return created

    def create(self, kind: str, obj: Obj) -> Obj:
        """Create `obj` (plural `kind`) as a POST does: defaulted (defaults.prepare_create), then stored and
        controlled. Raises defaults.Invalid, or FileExistsError when the name is taken."""
        from devtools.k8s_sim.server import RESOURCES  # the kinds' groups live with the API

        gv, kind_name = RESOURCES[kind][0], RESOURCES[kind][1]
        group = gv.split("/")[0] if "/" in gv else ""
        body = copy.deepcopy(obj)
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generated_name(str(meta["generateName"]))
        body = prepare_create(kind, kind_name, group, body)
        body["apiVersion"], body["kind"] = gv, kind_name
        created = self.store.add(kind, body)
        if created is None:
            raise FileExistsError(meta["name"])
        return created

    def run_object(self, kind: str, namespace: str, name: str, spec: Obj, **fields: object) -> Obj:
        """Like seed_object, but controlled: a StatefulSet, DaemonSet, Job or bare Pod running `spec`,
        with top-level spec `fields` (replicas=3, backoffLimit=0, ...) set over the defaults."""
        obj = workload(kind, namespace, name, spec)
        obj["metadata"].pop("uid", None)
        if kind == "jobs":
            obj["metadata"].pop("labels", None)
            obj["spec"].pop("selector", None)
            obj["spec"]["template"]["metadata"] = {}
        obj["spec"].update(fields)
        return self.create(kind, obj)

    # -- controller ----------------------------------------------------------------------------------
    def reconcile(self) -> None:
        with self._lock:
            for deployment in self.store.list("deployments")[0]:
                self._reconcile_deployment(deployment)
            for kind, sync in (
                ("statefulsets", self.statefulset_controller.reconcile),
                ("daemonsets", self.daemonset_controller.reconcile),
                ("jobs", self.job_controller.reconcile),
            ):
                for obj in self.store.list(kind)[0]:
                    if obj["metadata"]["uid"] not in self.inert:
                        sync(obj)
            for pod in self.store.list("pods")[0]:
                self.kubelet.sync(pod)
            self._collect_orphans()

    # -- shared by the controllers ---------------------------------------------------------------------
    @staticmethod
    def owned_by(obj: Obj, uid: str) -> bool:
        return owned_by(obj, uid)

    def available(self, pod: Obj, min_ready_seconds: int) -> bool:
        """podutil.IsPodAvailable: Ready for at least minReadySeconds."""
        if not pod_ready(pod):
            return False
        if min_ready_seconds <= 0:
            return True
        runtime = self.pods.get(pod["metadata"]["uid"])
        return runtime is not None and time.monotonic() - runtime.since >= min_ready_seconds

    def terminate(self, pod: Obj) -> None:
        """A graceful pod deletion: deletionTimestamp now, gone once the kubelet has stopped it."""
        if not pod["metadata"].get("deletionTimestamp"):
            self._terminate(pod)

    def node_names(self) -> list[str]:
        return [n["metadata"]["name"] for n in self.store.list("nodes")[0]]

    def create_pod_from_template(
        self,
        owner: Obj,
        owner_kind: str,
        template: Obj,
        name: str | None = None,
        generate_name: str | None = None,
        labels: dict[str, str] | None = None,
        spec_extra: Obj | None = None,
        finalizers: list[str] | None = None,
        node_index: int | None = None,
    ) -> Obj:
        """controller.GetPodFromTemplate plus the scheduler's binding: a pod of `owner` (a `owner_kind`)
        from `template`, bound to a node (spec.nodeName) unless `spec_extra` names one."""
        meta = owner["metadata"]
        template = copy.deepcopy(template)
        pod_meta: Obj = {
            "namespace": meta["namespace"],
            "labels": {**(template.get("metadata", {}).get("labels") or {}), **(labels or {})},
            "ownerReferences": [
                {
                    "apiVersion": owner.get("apiVersion", "apps/v1"),
                    "kind": owner_kind,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if template.get("metadata", {}).get("annotations"):
            pod_meta["annotations"] = dict(template["metadata"]["annotations"])
        if generate_name:
            pod_meta["generateName"] = generate_name
        pod_meta["name"] = name or generated_name(generate_name or f"{meta['name']}-")
        if finalizers:
            pod_meta["finalizers"] = list(finalizers)
        spec = {**template.get("spec", {}), **(spec_extra or {})}
        nodes = self.node_names()
        if "nodeName" not in spec and nodes:
            index = node_index if node_index is not None else random.randrange(len(nodes))
            spec["nodeName"] = nodes[index % len(nodes)]
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": pod_meta,
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        created = self.store.create("pods", pod)
        now = time.monotonic()
        self.pods.setdefault(created["metadata"]["uid"], PodRuntime(created=now, since=now))
        return created

    def delete_cascading(self, kind: str, namespace: str, name: str, policy: str) -> Obj | None:
        """DELETE with a propagationPolicy: Orphan takes the owner's references off its dependents first,
        Foreground marks the owner (deletionTimestamp, the foregroundDeletion finalizer) until the garbage
        collector has deleted its dependents, Background deletes it now and its dependents after."""
        obj = self.store.get(kind, namespace, name)
        if obj is None:
            return None
        uid = obj["metadata"]["uid"]
        dependents = self._dependents(uid)
        if policy == "Orphan":
            for dep_kind, dependent in dependents:
                self.store.update(
                    dep_kind,
                    dependent["metadata"].get("namespace", ""),
                    dependent["metadata"]["name"],
                    lambda d: d["metadata"].__setitem__(
                        "ownerReferences", [r for r in d["metadata"].get("ownerReferences", []) if r.get("uid") != uid]
                    ),
                )
        elif policy == "Foreground" and dependents:

            def mark(o: Obj) -> None:
                o["metadata"].setdefault("deletionTimestamp", now_iso())
                o["metadata"]["deletionGracePeriodSeconds"] = 0
                finalizers = o["metadata"].setdefault("finalizers", [])
                if FOREGROUND not in finalizers:
                    finalizers.append(FOREGROUND)

            return self.store.update(kind, namespace, name, mark)
        self.inert.discard(uid)
        return self.store.delete(kind, namespace, name)

    def _dependents(self, uid: str) -> list[tuple[str, Obj]]:
        return [
            (kind, obj)
            for kind in DEPENDENT_KINDS
            for obj in self.store.list(kind)[0]
            if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences", []))
        ]

    def _collect_orphans(self) -> None:
        """The garbage collector: dependents whose owners are all gone are deleted (objects without owners,
        like a bare Pod, stay), and so are those of an owner in foreground deletion, which goes once it
        has none left."""
        owners = {o["metadata"]["uid"]: (kind, o) for kind in OWNER_KINDS for o in self.store.list(kind)[0]}
        for kind in DEPENDENT_KINDS:
            for obj in self.store.list(kind)[0]:
                refs = obj["metadata"].get("ownerReferences", [])
                if not refs:
                    continue
                live = [owners[ref["uid"]][1] for ref in refs if ref.get("uid") in owners]
                foreground = any(FOREGROUND in (o["metadata"].get("finalizers") or []) for o in live)
                if not live or foreground:
                    if kind in OWNER_KINDS and foreground and self._dependents(obj["metadata"]["uid"]):
                        self.delete_cascading(kind, obj["metadata"]["namespace"], obj["metadata"]["name"], "Foreground")
                        continue
                    self.store.delete(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
                    self.pods.pop(obj["metadata"]["uid"], None)
        for kind, owner in owners.values():
            meta = owner["metadata"]
            if FOREGROUND in (meta.get("finalizers") or []) and not self._dependents(meta["uid"]):
                self.store.delete(kind, meta["namespace"], meta["name"])

    # -- events ----------------------------------------------------------------------------------------
    def event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        """An Event about `pod` from its node's kubelet."""
        host = str(pod.get("spec", {}).get("nodeName") or "sim-node")
        self.store.create("events", event_object(pod, "Pod", type_, reason, message, "kubelet", host))

    def _event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        self.event(pod, type_, reason, message)

    def _set_pod_status(self, pod: Obj, status: Obj) -> None:
        meta = pod["metadata"]
        self.store.update("pods", meta["namespace"], meta["name"], lambda p: p.__setitem__("status", status))

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
        return sum(1 for p in self._pods_of(rs) if pod_ready(p) and not p["metadata"].get("deletionTimestamp"))

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
        ready = sum(1 for p in pods if pod_ready(p) and not p["metadata"].get("deletionTimestamp"))
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
