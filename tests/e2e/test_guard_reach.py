"""The deletion guard looks wherever an image can run (issue 15 A, B): every namespace of a cluster, every
context of the kubeconfig in a GitLab job, StatefulSet rollback history (ControllerRevisions), a
cluster-wide list RBAC forbids (then only the namespaces named, else nothing is deleted), and only this
project's images. Real registry, real `inv`, simulated clusters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devtools.k8s_sim import SCENARIOS, KubeSim
from devtools.k8s_sim.cluster import pod_spec
from tests.e2e.conftest import NAMESPACE, Cluster
from tests.support.example import Example
from tests.support.images import push_release
from tests.support.integration import assert_one_line_failure, registry_tags

pytestmark = pytest.mark.e2e


def two_context_kubeconfig(path: Path, first: KubeSim, second: KubeSim) -> Path:
    """A kubeconfig with context `sim` (the environment's cluster, current) and `old-cluster` (another server
    production moved away from), as a GitLab agent file lists every agent the project may use."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "sim", "cluster": {"server": first.url}},
            {"name": "old", "cluster": {"server": second.url}},
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": "sim", "context": {"cluster": "sim", "user": "u", "namespace": NAMESPACE}},
            {"name": "old-cluster", "context": {"cluster": "old", "user": "u", "namespace": NAMESPACE}},
        ],
        "current-context": "sim",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def old_cluster(example: Example) -> Iterator[KubeSim]:
    sim = KubeSim(SCENARIOS["success"], registry=example.registry.address, namespaces=("default", NAMESPACE)).start()
    try:
        yield sim
    finally:
        sim.stop()


def releases(example: Example, count: int) -> list[str]:
    return [push_release(example.registry.address, example.prod_repository(), day) for day in range(1, count + 1)]


def policy(example: Example, cluster: Cluster, *extra: str, **env: str) -> str:
    args = ("cleanup.policy", "--image", "web", "--delete", "prod-.*", "--execute", *extra)
    result = example.inv(*args, **(cluster.env() | env))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def left(example: Example) -> list[str]:
    return registry_tags(example.registry.url, example.prod_repository())


def test_a_cronjob_in_a_namespace_that_is_no_environments_keeps_its_image(example: Example, cluster: Cluster) -> None:
    tags = releases(example, 6)
    cluster.sim.store.create("namespaces", {"metadata": {"name": "cron"}, "spec": {}, "status": {"phase": "Active"}})
    cluster.sim.cluster.seed_object("cronjobs", "cron", "report", pod_spec({"report": example.prod_ref(tags[0])}))
    out = policy(example, cluster)
    assert tags[0] in left(example), "run by a CronJob in namespace cron"
    assert "in use by cronjob/report (namespace cron)" in out
    assert tags[1] not in left(example), "what nothing runs still goes"


def test_an_image_run_only_in_a_second_context_is_kept_in_a_gitlab_job(
    example: Example, cluster: Cluster, old_cluster: KubeSim, tmp_path: Path
) -> None:
    tags = releases(example, 6)
    old_cluster.cluster.seed_object("cronjobs", NAMESPACE, "legacy", pod_spec({"php": example.prod_ref(tags[1])}))
    kubeconfig = two_context_kubeconfig(tmp_path / "agent" / "config", cluster.sim, old_cluster)
    args = ("cleanup.policy", "--image", "web", "--delete", "prod-.*")
    local = example.inv(*args, **(cluster.env() | {"KUBECONFIG": str(kubeconfig)}))
    assert f"would-delete {example.prod_repository()}:{tags[1]}" in local.stdout, "outside GitLab: the environments'"
    out = policy(example, cluster, KUBECONFIG=str(kubeconfig), GITLAB_CI="true")
    assert tags[1] in left(example), "the CronJob of the other context still runs it"
    assert "cluster check: context old-cluster" in out and "in use by cronjob/legacy" in out


def test_guard_contexts_all_asks_every_context_outside_gitlab_too(
    example: Example, cluster: Cluster, old_cluster: KubeSim, tmp_path: Path
) -> None:
    tags = releases(example, 6)
    old_cluster.cluster.seed_object("cronjobs", NAMESPACE, "legacy", pod_spec({"php": example.prod_ref(tags[1])}))
    kubeconfig = two_context_kubeconfig(tmp_path / "agent" / "config", cluster.sim, old_cluster)
    invoke = example.root / "invoke.yaml"
    config = yaml.safe_load(invoke.read_text())
    config["conveyor"]["guard"] = {"contexts": "all"}
    invoke.write_text(yaml.safe_dump(config))
    example.commit("the guard asks every context")
    policy(example, cluster, KUBECONFIG=str(kubeconfig))
    assert tags[1] in left(example)


def test_a_statefulsets_previous_revision_is_kept_for_rollout_undo(example: Example, cluster: Cluster) -> None:
    tags = releases(example, 6)
    sim = cluster.sim.cluster
    sim.run_object("statefulsets", NAMESPACE, "worker", pod_spec({"worker": example.prod_ref(tags[0])}))
    assert wait_for_revisions(cluster, 1)

    def upgrade(obj: dict[str, object]) -> None:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = example.prod_ref(tags[1])  # type: ignore[index]

    cluster.sim.store.update("statefulsets", NAMESPACE, "worker", upgrade)
    assert wait_for_revisions(cluster, 2)
    out = policy(example, cluster)
    assert tags[0] in left(example), "kubectl rollout undo statefulset/worker returns to it"
    assert "in use by controllerrevision/" in out and "of statefulset/worker, kept for rollout undo" in out


def wait_for_revisions(cluster: Cluster, count: int) -> bool:
    from tests.support.kubeharness import wait_until

    return wait_until(lambda: len(cluster.sim.store.list("controllerrevisions", NAMESPACE)[0]) >= count)


def test_a_forbidden_cluster_wide_list_without_namespaces_keeps_everything(example: Example, cluster: Cluster) -> None:
    tags = releases(example, 6)
    cluster.sim.sim.forbid("cronjobs", cluster_wide=True)
    result = example.inv("cleanup.policy", "--image", "web", "--delete", "prod-.*", "--execute", **cluster.env())
    assert_one_line_failure(result, "cannot list cronjobs in every namespace (context sim)", "ClusterRole")
    assert sorted(left(example)) == sorted(tags), "nothing was deleted"


def test_named_namespaces_let_a_guard_without_cluster_wide_rights_decide(example: Example, cluster: Cluster) -> None:
    tags = releases(example, 6)
    cluster.sim.sim.forbid("cronjobs", cluster_wide=True)
    invoke = example.root / "invoke.yaml"
    config = yaml.safe_load(invoke.read_text())
    config["conveyor"]["guard"] = {"namespaces": ["cron"]}
    invoke.write_text(yaml.safe_dump(config))
    example.commit("the guard lists namespace cron too")
    policy(example, cluster)
    assert tags[0] not in left(example) and tags[-1] in left(example)


def test_cleanup_of_another_projects_image_is_refused(example: Example, cluster: Cluster) -> None:
    other = f"{example.registry.address}/otherteam/app"
    push_release(example.registry.address, "otherteam/app", 1)
    (tag,) = registry_tags(example.registry.url, "otherteam/app")
    result = example.inv("cleanup", "--tag", f"{other}:{tag}", **cluster.env())
    assert_one_line_failure(result, "outside this project's images", "never asks another project's clusters")
    assert registry_tags(example.registry.url, "otherteam/app") == [tag]
