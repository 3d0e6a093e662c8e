"""The rollout verdict, checked against kubectl's own table (rollout_status_test.go) and its wording."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.kube.rollout import State, deployment_verdict


def deployment(generation: int, spec_replicas: int | None, **status: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {} if spec_replicas is None else {"replicas": spec_replicas}
    # The API omits zero counts (omitempty), as kubectl's ToUnstructured does: drop them here too.
    return {
        "metadata": {"namespace": "bar", "name": "foo", "generation": generation},
        "spec": spec,
        "status": {k: v for k, v in status.items() if v != 0},
    }


# kubectl's TestDeploymentStatusViewerStatus, case by case (its messages end with "\n"; ours do not).
KUBECTL_TABLE = [
    (
        0,
        1,
        {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 0, "availableReplicas": 1},
        'Waiting for deployment "foo" rollout to finish: 0 out of 1 new replicas have been updated...',
        State.WAITING,
    ),
    (
        1,
        1,
        {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 2},
        'Waiting for deployment "foo" rollout to finish: 1 old replicas are pending termination...',
        State.WAITING,
    ),
    (
        1,
        2,
        {
            "observedGeneration": 1,
            "replicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 1,
            "unavailableReplicas": 1,
        },
        'Waiting for deployment "foo" rollout to finish: 1 of 2 updated replicas are available...',
        State.WAITING,
    ),
    (
        1,
        2,
        {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
        'deployment "foo" successfully rolled out',
        State.DONE,
    ),
    (
        2,
        2,
        {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
        "Waiting for deployment spec update to be observed...",
        State.WAITING,
    ),
]


@pytest.mark.parametrize(("generation", "replicas", "status", "message", "state"), KUBECTL_TABLE)
def test_kubectl_table(generation: int, replicas: int, status: dict[str, int], message: str, state: State) -> None:
    verdict = deployment_verdict(deployment(generation, replicas, **status))
    assert (verdict.message, verdict.state) == (message, state)


def deadline_exceeded(generation: int, observed: int) -> dict[str, Any]:
    obj = deployment(generation, 2, observedGeneration=observed, replicas=4, updatedReplicas=2, availableReplicas=2)
    obj["status"]["conditions"] = [
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},
    ]
    return obj


def test_progress_deadline_exceeded_is_a_failure_with_kubectls_words() -> None:
    verdict = deployment_verdict(deadline_exceeded(3, 3))
    assert verdict.failed and verdict.final and not verdict.done
    assert verdict.message == 'deployment "foo" exceeded its progress deadline'


def test_deadline_condition_of_an_older_generation_is_not_looked_at() -> None:
    verdict = deployment_verdict(deadline_exceeded(4, 3))
    assert verdict.state is State.WAITING
    assert verdict.message == "Waiting for deployment spec update to be observed..."


def test_progressing_true_is_not_a_failure() -> None:
    obj = deployment(1, 1, observedGeneration=1, replicas=1, updatedReplicas=1, availableReplicas=1)
    obj["status"]["conditions"] = [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]
    assert deployment_verdict(obj).done


def test_a_deployment_without_status_waits_for_the_spec_to_be_observed() -> None:
    obj = {"metadata": {"name": "web", "generation": 1}, "spec": {"replicas": 1}}
    assert deployment_verdict(obj).message == "Waiting for deployment spec update to be observed..."


def test_without_spec_replicas_the_updated_check_is_skipped_like_kubectl() -> None:
    verdict = deployment_verdict(deployment(1, None, observedGeneration=1))
    assert verdict.done


def test_scaled_to_zero_is_rolled_out() -> None:
    assert deployment_verdict(deployment(5, 0, observedGeneration=5)).done
