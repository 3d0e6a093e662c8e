"""Real `kubectl` and Conveyor against the same simulated cluster: same verdicts, same words, and Conveyor
fails fast on pod failures where kubectl waits for the progress deadline."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.kube import ImageChange, RollbackError, RolloutResult, load_cluster, rollback, set_image
from conveyor.kube.wait import WaitOptions, wait_for_rollout
from devtools.k8s_sim import SCENARIOS, Scenario
from tests.support.kubeharness import NAMESPACE, Env, wait_until

pytestmark = pytest.mark.integration

KUBECTL_MESSAGES = [
    re.compile(r'Waiting for deployment "web" rollout to finish: \d+ out of \d+ new replicas have been updated\.\.\.'),
    re.compile(r'Waiting for deployment "web" rollout to finish: \d+ old replicas are pending termination\.\.\.'),
    re.compile(r'Waiting for deployment "web" rollout to finish: \d+ of \d+ updated replicas are available\.\.\.'),
    re.compile(r"Waiting for deployment spec update to be observed\.\.\."),
    re.compile(r'deployment "web" successfully rolled out'),
]
# A message each scenario shows for long enough that both watchers must print it.
CHARACTERISTIC = {
    "slow-success": 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
    "stale-observed-generation": "Waiting for deployment spec update to be observed...",
    "old-replicas-pending-termination": 'Waiting for deployment "web" rollout to finish: 2 old replicas are pending '
    "termination...",
    "unavailable-replicas": 'Waiting for deployment "web" rollout to finish: 0 of 2 updated replicas are available...',
}
POD_FAILURE_REASONS = {
    "image-pull-failure": {"ErrImagePull", "ImagePullBackOff"},
    "crash-loop": {"CrashLoopBackOff", "Error"},
    "unschedulable": {"Unschedulable"},
}
KUBECTL_TIMEOUT = 60


def start_rollout(env: Env, scenario: Scenario) -> ImageChange:
    cluster = load_cluster(kubeconfig=str(env.kubeconfig))
    tag = "never-pushed" if scenario.name == "image-pull-failure" else "v2"
    change = set_image(cluster, "web", "app", env.image(tag), change_cause=f"conveyor test {scenario.name}")
    assert change.changed
    return change


def conveyor_wait(env: Env, timeout: float) -> tuple[RolloutResult, list[str], float]:
    cluster = load_cluster(kubeconfig=str(env.kubeconfig))
    messages: list[str] = []
    started = time.monotonic()
    result = wait_for_rollout(cluster, "web", WaitOptions(timeout=timeout), on_message=messages.append)
    return result, messages, time.monotonic() - started


def run_both(env: Env) -> tuple[RolloutResult, list[str], float, int, list[str], str, float]:
    """kubectl rollout status (a process) and Conveyor's wait (a thread here), started together."""
    started = time.monotonic()
    kubectl = env.kubectl_popen("rollout", "status", "deployment/web", f"--timeout={KUBECTL_TIMEOUT}s")
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(value=conveyor_wait(env, KUBECTL_TIMEOUT)))
    thread.start()
    out, err = kubectl.communicate(timeout=KUBECTL_TIMEOUT + 30)
    kubectl_elapsed = time.monotonic() - started
    thread.join(timeout=KUBECTL_TIMEOUT + 30)
    result, messages, elapsed = outcome["value"]
    return result, messages, elapsed, kubectl.returncode, out.splitlines(), err.strip(), kubectl_elapsed


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_same_verdict_and_words_as_kubectl(make_env: Callable[..., Env], scenario: Scenario) -> None:
    env = make_env(scenario)
    start_rollout(env, scenario)
    result, messages, elapsed, kubectl_rc, kubectl_out, kubectl_err, kubectl_elapsed = run_both(env)
    report = f"conveyor={result} messages={messages} kubectl rc={kubectl_rc} out={kubectl_out} err={kubectl_err!r}"

    assert result.ok == scenario.expect_success == (kubectl_rc == 0), report
    # Conveyor's progress lines are kubectl's sentences, each printed once when it changes.
    for message in messages:
        assert any(p.fullmatch(message) for p in KUBECTL_MESSAGES), message
    assert all(a != b for a, b in itertools.pairwise(messages)), messages
    if scenario.name in CHARACTERISTIC:
        assert CHARACTERISTIC[scenario.name] in messages, report
        assert CHARACTERISTIC[scenario.name] in kubectl_out, report
    if scenario.expect_success:
        assert result.message == kubectl_out[-1] == 'deployment "web" successfully rolled out', report
    elif scenario.pod_failure:
        assert_fails_fast(env, scenario, result, elapsed, kubectl_err, kubectl_elapsed)
    elif scenario.name == "deleted":
        assert kubectl_err == "error: object has been deleted", report
        assert result.message == 'deployment "web" was deleted while waiting for its rollout'
    else:
        assert kubectl_err == f"error: {result.message}", report
        assert result.message == 'deployment "web" exceeded its progress deadline'
    counters = env.sim.sim.counters
    if scenario.compact_history:
        # every write compacts the history, so a watch usually meets 410 Gone before the server cuts it
        assert counters.get("gone:python", 0) > 0, counters
        assert counters.get("gone:kubectl", 0) + counters.get("dropped:kubectl", 0) > 0, counters
    elif scenario.drop_watches_after:
        assert counters.get("dropped:python", 0) > 0 and counters.get("dropped:kubectl", 0) > 0, counters


def assert_fails_fast(
    env: Env, scenario: Scenario, result: RolloutResult, elapsed: float, kubectl_err: str, kubectl_elapsed: float
) -> None:
    failure = result.failure
    assert failure is not None, result
    assert elapsed < 15, f"Conveyor took {elapsed:.1f}s to see {failure}"
    assert failure.reason in POD_FAILURE_REASONS[scenario.name], failure
    deployment = env.sim.store.get("deployments", NAMESPACE, "web")
    assert deployment is not None
    new_pods = env.sim.cluster.selector_pods(NAMESPACE, "app=web")
    new_image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert failure.pod in {p["metadata"]["name"] for p in new_pods if p["spec"]["containers"][0]["image"] == new_image}
    assert failure.pod in result.message and failure.reason in result.message
    if scenario.name != "unschedulable":
        assert failure.container == "app" and "container app" in result.message
        assert failure.event, failure
    # kubectl never looks at pods: it waits for the controller's verdict at progressDeadlineSeconds.
    assert kubectl_err == 'error: deployment "web" exceeded its progress deadline'
    assert kubectl_elapsed >= scenario.progress_deadline - 1


def test_image_pull_failure_names_the_missing_tag(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["image-pull-failure"])
    start_rollout(env, SCENARIOS["image-pull-failure"])
    result, _, elapsed = conveyor_wait(env, 30)
    assert not result.ok and elapsed < 15
    assert f"{env.image('never-pushed')}" in result.message


# -- set image ------------------------------------------------------------------------------------------------
def patch_bodies(env: Env, name: str) -> list[tuple[str, str, Any]]:
    return [
        (r.client, r.content_type, json.loads(r.body)) for r in env.sim.sim.recorded("PATCH", f"/deployments/{name}")
    ]


def test_set_image_sends_kubectls_patch(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"], deployments=("web", "twin"))
    assert env.kubectl("set", "image", "deployment/web", f"app={env.image('v2')}").returncode == 0
    cluster = load_cluster(kubeconfig=str(env.kubeconfig))
    change = set_image(cluster, "twin", "app", env.image("v2"))
    assert change.changed and change.previous_image == env.image("v1") and change.generation == 2
    [(_, kubectl_type, kubectl_body)] = patch_bodies(env, "web")
    [(client, conveyor_type, conveyor_body)] = patch_bodies(env, "twin")
    assert client == "python"
    assert conveyor_type == kubectl_type == "application/strategic-merge-patch+json"
    assert conveyor_body == kubectl_body
    [kubectl_request] = [r for r in env.sim.sim.recorded("PATCH") if r.client == "kubectl"]
    [conveyor_request] = [r for r in env.sim.sim.recorded("PATCH") if r.client == "python"]
    assert kubectl_request.query == {"fieldManager": ["kubectl-set"]}
    assert conveyor_request.query == {"fieldManager": ["conveyor"]}
    assert list(conveyor_body["spec"]["template"]["spec"]) == list(kubectl_body["spec"]["template"]["spec"])


def test_change_cause_is_sent_as_kubectl_record_does(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"], deployments=("web", "twin"))
    assert env.kubectl("set", "image", "deployment/web", f"app={env.image('v2')}", "--record").returncode == 0
    set_image(load_cluster(kubeconfig=str(env.kubeconfig)), "twin", "app", env.image("v2"), change_cause="deploy")
    [(_, _, kubectl_body)] = patch_bodies(env, "web")
    [(_, _, conveyor_body)] = patch_bodies(env, "twin")
    assert conveyor_body["spec"] == kubectl_body["spec"]
    assert list(conveyor_body) == list(kubectl_body) == ["metadata", "spec"]
    assert set(kubectl_body["metadata"]["annotations"]) == {"kubernetes.io/change-cause"}
    assert conveyor_body["metadata"] == {"annotations": {"kubernetes.io/change-cause": "deploy"}}


def test_same_image_is_no_change_and_sends_nothing(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"])
    change = set_image(load_cluster(kubeconfig=str(env.kubeconfig)), "web", "app", env.image("v1"))
    assert not change.changed
    assert "no change" in change.describe() and "rolled out" not in change.describe()
    assert env.sim.sim.recorded("PATCH") == []


# -- rollback ---------------------------------------------------------------------------------------------------
def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def test_rollback_is_kubectl_rollout_undo(make_env: Callable[..., Env]) -> None:
    by_kubectl, by_conveyor = make_env(SCENARIOS["success"]), make_env(SCENARIOS["success"])
    clusters = [load_cluster(kubeconfig=str(env.kubeconfig)) for env in (by_kubectl, by_conveyor)]
    for cluster in clusters:
        set_image(cluster, "web", "app", by_kubectl.image("v2"), change_cause="to v2")
        assert wait_for_rollout(cluster, "web", WaitOptions(timeout=30)).ok
    undo = by_kubectl.kubectl("rollout", "undo", "deployment/web")
    assert undo.stdout.strip() == "deployment.apps/web rolled back", undo
    done = rollback(clusters[1], "web")
    assert (done.rolled_back, done.message, done.revision) == (True, "rolled back", 1)
    [(_, _, kubectl_patch)] = [b for b in patch_bodies(by_kubectl, "web") if b[1] == "application/json-patch+json"]
    [(_, _, conveyor_patch)] = [b for b in patch_bodies(by_conveyor, "web") if b[1] == "application/json-patch+json"]
    assert drop_nulls(conveyor_patch) == drop_nulls(kubectl_patch)  # kubectl adds "creationTimestamp": null
    assert [op["path"] for op in conveyor_patch] == ["/spec/template", "/metadata/annotations"]

    def revision(env: Env) -> str:
        deployment = env.sim.store.get("deployments", NAMESPACE, "web") or {}
        return str(deployment.get("metadata", {}).get("annotations", {}).get("deployment.kubernetes.io/revision"))

    assert wait_until(lambda: revision(by_kubectl) == revision(by_conveyor) == "3")
    web, twin = (env.sim.store.get("deployments", NAMESPACE, "web") for env in (by_kubectl, by_conveyor))
    assert web is not None and twin is not None
    assert web["spec"]["template"] == twin["spec"]["template"]
    assert twin["spec"]["template"]["spec"]["containers"][0]["image"] == by_conveyor.image("v1")
    assert wait_for_rollout(clusters[1], "web", WaitOptions(timeout=30)).ok
    again = rollback(clusters[1], "web")  # the previous revision is now v2's: undo the undo, like kubectl
    assert again.revision == 2 and again.rolled_back


def test_rollback_without_history_is_one_clear_error(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"])
    with pytest.raises(RollbackError, match='no rollout history found for deployment "web"'):
        rollback(load_cluster(kubeconfig=str(env.kubeconfig)), "web")
    kubectl = env.kubectl("rollout", "undo", "deployment/web")
    assert kubectl.returncode == 1 and 'no rollout history found for deployment "web"' in kubectl.stderr
    assert env.sim.sim.recorded("PATCH") == []


def test_timeout_is_a_failure_for_both(make_env: Callable[..., Env]) -> None:
    env = make_env(Scenario("never-ready-in-time", ready_delay=60.0, recreate=True))
    start_rollout(env, SCENARIOS["success"])
    kubectl = env.kubectl_popen("rollout", "status", "deployment/web", "--timeout=3s")
    result, messages, elapsed = conveyor_wait(env, 3)
    out, err = kubectl.communicate(timeout=30)
    assert kubectl.returncode == 1 and err.strip() == "error: timed out waiting for the condition"
    assert not result.ok and 3 <= elapsed < 6
    last = 'Waiting for deployment "web" rollout to finish: 0 of 2 updated replicas are available...'
    assert out.splitlines()[-1] == messages[-1] == last
    assert result.message == f'deployment "web" did not finish rolling out within 3s (last status: {last})'
