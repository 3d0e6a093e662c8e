"""What the simulated API server stores for a POST: the real defaults, a Job's generated selector, and the
validation errors it answers 422 with."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.k8s_sim.defaults import Invalid, prepare_create, pull_policy


def template(image: str = "reg.local/app:v1", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": image}], **spec}}


def test_a_statefulset_keeps_a_nil_rolling_update_when_the_type_is_given() -> None:
    given = prepare_create(
        "statefulsets",
        "StatefulSet",
        "apps",
        {"metadata": {"name": "db"}, "spec": {"template": template(), "updateStrategy": {"type": "RollingUpdate"}}},
    )
    assert given["spec"]["updateStrategy"] == {
        "type": "RollingUpdate"
    }  # kubectl: "statefulset rolling update complete"
    defaulted = prepare_create(
        "statefulsets", "StatefulSet", "apps", {"metadata": {"name": "db"}, "spec": {"template": template()}}
    )
    assert defaulted["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert defaulted["spec"]["podManagementPolicy"] == "OrderedReady"
    assert defaulted["spec"]["replicas"] == 1 and defaulted["spec"]["revisionHistoryLimit"] == 10
    assert defaulted["status"] == {"replicas": 0, "availableReplicas": 0}
    assert defaulted["metadata"]["generation"] == 1 and defaulted["metadata"]["uid"]
    container = defaulted["spec"]["template"]["spec"]["containers"][0]
    assert container == {
        "name": "app",
        "image": "reg.local/app:v1",
        "imagePullPolicy": "IfNotPresent",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def test_a_daemonset_and_a_deployment_get_their_rolling_update_defaults() -> None:
    ds = prepare_create(
        "daemonsets", "DaemonSet", "apps", {"metadata": {"name": "agent"}, "spec": {"template": template()}}
    )
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    deploy = prepare_create(
        "deployments", "Deployment", "apps", {"metadata": {"name": "web"}, "spec": {"template": template()}}
    )
    assert deploy["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert deploy["spec"]["progressDeadlineSeconds"] == 600


def test_a_job_gets_a_selector_naming_its_uid_and_labels_from_its_template() -> None:
    job = prepare_create(
        "jobs", "Job", "batch", {"metadata": {"name": "once"}, "spec": {"template": template(restartPolicy="Never")}}
    )
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = {
        "app": "web",
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "once",
        "controller-uid": uid,
        "job-name": "once",
    }
    assert job["spec"]["template"]["metadata"]["labels"] == labels == job["metadata"]["labels"]
    spec = {k: v for k, v in job["spec"].items() if k not in ("selector", "template")}
    assert spec == {
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
    }


def test_what_validation_refuses() -> None:
    with pytest.raises(Invalid) as nameless:
        prepare_create("jobs", "Job", "batch", {"metadata": {}, "spec": {"template": template(restartPolicy="Never")}})
    assert (
        nameless.value.message
        == 'Job.batch "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    assert nameless.value.details == {
        "group": "batch",
        "kind": "Job",
        "causes": [
            {
                "reason": "FieldValueRequired",
                "message": "Required value: name or generateName is required",
                "field": "metadata.name",
            }
        ],
    }
    with pytest.raises(Invalid) as always:
        prepare_create("jobs", "Job", "batch", {"metadata": {"name": "once"}, "spec": {"template": template()}})
    assert always.value.message == (
        'Job.batch "once" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": '
        'supported values: "OnFailure", "Never"'
    )
    with pytest.raises(Invalid, match=r'^Pod "" is invalid: metadata\.name'):
        prepare_create("pods", "Pod", "", {"metadata": {}, "spec": template()["spec"]})


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("app", "Always"),
        ("app:latest", "Always"),
        ("reg:5000/app", "Always"),
        ("reg:5000/app:v1", "IfNotPresent"),
        ("app@sha256:ab", "IfNotPresent"),
    ],
)
def test_the_default_pull_policy(image: str, policy: str) -> None:
    assert pull_policy(image) == policy
