"""The StatefulSet controller (pkg/controller/statefulset/stateful_set_control.go), one sync per tick.

Revisions: the set's template is kept as ControllerRevisions (see revisions.py): an unchanged template
reuses the newest revision, a template equal to an older revision bumps that revision's number (a
rollback), anything else creates a revision (a name taken by other data bumps status.collisionCount).
Pods are `<set>-<ordinal>`, labelled with the template's labels plus controller-revision-hash (the revision
name), statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index.

podManagementPolicy OrderedReady creates pod 0..n-1 one at a time, each once its predecessor is Running
and Ready, and a pod that is not Running and Ready stops everything after it, updates included: that is
kubernetes/kubernetes#67250 (a pod of a bad revision that never becomes Ready is not replaced when the
template is reverted; deleting it by hand lets the controller go on). Parallel creates and deletes without
waiting. RollingUpdate deletes, from the highest ordinal down to `partition`, the first pod not at the
update revision, once every pod above it is healthy; OnDelete replaces a pod only when someone deletes it.
Status is computed as updateStatus/completeRollingUpdate do, and history is pruned as truncateHistory does."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from devtools.k8s_sim.kubelet import pod_ready
from devtools.k8s_sim.revisions import (
    POD_REVISION_LABEL,
    by_revision,
    patched_template,
    same_data,
    statefulset_revision,
)
from devtools.k8s_sim.store import Obj

if TYPE_CHECKING:
    from devtools.k8s_sim.cluster import Cluster

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal(sts_name: str, pod_name: str) -> int | None:
    """getOrdinal, for a pod that is a member of the set (its parent name is the set's); else None."""
    match = re.fullmatch(r"(.*)-([0-9]+)", pod_name)
    if match is None or match.group(1) != sts_name:
        return None
    return int(match.group(2))


def running_and_ready(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and pod_ready(pod)


def terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def healthy(pod: Obj) -> bool:
    return running_and_ready(pod) and not terminating(pod)


def revision_of(pod: Obj) -> str:
    return str(pod["metadata"].get("labels", {}).get(POD_REVISION_LABEL, ""))


class StatefulSetController:
    """Syncs every controlled StatefulSet of the cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def reconcile(self, sts: Obj) -> None:
        cluster, store = self.cluster, self.cluster.store
        meta, spec = sts["metadata"], sts["spec"]
        namespace = meta["namespace"]
        if meta.get("deletionTimestamp"):
            return
        current, update, collision = self._revisions(sts)
        current_template = patched_template(current["data"])
        update_template = patched_template(update["data"])
        pods = [p for p in store.list("pods", namespace)[0] if cluster.owned_by(p, meta["uid"])]
        count = int(spec.get("replicas", 1))
        replicas: list[Obj | None] = [None] * count
        condemned: list[Obj] = []
        for member in pods:
            number = ordinal(meta["name"], member["metadata"]["name"])
            if number is None:
                continue
            if number < count:
                replicas[number] = member
            else:
                condemned.append(member)
        condemned.sort(key=lambda p: -(ordinal(meta["name"], p["metadata"]["name"]) or 0))
        monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        strategy = spec.get("updateStrategy", {})
        rolling = strategy.get("rollingUpdate")
        partition = int(rolling.get("partition", 0) or 0) if isinstance(rolling, dict) else None
        status_current = int(sts.get("status", {}).get("currentReplicas", 0) or 0)

        def versioned(number: int) -> tuple[Obj, str]:
            """newVersionedStatefulSetPod: the current revision below the partition, else the update one."""
            use_current = (strategy.get("type") == "RollingUpdate" and rolling is None and number < status_current) or (
                rolling is not None and partition is not None and number < partition
            )
            if use_current:
                return current_template, current["metadata"]["name"]
            return update_template, update["metadata"]["name"]

        blocked = False
        for number in range(count):
            pod = replicas[number]
            if pod is not None and pod.get("status", {}).get("phase") in ("Failed", "Succeeded"):
                store.delete("pods", namespace, pod["metadata"]["name"])
                cluster.pods.pop(pod["metadata"]["uid"], None)
                pod = replicas[number] = None
            if pod is None:
                template, revision = versioned(number)
                self._create_pod(sts, template, revision, number)
                if monotonic:
                    blocked = True
                    break
                continue
            if terminating(pod) and monotonic:
                blocked = True
                break
            if not running_and_ready(pod) and monotonic:
                blocked = True
                break
            if not cluster.available(pod, int(spec.get("minReadySeconds", 0) or 0)) and monotonic:
                blocked = True
                break
        first_unhealthy = next((p for p in replicas if p is not None and not healthy(p)), None)
        if not blocked:
            for pod in condemned:
                if terminating(pod):
                    if monotonic:
                        blocked = True
                        break
                    continue
                if not running_and_ready(pod) and monotonic and pod is not first_unhealthy:
                    blocked = True
                    break
                cluster.terminate(pod)
                if monotonic:
                    blocked = True
                    break
        if not blocked and strategy.get("type") == "RollingUpdate":
            floor = partition if partition is not None else 0
            for number in range(count - 1, floor - 1, -1):
                target = replicas[number]
                if target is None:
                    break
                if revision_of(target) != update["metadata"]["name"] and not terminating(target):
                    cluster.terminate(target)
                    break
                if not healthy(target):
                    break
        self._update_status(sts, current, update, collision)
        self._truncate_history(sts, current, update)

    # -- revisions ---------------------------------------------------------------------------------------
    def _revisions(self, sts: Obj) -> tuple[Obj, Obj, int]:
        """getStatefulSetRevisions: (current revision, update revision, collision count)."""
        store, meta = self.cluster.store, sts["metadata"]
        revisions = by_revision(
            [
                r
                for r in store.list("controllerrevisions", meta["namespace"])[0]
                if self.cluster.owned_by(r, meta["uid"])
            ]
        )
        collision = int(sts.get("status", {}).get("collisionCount") or 0)
        next_revision = int(revisions[-1]["revision"]) + 1 if revisions else 1
        template = sts["spec"]["template"]
        equal = [r for r in revisions if same_data(r, template)]
        if equal and equal[-1]["metadata"]["name"] == revisions[-1]["metadata"]["name"]:
            update = revisions[-1]
        elif equal:
            name = equal[-1]["metadata"]["name"]
            bumped = store.update(
                "controllerrevisions", meta["namespace"], name, lambda r: r.__setitem__("revision", next_revision)
            )
            update = bumped or equal[-1]
        else:
            while True:
                candidate = statefulset_revision(sts, next_revision, collision)
                created = store.add("controllerrevisions", candidate)
                if created is not None:
                    update = created
                    break
                existing = store.get("controllerrevisions", meta["namespace"], candidate["metadata"]["name"])
                if existing is not None and existing.get("data") == candidate["data"]:
                    update = existing
                    break
                collision += 1
        wanted = sts.get("status", {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == wanted), update)
        return current, update, collision

    def _truncate_history(self, sts: Obj, current: Obj, update: Obj) -> None:
        store, meta = self.cluster.store, sts["metadata"]
        revisions = by_revision(
            [
                r
                for r in store.list("controllerrevisions", meta["namespace"])[0]
                if self.cluster.owned_by(r, meta["uid"])
            ]
        )
        pods = [p for p in store.list("pods", meta["namespace"])[0] if self.cluster.owned_by(p, meta["uid"])]
        live = {current["metadata"]["name"], update["metadata"]["name"], *(revision_of(p) for p in pods)}
        history = [r for r in revisions if r["metadata"]["name"] not in live]
        limit = int(sts["spec"].get("revisionHistoryLimit", 10))
        for revision in history[: max(0, len(history) - limit)]:
            store.delete("controllerrevisions", meta["namespace"], revision["metadata"]["name"])

    # -- pods --------------------------------------------------------------------------------------------
    def _create_pod(self, sts: Obj, template: Obj, revision: str, number: int) -> None:
        """newStatefulSetPod + setPodRevision + initIdentity."""
        name = f"{sts['metadata']['name']}-{number}"
        labels = {POD_REVISION_LABEL: revision, POD_NAME_LABEL: name, POD_INDEX_LABEL: str(number)}
        spec_extra: Obj = {"hostname": name}
        if sts["spec"].get("serviceName"):
            spec_extra["subdomain"] = sts["spec"]["serviceName"]
        self.cluster.create_pod_from_template(
            sts, "StatefulSet", template, name=name, labels=labels, spec_extra=spec_extra, node_index=number
        )

    def _update_status(self, sts: Obj, current: Obj, update: Obj, collision: int) -> None:
        cluster, meta, spec = self.cluster, sts["metadata"], sts["spec"]
        pods = [p for p in cluster.store.list("pods", meta["namespace"])[0] if cluster.owned_by(p, meta["uid"])]
        min_ready = int(spec.get("minReadySeconds", 0) or 0)
        counted = pods
        replicas = len(counted)
        ready = sum(1 for p in counted if running_and_ready(p))
        available = sum(1 for p in counted if running_and_ready(p) and cluster.available(p, min_ready))
        live = [p for p in counted if not terminating(p)]
        current_count = sum(1 for p in live if revision_of(p) == current["metadata"]["name"])
        updated = sum(1 for p in live if revision_of(p) == update["metadata"]["name"])
        current_revision = current["metadata"]["name"]
        if spec.get("updateStrategy", {}).get("type") == "RollingUpdate" and updated == replicas and ready == replicas:
            current_count, current_revision = updated, update["metadata"]["name"]  # completeRollingUpdate
        status: Obj = {
            "observedGeneration": int(meta.get("generation", 1)),
            "replicas": replicas,
            "readyReplicas": ready,
            "currentReplicas": current_count,
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": update["metadata"]["name"],
            "collisionCount": collision,
            "availableReplicas": available,
        }
        for key in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[key]:
                del status[key]  # omitempty
        old = sts.get("status", {})
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        cluster.store.update("statefulsets", meta["namespace"], meta["name"], lambda s: s.__setitem__("status", status))
