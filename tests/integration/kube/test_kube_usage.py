"""Which images a cluster references: Conveyor's images_in_cluster against real `kubectl get -A -o json` on the
same simulated cluster, RBAC refusals, and the ReplicaSet history the deployment controller prunes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.kube import ClusterError, load_cluster, set_image
from conveyor.kube.usage import KINDS, ImageUse, images_in_cluster, images_of
from conveyor.kube.wait import WaitOptions, wait_for_rollout
from devtools.k8s_sim import SCENARIOS
from devtools.k8s_sim.cluster import pod_spec
from devtools.k8s_sim.registry_push import push_image
from tests.support.kubeharness import NAMESPACE, REPO, Env, wait_until

pytestmark = pytest.mark.integration

EVERY_KIND = ",".join(kind for kind, _ in KINDS)


def conveyor_uses(env: Env) -> list[ImageUse]:
    with load_cluster(kubeconfig=str(env.kubeconfig)) as cluster:
        return images_in_cluster(cluster)


def kubectl_images(env: Env) -> set[str]:
    """The images real kubectl shows, extracted from its JSON as Conveyor extracts them."""
    shown = env.kubectl("get", EVERY_KIND, "--all-namespaces", "--chunk-size=2", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    return {use.image for item in json.loads(shown.stdout)["items"] for use in images_of(item["kind"], item)}


def roll(env: Env, *tags: str) -> None:
    """Set web's image to each tag in turn (with a change cause), waiting for every rollout."""
    with load_cluster(kubeconfig=str(env.kubeconfig)) as cluster:
        for tag in tags:
            assert set_image(cluster, "web", "app", env.image(tag), change_cause=f"to {tag}").changed
            assert wait_for_rollout(cluster, "web", WaitOptions(timeout=30)).ok


def settled(env: Env, pods: int) -> bool:
    """`pods` pods, none terminating, each reporting the imageID of every container."""
    listed = env.sim.store.list("pods", NAMESPACE)[0]

    def pulled(pod: dict[str, Any]) -> bool:
        statuses = pod.get("status", {}).get("containerStatuses", [])
        return len(statuses) == len(pod["spec"]["containers"]) and all(s["imageID"] for s in statuses)

    return len(listed) == pods and all(pulled(pod) and not pod["metadata"].get("deletionTimestamp") for pod in listed)


def test_conveyor_finds_what_kubectl_shows(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"])
    registry = env.registry.address
    tool = {tag: push_image(env.registry.url, "conveyor/tool", tag) for tag in ("pod", "pod-init")}
    roll(env, "v2", "v3")
    other = {name: f"{registry}/conveyor/{name}" for name in ("db", "agent", "report", "task", "tool")}
    seeds = {
        "statefulsets": ("db", pod_spec({"db": other["db"] + ":sts"}, {"migrate": other["db"] + ":sts-init"})),
        "daemonsets": ("agent", pod_spec({"agent": other["agent"] + ":ds"})),
        "cronjobs": ("nightly", pod_spec({"report": other["report"] + ":cj"}, {"fetch": other["report"] + ":cj-init"})),
        "jobs": ("once", pod_spec({"task": other["task"] + ":job"})),
        "pods": ("debug", pod_spec({"shell": other["tool"] + ":pod"}, {"setup": other["tool"] + ":pod-init"})),
    }
    for kind, (name, spec) in seeds.items():
        env.sim.cluster.seed_object(kind, NAMESPACE, name, spec)
    assert wait_until(lambda: settled(env, pods=3))

    asked_before = len(env.sim.sim.recorded("GET"))
    uses = conveyor_uses(env)
    v3 = push_image(env.registry.url, REPO, "v3")  # the same content again: the digest the kubelet saw
    expected = {env.image(tag) for tag in ("v1", "v2", "v3")} | {f"{registry}/{REPO}@{v3}"}
    expected |= {
        *(f"{other[name]}:{tag}" for name, tag in [("db", "sts"), ("db", "sts-init"), ("agent", "ds")]),
        *(f"{other[name]}:{tag}" for name, tag in [("report", "cj"), ("report", "cj-init"), ("task", "job")]),
        *(f"{other['tool']}:{tag}" for tag in tool),
        *(f"{other['tool']}@{digest}" for digest in tool.values()),
    }
    assert {use.image for use in uses} == kubectl_images(env) == expected
    where = {(use.image, use.where()) for use in uses}
    old = next(u for u in uses if u.kind == "replicaset" and u.image == env.image("v1"))
    assert (
        old.where()
        == f"replicaset/{old.name} (namespace conveyor, revision 1 of deployment/web, kept for rollout undo)"
    )
    assert (env.image("v3"), "deployment/web (namespace conveyor, revision 3)") in where
    assert (other["report"] + ":cj-init", "cronjob/nightly (namespace conveyor, init container fetch)") in where
    assert (f"{other['tool']}@{tool['pod']}", "pod/debug (namespace conveyor, running (imageID))") in where
    # one cluster-wide list request per kind (every namespace), in chunks, without a selector
    kinds = {kind for kind, _ in KINDS}
    asked = env.sim.sim.recorded("GET")[asked_before:]
    listed = [r for r in asked if r.client == "python" and r.path.rsplit("/", 1)[-1] in kinds]
    assert sorted(r.path for r in listed) == sorted(f"{group}/{kind}" for kind, group in KINDS)
    queries = [r.query for r in listed]
    assert all("limit" in query and not any("Selector" in key for key in query) for query in queries), queries


@pytest.mark.parametrize(
    ("kind", "qualified", "group"), [("cronjobs", "cronjobs.batch", "batch"), ("pods", "pods", "")]
)
def test_a_forbidden_kind_fails_like_kubectl(
    make_env: Callable[..., Env], kind: str, qualified: str, group: str
) -> None:
    env = make_env(SCENARIOS["success"])
    env.sim.cluster.seed_object("cronjobs", NAMESPACE, "nightly", pod_spec({"report": env.image("v2")}))
    env.sim.sim.forbidden.add(kind)
    refusal = (
        f'{qualified} is forbidden: User "system:serviceaccount:conveyor:deployer" cannot list resource "{kind}" '
        f'in API group "{group}" at the cluster scope'
    )
    shown = env.kubectl("get", EVERY_KIND, "--all-namespaces", "--chunk-size=2", "-o", "json")
    assert shown.returncode == 1
    assert shown.stderr.strip() == f"Error from server (Forbidden): {refusal}"
    assert "deployment.apps/web" in env.kubectl("get", EVERY_KIND, "-n", NAMESPACE, "-o", "name").stdout  # the rest
    with pytest.raises(ClusterError) as refused:  # Conveyor gives no partial answer
        conveyor_uses(env)
    assert str(refused.value) == (
        f"cannot list {kind} in every namespace (context sim): {refusal}, so the guard cannot know what else runs "
        "there: grant the read-only ClusterRole conveyor-guard (README 'What Conveyor never deletes'), or name the "
        "namespaces to look in (conveyor.guard.namespaces); the kubeconfig's user needs a rule allowing verbs get "
        f'and list on resource "{kind}" in API group "{group}" at the cluster scope (a ClusterRole)'
    )


def test_replicaset_history_is_pruned_to_the_revision_history_limit(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"], deployments=())
    env.sim.cluster.seed_deployment(NAMESPACE, "web", env.image("v1"), revision_history_limit=2)
    digests = {tag: push_image(env.registry.url, REPO, tag) for tag in ("v4", "v5", "v6")}
    roll(env, "v2", "v3", "v4", "v5", "v6")

    def replicasets() -> list[str]:
        return env.kubectl("get", "rs", "-n", NAMESPACE, "-o", "name").stdout.split()

    assert wait_until(lambda: len(replicasets()) == 3), replicasets()
    table = env.kubectl("get", "rs", "-n", NAMESPACE)
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 1 + 3, table.stdout
    history = env.kubectl("rollout", "history", "deployment/web", "-n", NAMESPACE)
    assert history.returncode == 0, history.stderr
    rows = [line.split(None, 1) for line in history.stdout.splitlines() if line[:1].isdigit()]
    assert rows == [["4", "to v4"], ["5", "to v5"], ["6", "to v6"]], history.stdout
    assert wait_until(lambda: settled(env, pods=2))

    uses = conveyor_uses(env)
    kept = {env.image(tag) for tag in ("v4", "v5", "v6")}
    assert {use.image for use in uses if use.kind in ("deployment", "replicaset")} == kept
    assert {use.image for use in uses} == kept | {f"{env.registry.address}/{REPO}@{digests['v6']}"}
    assert {use.image for use in uses} == kubectl_images(env)
    revisions = sorted(use.detail for use in uses if use.kind == "replicaset")
    assert revisions == [
        "revision 4 of deployment/web, kept for rollout undo",
        "revision 5 of deployment/web, kept for rollout undo",
        "revision 6 of deployment/web",
    ]


def test_kinds_without_objects_are_empty_lists(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"])
    shown = env.kubectl("get", "sts,ds,cj,jobs", "-n", NAMESPACE)
    assert (shown.returncode, shown.stdout, shown.stderr.strip()) == (
        0,
        "",
        "No resources found in conveyor namespace.",
    )
    resources = env.kubectl("api-resources", "--api-group=batch", "-o", "wide")
    assert resources.returncode == 0 and "cj" in resources.stdout and "CronJob" in resources.stdout, resources
    assert {use.kind for use in conveyor_uses(env)} == {"deployment", "replicaset", "pod"}
