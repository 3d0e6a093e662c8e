"""Real kubectl against the simulator's StatefulSet, DaemonSet and Job controllers, ControllerRevisions,
pagination, pods/log, POST and DELETE with propagation, and scoped RBAC: kubectl's own messages and exit
codes are the verdict on whether the simulator behaves as a cluster does."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.k8s_sim import SCENARIOS, KubeSim, Scenario
from devtools.k8s_sim.paging import INCONSISTENT_CONTINUE, decode_continue
from tests.support.integration import unavailable
from tests.support.kubeharness import NAMESPACE, Env, wait_until

pytestmark = pytest.mark.integration

USER = "system:serviceaccount:conveyor:deployer"
Obj = dict[str, Any]


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    path = shutil.which("kubectl")
    if path is None:
        unavailable("kubectl is not installed (apt-get install kubernetes-client)")
    return path


@pytest.fixture
def sim_env(tmp_path: Path, kubectl_bin: str, kube_registry: Any) -> Iterator[Callable[..., Env]]:
    """Start a simulated cluster (the `success` scenario unless told) with an empty namespace."""
    started: list[KubeSim] = []

    def make(scenario: Scenario = SCENARIOS["success"]) -> Env:
        sim = KubeSim(scenario, registry=kube_registry.address).start()
        started.append(sim)
        home = tmp_path / f"home-{len(started)}"
        kubeconfig = sim.write_kubeconfig(home / ".kube" / "config", namespace=NAMESPACE)
        return Env(sim, kubeconfig, kubectl_bin, home, kube_registry)

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def env(sim_env: Callable[..., Env]) -> Env:
    return sim_env()


# -- helpers ----------------------------------------------------------------------------------------------
def create(env: Env, manifest: Obj) -> subprocess.CompletedProcess[str]:
    """`kubectl create -f` of `manifest` (written as a file), asserted to succeed."""
    path = env.home / f"{manifest['kind'].lower()}-{manifest['metadata'].get('name', 'x')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))
    result = env.kubectl("create", "-f", str(path))
    assert result.returncode == 0, result.stderr
    return result


def template(env: Env, tag: str = "v1", **spec: Any) -> Obj:
    labels = spec.pop("labels", {"app": "x"})
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": env.image(tag)}], **spec}}


def statefulset(env: Env, name: str, replicas: int = 3, strategy: Obj | None = None, **spec: Any) -> Obj:
    body: Obj = {
        "replicas": replicas,
        "serviceName": name,
        "selector": {"matchLabels": {"app": name}},
        "template": template(env, labels={"app": name}),
        **spec,
    }
    if strategy is not None:
        body["updateStrategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": body}


def daemonset(env: Env, name: str) -> Obj:
    spec = {"selector": {"matchLabels": {"app": name}}, "template": template(env, labels={"app": name})}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name}, "spec": spec}


def job(env: Env, name: str, args: list[str], image: str = "v1", **spec: Any) -> Obj:
    pod = {"restartPolicy": "Never", "containers": [{"name": "task", "image": env.image(image), "args": args}]}
    body = {"template": {"spec": pod}, **spec}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": body}


def get(env: Env, kind: str, name: str) -> Obj:
    obj = env.sim.store.get(kind, NAMESPACE, name)
    assert obj is not None, f"{kind}/{name} is gone"
    return obj


def pods_of(env: Env, prefix: str) -> list[Obj]:
    return [p for p in env.sim.store.list("pods", NAMESPACE)[0] if p["metadata"]["name"].startswith(prefix)]


def rollout_status(env: Env, target: str, timeout: str = "60s") -> subprocess.CompletedProcess[str]:
    return env.kubectl("rollout", "status", target, f"--timeout={timeout}", timeout=120)


def distinct(lines: str) -> list[str]:
    """kubectl prints a status line per watch event; the distinct lines, in order."""
    return list(dict.fromkeys(line for line in lines.splitlines() if line.strip()))


def watching(env: Env, plural: str) -> bool:
    return any(r.client == "kubectl" and r.query.get("watch") for r in env.sim.sim.recorded("GET", f"/{plural}"))


def with_gate_closed(env: Env, target: str, plural: str) -> subprocess.CompletedProcess[str]:
    """Run `kubectl rollout status` while no pod can become Ready, open the gate once kubectl watches: every
    status kubectl prints on the way is then certain to be seen."""
    process = env.kubectl_popen("rollout", "status", target, "--timeout=60s")
    try:
        assert wait_until(lambda: watching(env, plural)), "kubectl never watched"
        env.sim.cluster.ready_gate.set()
        out, err = process.communicate(timeout=90)
    finally:
        env.sim.cluster.ready_gate.set()
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def pod_waiting_reason(env: Env, name: str) -> str:
    pod = env.sim.store.get("pods", NAMESPACE, name) or {}
    statuses = pod.get("status", {}).get("containerStatuses", [])
    return str(statuses[0]["state"].get("waiting", {}).get("reason", "")) if statuses else ""


def revision_label(pod: Obj) -> str:
    return str(pod["metadata"]["labels"].get("controller-revision-hash", ""))


def history_rows(env: Env, target: str) -> list[list[str]]:
    shown = env.kubectl("rollout", "history", target)
    assert shown.returncode == 0, shown.stderr
    return [line.split() for line in shown.stdout.splitlines() if line[:1].isdigit()]


# -- StatefulSets -----------------------------------------------------------------------------------------
def test_an_ordered_rollout_and_a_rolling_update_complete_as_kubectl_says(env: Env) -> None:
    env.sim.cluster.ready_gate.clear()
    create(env, statefulset(env, "web", strategy={"type": "RollingUpdate"}))  # rollingUpdate stays unset
    first = with_gate_closed(env, "statefulset/web", "statefulsets")
    assert first.returncode == 0, first.stderr
    revision = get(env, "statefulsets", "web")["status"]["currentRevision"]
    lines = [line for line in distinct(first.stdout) if "spec update to be observed" not in line]
    assert lines == [
        "Waiting for 3 pods to be ready...",
        "Waiting for 2 pods to be ready...",
        "Waiting for 1 pods to be ready...",
        f"statefulset rolling update complete 3 pods at revision {revision}...",
    ]
    pods = sorted(pods_of(env, "web-"), key=lambda p: str(p["metadata"]["name"]))
    assert [p["metadata"]["name"] for p in pods] == ["web-0", "web-1", "web-2"]
    assert all(revision_label(p) == revision for p in pods)
    assert pods[1]["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert pods[1]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    assert pods[1]["spec"]["hostname"] == "web-1" and pods[1]["spec"]["subdomain"] == "web"
    created = [e.obj["metadata"]["name"] for e in env.sim.store.history if e.kind == "pods" and e.type == "ADDED"]
    assert created == ["web-0", "web-1", "web-2"]  # OrderedReady: one at a time, in order

    assert env.kubectl("set", "image", "statefulset/web", f"app={env.image('v2')}").returncode == 0
    second = rollout_status(env, "statefulset/web")
    assert second.returncode == 0, second.stderr
    status = get(env, "statefulsets", "web")["status"]
    assert status["currentRevision"] == status["updateRevision"] != revision
    assert (
        distinct(second.stdout)[-1]
        == f"statefulset rolling update complete 3 pods at revision {status['currentRevision']}..."
    )
    deleted = [e.obj["metadata"]["name"] for e in env.sim.store.history if e.kind == "pods" and e.type == "DELETED"]
    assert deleted == ["web-2", "web-1", "web-0"]  # updated from the highest ordinal down
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(env, "web-")} == {env.image("v2")}
    assert {k: status[k] for k in ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas")} == {
        "replicas": 3,
        "readyReplicas": 3,
        "currentReplicas": 3,
        "updatedReplicas": 3,
    }
    assert status["availableReplicas"] == 3 and status["collisionCount"] == 0
    assert status["observedGeneration"] == get(env, "statefulsets", "web")["metadata"]["generation"] == 2


def test_a_partitioned_rollout_updates_only_the_ordinals_at_or_above_the_partition(env: Env) -> None:
    create(env, statefulset(env, "db", strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    first = rollout_status(env, "statefulset/db")
    assert first.returncode == 0, first.stderr
    assert distinct(first.stdout)[-1] == "partitioned roll out complete: 3 new pods have been updated..."
    old = get(env, "statefulsets", "db")["status"]["currentRevision"]
    env.sim.cluster.ready_gate.clear()
    assert env.kubectl("set", "image", "statefulset/db", f"app={env.image('v2')}").returncode == 0
    second = with_gate_closed(env, "statefulset/db", "statefulsets")
    assert second.returncode == 0, second.stderr
    lines = distinct(second.stdout)
    assert "Waiting for 1 pods to be ready..." in lines
    assert "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..." in lines
    assert lines[-1] == "partitioned roll out complete: 2 new pods have been updated..."
    status = get(env, "statefulsets", "db")["status"]
    assert status["currentRevision"] == old != status["updateRevision"]
    assert (status["currentReplicas"], status["updatedReplicas"]) == (1, 2)
    labels = {p["metadata"]["name"]: revision_label(p) for p in pods_of(env, "db-")}
    assert labels == {"db-0": old, "db-1": status["updateRevision"], "db-2": status["updateRevision"]}


def test_on_delete_is_not_rolled_out_and_replaces_only_deleted_pods(env: Env) -> None:
    create(env, statefulset(env, "od", replicas=2, strategy={"type": "OnDelete"}))
    assert wait_until(lambda: get(env, "statefulsets", "od")["status"].get("readyReplicas") == 2)
    refused = rollout_status(env, "statefulset/od")
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: rollout status is only available for RollingUpdate strategy type"
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods_of(env, "od-")}
    assert env.kubectl("set", "image", "statefulset/od", f"app={env.image('v2')}").returncode == 0
    assert wait_until(lambda: get(env, "statefulsets", "od")["status"].get("observedGeneration") == 2)
    update = get(env, "statefulsets", "od")["status"]["updateRevision"]
    assert not wait_until(lambda: any(revision_label(p) == update for p in pods_of(env, "od-")), timeout=1.5)
    assert {p["metadata"]["name"]: p["metadata"]["uid"] for p in pods_of(env, "od-")} == before
    assert env.kubectl("delete", "pod", "od-1").returncode == 0
    assert wait_until(lambda: {revision_label(p) for p in pods_of(env, "od-1")} == {update})
    assert revision_label(get(env, "pods", "od-0")) != update


def test_a_stuck_pod_of_a_reverted_revision_blocks_until_deleted_kubernetes_67250(env: Env) -> None:
    create(env, statefulset(env, "bad"))
    assert rollout_status(env, "statefulset/bad").returncode == 0
    good = get(env, "statefulsets", "bad")["status"]["currentRevision"]
    assert env.kubectl("set", "image", "statefulset/bad", f"app={env.image('never-pushed')}").returncode == 0
    assert wait_until(lambda: pod_waiting_reason(env, "bad-2") == "ImagePullBackOff")
    stuck = rollout_status(env, "statefulset/bad", timeout="3s")
    assert stuck.returncode != 0
    assert distinct(stuck.stdout)[-1] == "Waiting for 1 pods to be ready..."
    assert "timed out waiting for the condition" in stuck.stderr
    broken = revision_label(get(env, "pods", "bad-2"))
    assert broken != good

    undone = env.kubectl("rollout", "undo", "statefulset/bad")
    assert undone.returncode == 0 and undone.stdout.strip() == "statefulset.apps/bad rolled back", undone.stderr
    assert wait_until(lambda: get(env, "statefulsets", "bad")["status"].get("updateRevision") == good)
    status = get(env, "statefulsets", "bad")["status"]
    assert status["currentRevision"] == good
    assert not wait_until(lambda: revision_label(get(env, "pods", "bad-2")) == good, timeout=2.0)  # not replaced
    still = rollout_status(env, "statefulset/bad", timeout="2s")
    assert still.returncode != 0 and distinct(still.stdout)[-1] == "Waiting for 1 pods to be ready..."

    assert env.kubectl("delete", "pod", "bad-2").returncode == 0
    done = rollout_status(env, "statefulset/bad")
    assert done.returncode == 0, done.stderr
    assert distinct(done.stdout)[-1] == "partitioned roll out complete: 3 new pods have been updated..."
    assert {revision_label(p) for p in pods_of(env, "bad-")} == {good}
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(env, "bad-")} == {env.image("v1")}


def test_a_crash_looping_update_waits_until_kubectl_times_out(env: Env) -> None:
    create(env, statefulset(env, "crash", replicas=2))
    assert rollout_status(env, "statefulset/crash").returncode == 0
    env.sim.cluster.crash_images.add(env.image("v3"))
    assert env.kubectl("set", "image", "statefulset/crash", f"app={env.image('v3')}").returncode == 0
    assert wait_until(lambda: pod_waiting_reason(env, "crash-1") == "CrashLoopBackOff")
    stuck = rollout_status(env, "statefulset/crash", timeout="2s")
    assert stuck.returncode != 0
    assert distinct(stuck.stdout)[-1] == "Waiting for 1 pods to be ready..."
    assert "timed out waiting for the condition" in stuck.stderr
    assert get(env, "pods", "crash-1")["status"]["containerStatuses"][0]["restartCount"] >= 1
    assert get(env, "pods", "crash-0")["spec"]["containers"][0]["image"] == env.image("v1")  # not reached


def test_rollout_status_of_a_deleted_statefulset_fails(env: Env) -> None:
    env.sim.cluster.ready_gate.clear()
    create(env, statefulset(env, "gone", replicas=2))
    process = env.kubectl_popen("rollout", "status", "statefulset/gone", "--timeout=60s")
    try:
        assert wait_until(lambda: watching(env, "statefulsets"))
        assert env.kubectl("delete", "statefulset", "gone").returncode == 0
        out, err = process.communicate(timeout=30)
    finally:
        env.sim.cluster.ready_gate.set()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 1
    assert distinct(out)[-1] == "Waiting for 2 pods to be ready..."
    assert err.strip() == "error: object has been deleted"
    assert wait_until(lambda: not pods_of(env, "gone-"))  # garbage collected
    assert wait_until(lambda: not env.sim.store.list("controllerrevisions", NAMESPACE)[0])


def test_statefulset_history_undo_and_a_skipped_undo(env: Env) -> None:
    manifest = statefulset(env, "hist", replicas=2)
    manifest["metadata"]["annotations"] = {"kubernetes.io/change-cause": "first"}
    create(env, manifest)
    assert rollout_status(env, "statefulset/hist").returncode == 0
    first = get(env, "statefulsets", "hist")["status"]["currentRevision"]
    assert env.kubectl("set", "image", "statefulset/hist", f"app={env.image('v2')}").returncode == 0
    assert rollout_status(env, "statefulset/hist").returncode == 0
    assert history_rows(env, "statefulset/hist") == [["1", "first"], ["2", "first"]]
    revisions = {r["metadata"]["name"]: r for r in env.sim.store.list("controllerrevisions", NAMESPACE)[0]}
    assert set(revisions) == {first, get(env, "statefulsets", "hist")["status"]["currentRevision"]}
    data = revisions[first]["data"]["spec"]["template"]
    assert data["$patch"] == "replace" and data["metadata"]["creationTimestamp"] is None
    assert revisions[first]["metadata"]["labels"]["controller.kubernetes.io/hash"] == first.removeprefix("hist-")

    undone = env.kubectl("rollout", "undo", "statefulset/hist")
    assert undone.stdout.strip() == "statefulset.apps/hist rolled back", undone.stderr
    assert rollout_status(env, "statefulset/hist").returncode == 0
    assert get(env, "statefulsets", "hist")["status"]["currentRevision"] == first
    assert [row[0] for row in history_rows(env, "statefulset/hist")] == ["2", "3"]  # revision 1 became 3
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(env, "hist-")} == {env.image("v1")}
    # kubectl compares the revision's data with the live template byte for byte
    skipped = env.kubectl("rollout", "undo", "statefulset/hist", "--to-revision=3")
    assert skipped.stdout.strip() == (
        "statefulset.apps/hist skipped rollback (current template already matches revision 3)"
    ), skipped.stderr


def test_scaling_down_goes_from_the_highest_ordinal_and_parallel_sets_do_not_wait(env: Env) -> None:
    create(env, statefulset(env, "ord"))
    assert rollout_status(env, "statefulset/ord").returncode == 0
    scaled = env.kubectl("scale", "statefulset/ord", "--replicas=1")
    assert scaled.returncode == 0 and scaled.stdout.strip() == "statefulset.apps/ord scaled", scaled.stderr
    assert wait_until(lambda: [p["metadata"]["name"] for p in pods_of(env, "ord-")] == ["ord-0"])
    deleted = [e.obj["metadata"]["name"] for e in env.sim.store.history if e.kind == "pods" and e.type == "DELETED"]
    assert deleted == ["ord-2", "ord-1"]
    assert wait_until(lambda: get(env, "statefulsets", "ord")["status"]["replicas"] == 1)

    env.sim.cluster.ready_gate.clear()  # no pod becomes Ready: OrderedReady would stop at pod 0
    create(env, statefulset(env, "par", replicas=4, podManagementPolicy="Parallel"))
    assert wait_until(lambda: len(pods_of(env, "par-")) == 4)
    env.sim.cluster.ready_gate.set()
    assert rollout_status(env, "statefulset/par").returncode == 0


def test_statefulset_history_is_pruned_to_its_limit(env: Env) -> None:
    create(env, statefulset(env, "short", replicas=1, revisionHistoryLimit=1))
    for tag in ("v2", "v3", "v1", "v2"):
        assert env.kubectl("set", "image", "statefulset/short", f"app={env.image(tag)}").returncode == 0
        assert rollout_status(env, "statefulset/short").returncode == 0
    assert wait_until(lambda: len(env.sim.store.list("controllerrevisions", NAMESPACE)[0]) == 2)
    assert [row[0] for row in history_rows(env, "statefulset/short")] == ["4", "5"]


# -- DaemonSets -------------------------------------------------------------------------------------------
def test_a_daemonset_runs_one_pod_per_node_and_rolls_out(env: Env) -> None:
    create(env, daemonset(env, "agent"))
    done = rollout_status(env, "daemonset/agent")
    assert done.returncode == 0, done.stderr
    assert distinct(done.stdout)[-1] == 'daemon set "agent" successfully rolled out'
    pods = pods_of(env, "agent-")
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["sim-node-1", "sim-node-2"]
    [revision] = env.sim.store.list("controllerrevisions", NAMESPACE)[0]
    hash_ = revision["metadata"]["labels"]["controller-revision-hash"]
    assert revision["metadata"]["name"] == f"agent-{hash_}" and revision["revision"] == 1
    assert {(revision_label(p), p["metadata"]["labels"]["pod-template-generation"]) for p in pods} == {(hash_, "1")}
    status = get(env, "daemonsets", "agent")["status"]
    assert status == {
        "currentNumberScheduled": 2,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 2,
        "numberReady": 2,
        "observedGeneration": 1,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
    }

    assert env.kubectl("set", "image", "daemonset/agent", f"app={env.image('never-pushed')}").returncode == 0
    stuck = rollout_status(env, "daemonset/agent", timeout="3s")
    assert stuck.returncode != 0
    assert (
        distinct(stuck.stdout)[-1]
        == 'Waiting for daemon set "agent" rollout to finish: 1 out of 2 new pods have been updated...'
    )
    status = get(env, "daemonsets", "agent")["status"]
    assert (status["numberUnavailable"], status["numberAvailable"], status["updatedNumberScheduled"]) == (1, 1, 1)
    assert [row[0] for row in history_rows(env, "daemonset/agent")] == ["1", "2"]

    undone = env.kubectl("rollout", "undo", "daemonset/agent")
    assert undone.stdout.strip() == "daemonset.apps/agent rolled back", undone.stderr
    back = rollout_status(env, "daemonset/agent")
    assert back.returncode == 0, back.stderr
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(env, "agent-")} == {env.image("v1")}
    assert {revision_label(p) for p in pods_of(env, "agent-")} == {hash_}  # the first revision again
    assert [row[0] for row in history_rows(env, "daemonset/agent")] == ["2", "3"]


def test_a_daemonset_rolls_one_node_at_a_time(sim_env: Callable[..., Env]) -> None:
    env = sim_env(dataclasses.replace(SCENARIOS["success"], nodes=3))
    assert env.kubectl("get", "nodes", "-o", "name").stdout.split() == [f"node/sim-node-{n}" for n in (1, 2, 3)]
    create(env, daemonset(env, "agent"))
    assert rollout_status(env, "daemonset/agent").returncode == 0
    env.sim.cluster.ready_gate.clear()
    assert env.kubectl("set", "image", "daemonset/agent", f"app={env.image('v2')}").returncode == 0
    rolled = with_gate_closed(env, "daemonset/agent", "daemonsets")
    assert rolled.returncode == 0, rolled.stderr
    lines = distinct(rolled.stdout)
    for updated in (1, 2):
        assert (
            f'Waiting for daemon set "agent" rollout to finish: {updated} out of 3 new pods have been updated...'
            in lines
        )
    assert lines[-1] == 'daemon set "agent" successfully rolled out'
    deleted = [
        e.obj["spec"]["nodeName"]
        for e in env.sim.store.history
        if e.kind == "pods" and e.type == "DELETED" and e.obj["metadata"]["name"].startswith("agent-")
    ]
    assert sorted(deleted) == ["sim-node-1", "sim-node-2", "sim-node-3"]  # each old pod once, maxUnavailable 1
    assert len(pods_of(env, "agent-")) == 3


# -- Jobs -------------------------------------------------------------------------------------------------
def test_a_job_completes_and_its_logs_are_what_it_printed(env: Env) -> None:
    create(env, job(env, "once", ["hello", "world", "sim:log=migrated 3 tables"]))
    waited = env.kubectl("wait", "--for=condition=complete", "job/once", "--timeout=30s")
    assert waited.returncode == 0 and waited.stdout.strip() == "job.batch/once condition met", waited.stderr
    logs = env.kubectl("logs", "job/once")
    assert logs.returncode == 0 and logs.stdout == "hello world\nmigrated 3 tables\n", logs.stderr
    assert env.kubectl("logs", "job/once", "--tail=1").stdout == "migrated 3 tables\n"
    status = get(env, "jobs", "once")["status"]
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("SuccessCriteriaMet", "True", "CompletionsReached"),
        ("Complete", "True", "CompletionsReached"),
    ]
    assert status["conditions"][1]["message"] == "Reached expected number of succeeded pods"
    assert status["succeeded"] == 1 and status["ready"] == 0 and status["terminating"] == 0
    assert "active" not in status and "failed" not in status
    assert status["completionTime"] >= status["startTime"] and status["uncountedTerminatedPods"] == {}
    [pod] = pods_of(env, "once-")
    assert pod["status"]["phase"] == "Succeeded" and "finalizers" not in pod["metadata"]
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert pod["metadata"]["labels"]["job-name"] == "once" and pod["metadata"]["generateName"] == "once-"


def test_a_failing_job_fails_at_its_backoff_limit(env: Env) -> None:
    create(env, job(env, "broken", ["sim:fail"], backoffLimit=0))
    waited = env.kubectl("wait", "--for=condition=failed", "job/broken", "--timeout=30s")
    assert waited.returncode == 0 and waited.stdout.strip() == "job.batch/broken condition met", waited.stderr
    status = get(env, "jobs", "broken")["status"]
    assert [(c["type"], c["reason"], c["message"]) for c in status["conditions"]] == [
        ("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
    ]
    assert status["failed"] == 1 and "completionTime" not in status
    [pod] = pods_of(env, "broken-")  # backoffLimit 0: no second try
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    never = env.kubectl("wait", "--for=condition=complete", "job/broken", "--timeout=1s")
    assert never.returncode != 0

    create(env, job(env, "retried", ["sim:exit=2"], backoffLimit=2))
    assert env.kubectl("wait", "--for=condition=failed", "job/retried", "--timeout=60s").returncode == 0
    assert get(env, "jobs", "retried")["status"]["failed"] == 3 and len(pods_of(env, "retried-")) == 3


def test_a_job_past_its_deadline_fails_and_a_finished_one_expires(env: Env) -> None:
    create(env, job(env, "slow", ["sim:sleep=60"], activeDeadlineSeconds=1))
    assert env.kubectl("wait", "--for=condition=failed", "job/slow", "--timeout=30s").returncode == 0
    conditions = get(env, "jobs", "slow")["status"]["conditions"]
    assert [(c["type"], c["reason"]) for c in conditions] == [
        ("FailureTarget", "DeadlineExceeded"),
        ("Failed", "DeadlineExceeded"),
    ]
    assert conditions[1]["message"] == "Job was active longer than specified deadline"
    assert wait_until(lambda: not pods_of(env, "slow-"))  # its active pod was deleted

    create(env, job(env, "brief", ["done"], ttlSecondsAfterFinished=1, parallelism=2, completions=4))
    assert env.kubectl("wait", "--for=condition=complete", "job/brief", "--timeout=30s").returncode == 0
    assert get(env, "jobs", "brief")["status"]["succeeded"] == 4
    assert wait_until(lambda: env.sim.store.get("jobs", NAMESPACE, "brief") is None and not pods_of(env, "brief-"))


def test_a_job_pod_whose_image_cannot_be_pulled_waits(env: Env) -> None:
    create(env, job(env, "nopull", ["x"], image="never-pushed"))
    assert wait_until(lambda: bool(pods_of(env, "nopull-")))
    name = pods_of(env, "nopull-")[0]["metadata"]["name"]
    assert wait_until(lambda: pod_waiting_reason(env, name) == "ImagePullBackOff")
    logs = env.kubectl("logs", f"pod/{name}")
    assert logs.returncode == 1
    assert f'container "task" in pod "{name}" is waiting to start: trying and failing to pull image' in logs.stderr
    status = get(env, "jobs", "nopull")["status"]
    assert status["active"] == 1 and "failed" not in status and "conditions" not in status


def test_a_cronjob_is_stored_defaulted_and_patchable_but_runs_nothing(env: Env) -> None:
    pod = {"restartPolicy": "OnFailure", "containers": [{"name": "report", "image": env.image("v1")}]}
    spec = {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}
    create(env, {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"}, "spec": spec})
    stored = get(env, "cronjobs", "nightly")["spec"]
    assert (stored["concurrencyPolicy"], stored["suspend"], stored["successfulJobsHistoryLimit"]) == ("Allow", False, 3)
    assert env.kubectl("set", "image", "cronjob/nightly", f"report={env.image('v2')}").returncode == 0
    assert env.kubectl("patch", "cronjob", "nightly", "-p", '{"spec":{"suspend":true}}').returncode == 0
    shown = env.kubectl("get", "cronjob", "nightly", "-o", "json")
    cronjob = json.loads(shown.stdout)
    assert cronjob["spec"]["suspend"] is True and cronjob["metadata"]["generation"] == 3
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == env.image("v2")
    assert not env.sim.store.list("jobs", NAMESPACE)[0] and not env.sim.store.list("pods", NAMESPACE)[0]


# -- create, delete, pagination, RBAC ---------------------------------------------------------------------
def test_delete_cascades_as_the_propagation_policy_says(env: Env) -> None:
    for name in ("bg", "orphan", "fg"):
        create(env, job(env, name, ["sim:sleep=60"]))
    assert wait_until(lambda: all(pods_of(env, f"{n}-") for n in ("bg", "orphan", "fg")))
    gone = env.kubectl("delete", "job", "bg", "--cascade=background")
    assert gone.returncode == 0 and gone.stdout.strip() == 'job.batch "bg" deleted', gone.stderr
    assert wait_until(lambda: not pods_of(env, "bg-"))
    assert env.kubectl("delete", "job", "fg", "--cascade=foreground").returncode == 0
    assert not pods_of(env, "fg-") and env.sim.store.get("jobs", NAMESPACE, "fg") is None
    assert env.kubectl("delete", "job", "orphan", "--cascade=orphan").returncode == 0
    [left] = pods_of(env, "orphan-")
    assert "ownerReferences" not in left["metadata"] or left["metadata"]["ownerReferences"] == []
    deletes = [json.loads(r.body) for r in env.sim.sim.recorded("DELETE", "/jobs/") if r.client == "kubectl"]
    assert [d["propagationPolicy"] for d in deletes] == ["Background", "Foreground", "Orphan"]


def test_a_created_deployment_rolls_out_and_its_deletion_takes_its_replicasets(env: Env) -> None:
    spec = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": template(env, labels={"app": "web"}),
    }
    create(env, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec})
    done = rollout_status(env, "deployment/web")
    assert done.returncode == 0 and distinct(done.stdout)[-1] == 'deployment "web" successfully rolled out', done.stderr
    stored = get(env, "deployments", "web")["spec"]
    assert stored["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert len(pods_of(env, "web-")) == 2
    assert env.kubectl("delete", "deployment", "web").returncode == 0
    assert wait_until(lambda: not pods_of(env, "web-") and not env.sim.store.list("replicasets", NAMESPACE)[0])


def test_post_answers_as_the_api_server(env: Env) -> None:
    url = f"{env.sim.url}/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
    body = job(env, "raw", ["x"])
    created = requests.post(url, json=body, timeout=10)
    assert created.status_code == 201
    obj = created.json()
    assert obj["kind"] == "Job" and obj["metadata"]["generation"] == 1 and obj["metadata"]["resourceVersion"]
    assert obj["metadata"]["uid"] and obj["metadata"]["creationTimestamp"]
    again = requests.post(url, json=body, timeout=10)
    assert (again.status_code, again.json()) == (
        409,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'jobs.batch "raw" already exists',
            "reason": "AlreadyExists",
            "details": {"name": "raw", "group": "batch", "kind": "jobs"},
            "code": 409,
        },
    )
    nameless = requests.post(url, json={**body, "metadata": {}}, timeout=10)
    assert nameless.status_code == 422
    assert (
        nameless.json()["message"]
        == 'Job.batch "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    assert nameless.json()["reason"] == "Invalid"
    generated = requests.post(url, json={**body, "metadata": {"generateName": "batch-"}}, timeout=10)
    assert generated.status_code == 201
    name = generated.json()["metadata"]["name"]
    assert name.startswith("batch-") and len(name) == len("batch-") + 5
    warned = requests.delete(f"{url}/raw", timeout=10)
    assert warned.status_code == 200 and "child pods are preserved by default" in warned.headers["Warning"]


def test_chunked_lists_return_every_pod_and_expired_tokens_answer_410(env: Env) -> None:
    cluster = env.sim.cluster
    for namespace, name in [("default", "a"), ("default", "b"), (NAMESPACE, "c"), (NAMESPACE, "d"), (NAMESPACE, "e")]:
        cluster.run_object("pods", namespace, name, {"containers": [{"name": "c", "image": env.image("v1")}]})
    everything = sorted(f"pod/{p['metadata']['name']}" for p in env.sim.store.list("pods")[0])
    chunked = env.kubectl("get", "pods", "--chunk-size=2", "-A", "-o", "name")
    assert chunked.returncode == 0 and sorted(chunked.stdout.split()) == everything == [f"pod/{n}" for n in "abcde"], (
        chunked.stderr
    )
    table = env.kubectl("get", "pods", "--chunk-size=2", "-A")
    assert table.returncode == 0 and sorted(line.split()[1] for line in table.stdout.splitlines()[1:]) == list("abcde")
    lists = [r for r in env.sim.sim.recorded("GET", "/api/v1/pods") if r.client == "kubectl"]
    assert [(r.query["limit"], "continue" in r.query) for r in lists[:3]] == [
        (["2"], False),
        (["2"], True),
        (["2"], True),
    ]

    env.sim.sim.expire_next_continue()
    expired = env.kubectl("get", "pods", "--chunk-size=2", "-A", "-o", "name")
    assert expired.returncode == 1
    assert expired.stderr.strip() == f"Error from server (Expired): {INCONSISTENT_CONTINUE}"

    first = requests.get(f"{env.sim.url}/api/v1/pods", params={"limit": 2}, timeout=10).json()
    assert first["metadata"]["remainingItemCount"] == 3
    assert decode_continue(first["metadata"]["continue"]) == (
        "conveyor/d\x00",  # etcd key order: namespace/name
        int(first["metadata"]["resourceVersion"]),
    )
    env.sim.sim.expire_continue_tokens()
    gone = requests.get(
        f"{env.sim.url}/api/v1/pods", params={"limit": 2, "continue": first["metadata"]["continue"]}, timeout=10
    )
    assert gone.status_code == 410
    assert {k: gone.json()[k] for k in ("reason", "message", "code")} == {
        "reason": "Expired",
        "message": INCONSISTENT_CONTINUE,
        "code": 410,
    }
    fresh = gone.json()["metadata"]["continue"]
    assert decode_continue(fresh) == ("conveyor/d\x00", -1)
    rest = requests.get(f"{env.sim.url}/api/v1/pods", params={"limit": 10, "continue": fresh}, timeout=10).json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["e", "a", "b"]
    assert "continue" not in rest["metadata"]


def test_rbac_can_forbid_only_the_cluster_scope_or_some_namespaces(env: Env) -> None:
    env.sim.sim.forbid("pods", cluster_wide=True)
    everywhere = env.kubectl("get", "pods", "-A")
    assert everywhere.returncode == 1
    assert everywhere.stderr.strip() == (
        f'Error from server (Forbidden): pods is forbidden: User "{USER}" cannot list resource "pods" in API group "" '
        "at the cluster scope"
    )
    assert env.kubectl("get", "pods", "-n", NAMESPACE).returncode == 0
    env.sim.sim.forbid("jobs", namespaces=("default",))
    refused = env.kubectl("get", "jobs", "-n", "default")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f'Error from server (Forbidden): jobs.batch is forbidden: User "{USER}" cannot list resource "jobs" in API '
        'group "batch" in the namespace "default"'
    )
    assert env.kubectl("get", "jobs", "-n", NAMESPACE).returncode == 0


def test_seeded_workloads_stay_uncontrolled(env: Env) -> None:
    """seed_object keeps its old meaning (stored, listed, never run), which other tests rely on."""
    spec = {"containers": [{"name": "c", "image": env.image("v1")}], "restartPolicy": "Always"}
    for kind in ("statefulsets", "daemonsets", "jobs"):
        env.sim.cluster.seed_object(kind, NAMESPACE, f"seeded-{kind}", spec)
    assert not wait_until(lambda: bool(env.sim.store.list("pods", NAMESPACE)[0]), timeout=1.0)
    assert not env.sim.store.list("controllerrevisions", NAMESPACE)[0]
