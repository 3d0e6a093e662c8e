"""The client wrapper and the simulator's watch protocol, through the real `kubernetes` client (no kubectl
or registry needed): resourceVersions, fieldSelector, server and client timeouts, 410 Gone, dropped
connections, context and namespace reporting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.kube import load_cluster
from conveyor.kube.cluster import Cluster, WatchExpired, WatchInterrupted
from devtools.k8s_sim import KubeSim, Scenario

pytestmark = pytest.mark.integration


@pytest.fixture
def sim() -> Iterator[KubeSim]:
    with KubeSim(Scenario("protocol", replicas=1)) as started:
        started.cluster.seed_deployment("conveyor", "web", "reg.local/app:v1")
        started.cluster.seed_deployment("conveyor", "other", "reg.local/app:v1")
        yield started


def connect(sim: KubeSim, tmp_path: Path, namespace: str | None = None) -> Cluster:
    return load_cluster(kubeconfig=str(sim.write_kubeconfig(tmp_path / "config")), namespace=namespace)


def test_target_reports_context_and_namespace(sim: KubeSim, tmp_path: Path) -> None:
    cluster = connect(sim, tmp_path)
    assert (cluster.connection.context, cluster.connection.namespace, cluster.connection.server) == (
        "sim",
        "conveyor",
        sim.url,
    )
    assert (
        cluster.connection.describe()
        == f"context sim, namespace conveyor ({sim.url}, from --kubeconfig {tmp_path}/config)"
    )
    assert connect(sim, tmp_path, namespace="default").namespace == "default"


def test_list_answers_the_collection_resource_version(sim: KubeSim, tmp_path: Path) -> None:
    cluster = connect(sim, tmp_path)
    deployment, rv = cluster.list_deployment("web")
    assert deployment["metadata"]["name"] == "web"
    assert int(rv) >= int(deployment["metadata"]["resourceVersion"])


def test_watch_sees_only_the_named_deployment_in_rising_versions(sim: KubeSim, tmp_path: Path) -> None:
    cluster = connect(sim, tmp_path)
    _, rv = cluster.list_deployment("web")
    for name in ("other", "web"):
        sim.store.update("deployments", "conveyor", name, lambda d: d["metadata"].update(labels={"x": "1"}))
    started = time.monotonic()
    events = list(cluster.watch_deployment("web", rv, 1))
    assert 0.9 < time.monotonic() - started < 4  # timeoutSeconds ends the watch on the server side
    assert [e.object["metadata"]["name"] for e in events] == ["web"]
    versions = [int(e.object["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(rv)
    [watch] = [r for r in sim.sim.recorded("GET", "/deployments") if r.query.get("watch")]
    assert watch.query["fieldSelector"] == ["metadata.name=web"] and watch.query["timeoutSeconds"] == ["1"]


def test_too_old_resource_version_is_410_gone(sim: KubeSim, tmp_path: Path) -> None:
    cluster = connect(sim, tmp_path)
    _, rv = cluster.list_deployment("web")
    sim.store.compact()
    sim.store.update("deployments", "conveyor", "web", lambda d: d["metadata"].update(labels={"y": "1"}))
    with pytest.raises(WatchExpired, match="too old resource version"):
        list(cluster.watch_deployment("web", str(int(rv) - 1), 2))


def test_dropped_connection_is_an_interruption(tmp_path: Path) -> None:
    with KubeSim(Scenario("drop", replicas=1, drop_watches_after=0.3)) as sim:
        sim.cluster.seed_deployment("conveyor", "web", "reg.local/app:v1")
        cluster = connect(sim, tmp_path)
        _, rv = cluster.list_deployment("web")
        with pytest.raises(WatchInterrupted):
            list(cluster.watch_deployment("web", rv, 5))
        assert sim.sim.counters["dropped:python"] == 1
