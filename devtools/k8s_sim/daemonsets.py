"""The DaemonSet controller (pkg/controller/daemon), one sync per tick, over the cluster's simulated nodes.

constructHistory: the ControllerRevision whose data matches the DaemonSet's template is the current one
(its revision number raised above every other's when it was an older one: a rollback); without one a new
revision is snapshotted, named `<ds>-<hash>` and labelled controller-revision-hash=<hash>. manage: one pod
per node whose labels match the template's nodeSelector, bound to it (spec.nodeName and the node
affinity the controller sets), labelled controller-revision-hash=<hash> and
pod-template-generation=<the DaemonSet's generation>; failed pods are replaced, extra pods deleted.
rollingUpdate (maxSurge 0): old pods that are not available are replaced at once, available old pods
only while fewer than maxUnavailable pods are unavailable. OnDelete replaces a pod only once someone
deletes it. Status is updateDaemonSetStatus's; history is pruned as cleanupHistory does."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from devtools.k8s_sim.kubelet import pod_ready
from devtools.k8s_sim.revisions import POD_REVISION_LABEL, by_revision, daemonset_revision, same_data
from devtools.k8s_sim.store import Obj

if TYPE_CHECKING:
    from devtools.k8s_sim.cluster import Cluster

GENERATION_LABEL = "pod-template-generation"
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def scaled(value: object, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(str(value))


def should_run(node: Obj, ds: Obj) -> bool:
    """NodeShouldRunDaemonPod, as far as the simulator's nodes go: the template's nodeSelector matches."""
    selector = ds["spec"]["template"].get("spec", {}).get("nodeSelector") or {}
    labels = node["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def is_updated(pod: Obj, hash_: str, generation: int) -> bool:
    """util.IsPodUpdated: the revision hash matches, or (backward compatibility) the template generation."""
    labels = pod["metadata"].get("labels", {})
    return bool((hash_ and labels.get(POD_REVISION_LABEL) == hash_) or labels.get(GENERATION_LABEL) == str(generation))


class DaemonSetController:
    """Syncs every controlled DaemonSet of the cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def reconcile(self, ds: Obj) -> None:
        cluster, meta = self.cluster, ds["metadata"]
        if meta.get("deletionTimestamp"):
            return
        current, old = self._history(ds)
        if current is None:
            return
        hash_ = str(current["metadata"]["labels"].get(POD_REVISION_LABEL, ""))
        nodes = cluster.store.list("nodes")[0]
        self._manage(ds, nodes, hash_)
        strategy = ds["spec"].get("updateStrategy", {})
        if strategy.get("type") == "RollingUpdate":
            self._rolling_update(ds, nodes, hash_)
        self._cleanup_history(ds, old)
        self._update_status(ds, nodes, hash_)

    def _pods_by_node(self, ds: Obj, include_finished_deleted: bool = False) -> dict[str, list[Obj]]:
        meta = self.cluster.store.list("pods", ds["metadata"]["namespace"])[0]
        by_node: dict[str, list[Obj]] = {}
        for pod in meta:
            if not self.cluster.owned_by(pod, ds["metadata"]["uid"]):
                continue
            finished = pod.get("status", {}).get("phase") in ("Succeeded", "Failed")
            if pod["metadata"].get("deletionTimestamp") and finished and not include_finished_deleted:
                continue
            by_node.setdefault(str(pod["spec"].get("nodeName", "")), []).append(pod)
        for pods in by_node.values():
            pods.sort(key=lambda p: p["metadata"]["creationTimestamp"])
        return by_node

    # -- history -----------------------------------------------------------------------------------------
    def _history(self, ds: Obj) -> tuple[Obj | None, list[Obj]]:
        """constructHistory: (the current revision, the old ones)."""
        store, meta = self.cluster.store, ds["metadata"]
        histories = [
            r for r in store.list("controllerrevisions", meta["namespace"])[0] if self.cluster.owned_by(r, meta["uid"])
        ]
        template = ds["spec"]["template"]
        currents = [r for r in histories if same_data(r, template)]
        old = [r for r in histories if not same_data(r, template)]
        next_revision = max((int(r.get("revision", 0)) for r in old), default=0) + 1
        if not currents:
            candidate = daemonset_revision(ds, next_revision)
            created = store.add("controllerrevisions", candidate)
            if created is None:  # a name collision with other data: the next hash takes a collision count
                existing = store.get("controllerrevisions", meta["namespace"], candidate["metadata"]["name"])
                if existing is not None and existing.get("data") == candidate["data"]:
                    return existing, old
                collisions = int(ds.get("status", {}).get("collisionCount") or 0) + 1
                store.update(
                    "daemonsets",
                    meta["namespace"],
                    meta["name"],
                    lambda d: d.setdefault("status", {}).__setitem__("collisionCount", collisions),
                )
                return None, old
            return created, old
        current = by_revision(currents)[-1]
        for duplicate in currents:  # dedupCurHistories
            if duplicate["metadata"]["name"] != current["metadata"]["name"]:
                store.delete("controllerrevisions", meta["namespace"], duplicate["metadata"]["name"])
        if int(current.get("revision", 0)) < next_revision:
            current = (
                store.update(
                    "controllerrevisions",
                    meta["namespace"],
                    current["metadata"]["name"],
                    lambda r: r.__setitem__("revision", next_revision),
                )
                or current
            )
        return current, old

    def _cleanup_history(self, ds: Obj, old: list[Obj]) -> None:
        limit = int(ds["spec"].get("revisionHistoryLimit", 10))
        to_kill = len(old) - limit
        if to_kill <= 0:
            return
        live = {
            str(p["metadata"].get("labels", {}).get(POD_REVISION_LABEL, ""))
            for pods in self._pods_by_node(ds, include_finished_deleted=True).values()
            for p in pods
        }
        for revision in by_revision(old):
            if to_kill <= 0:
                break
            if revision["metadata"]["labels"].get(POD_REVISION_LABEL) in live:
                continue
            self.cluster.store.delete("controllerrevisions", ds["metadata"]["namespace"], revision["metadata"]["name"])
            to_kill -= 1

    # -- pods --------------------------------------------------------------------------------------------
    def _manage(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        cluster = self.cluster
        by_node = self._pods_by_node(ds)
        names = {n["metadata"]["name"] for n in nodes}
        for index, node in enumerate(nodes):
            name = node["metadata"]["name"]
            pods = by_node.get(name, [])
            if should_run(node, ds):
                if not pods:
                    self._create_pod(ds, hash_, name, index)
                    continue
                running = []
                for pod in pods:
                    if pod["metadata"].get("deletionTimestamp"):
                        continue
                    if pod.get("status", {}).get("phase") in ("Failed", "Succeeded"):
                        cluster.terminate(pod)
                    else:
                        running.append(pod)
                for extra in running[1:]:
                    cluster.terminate(extra)
            else:
                for pod in pods:
                    if not pod["metadata"].get("deletionTimestamp"):
                        cluster.terminate(pod)
        for node_name, pods in by_node.items():
            if node_name not in names:
                for pod in pods:
                    if not pod["metadata"].get("deletionTimestamp"):
                        cluster.terminate(pod)

    def _create_pod(self, ds: Obj, hash_: str, node: str, index: int) -> None:
        template = {**ds["spec"]["template"], "spec": dict(ds["spec"]["template"].get("spec", {}))}  # CreatePodTemplate
        tolerations = list(template["spec"].get("tolerations") or [])
        for toleration in DAEMON_TOLERATIONS:
            if toleration not in tolerations:
                tolerations.append(toleration)
        template["spec"]["tolerations"] = tolerations
        affinity = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
                    ]
                }
            }
        }
        labels = {GENERATION_LABEL: str(ds["metadata"].get("generation", 1)), POD_REVISION_LABEL: hash_}
        self.cluster.create_pod_from_template(
            ds,
            "DaemonSet",
            template,
            generate_name=f"{ds['metadata']['name']}-",
            labels=labels,
            spec_extra={"affinity": affinity, "nodeName": node},
            node_index=index,
        )

    def _rolling_update(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        cluster = self.cluster
        by_node = self._pods_by_node(ds)
        desired = sum(1 for n in nodes if should_run(n, ds))
        rolling = ds["spec"].get("updateStrategy", {}).get("rollingUpdate") or {}
        max_unavailable = scaled(rolling.get("maxUnavailable", 1), desired, True)
        max_surge = scaled(rolling.get("maxSurge", 0), desired, True)
        if max_unavailable == 0 and max_surge == 0:
            max_unavailable = 1
        generation = int(ds["metadata"].get("generation", 1))
        min_ready = int(ds["spec"].get("minReadySeconds", 0) or 0)
        unavailable = 0
        replace: list[Obj] = []
        candidates: list[Obj] = []
        for node in sorted(by_node):
            new, old, ok = None, None, True
            for pod in by_node[node]:
                if pod["metadata"].get("deletionTimestamp"):
                    continue
                if is_updated(pod, hash_, generation):
                    ok, new = ok and new is None, pod
                else:
                    ok, old = ok and old is None, pod
            if not ok or (new is None) == (old is None):
                unavailable += 1
            elif new is not None:
                if not cluster.available(new, min_ready) or not pod_ready(new):
                    unavailable += 1
            elif old is not None:
                if not pod_ready(old) or not cluster.available(old, min_ready):
                    replace.append(old)
                    unavailable += 1
                elif unavailable < max_unavailable:
                    candidates.append(old)
        room = min(max(0, max_unavailable - unavailable), len(candidates))
        for pod in [*replace, *candidates[:room]]:
            cluster.terminate(pod)

    def _update_status(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        cluster, meta = self.cluster, ds["metadata"]
        current = cluster.store.get("daemonsets", meta["namespace"], meta["name"]) or ds
        by_node = self._pods_by_node(current)
        generation = int(current["metadata"].get("generation", 1))
        min_ready = int(current["spec"].get("minReadySeconds", 0) or 0)
        desired = scheduled = misscheduled = ready = updated = available = 0
        for node in nodes:
            pods = by_node.get(node["metadata"]["name"], [])
            if should_run(node, current):
                desired += 1
                if not pods:
                    continue
                scheduled += 1
                pod = pods[0]
                if pod_ready(pod):
                    ready += 1
                    if cluster.available(pod, min_ready):
                        available += 1
                if is_updated(pod, hash_, generation):
                    updated += 1
            elif pods:
                misscheduled += 1
        status: Obj = {
            "currentNumberScheduled": scheduled,
            "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "observedGeneration": generation,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
        }
        for key in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
            if not status[key]:
                del status[key]  # omitempty
        old = current.get("status", {})
        for key in ("collisionCount", "conditions"):
            if key in old:
                status[key] = old[key]
        cluster.store.update("daemonsets", meta["namespace"], meta["name"], lambda d: d.__setitem__("status", status))
