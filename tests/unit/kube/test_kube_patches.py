"""The bodies Conveyor sends: kubectl set image's strategic merge patch and rollout undo's JSON patch."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.kube.errors import RollbackError, UnknownContainer
from conveyor.kube.patches import container_images, rollback_plan, set_image_patch

Obj = dict[str, Any]

# What kubectl v1.32 `set image deployment/web app=reg.local/app:v2` sent to the simulator, byte for byte.
KUBECTL_SET_IMAGE_BODY = (
    '{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"app"}],'
    '"containers":[{"image":"reg.local/app:v2","name":"app"}]}}}}'
)


def deployment(*containers: tuple[str, str], init: tuple[str, str] | None = None, paused: bool = False) -> Obj:
    spec: Obj = {"containers": [{"name": n, "image": i, "resources": {}} for n, i in containers]}
    if init:
        spec["initContainers"] = [{"name": init[0], "image": init[1]}]
    return {
        "metadata": {"name": "web", "uid": "dep-uid", "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"paused": paused, "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec}},
    }


def compact(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def test_set_image_body_is_kubectls_byte_for_byte() -> None:
    body = set_image_patch(deployment(("app", "reg.local/app:v1")), "app", "reg.local/app:v2")
    assert compact(body) == KUBECTL_SET_IMAGE_BODY


def test_set_image_keeps_the_order_of_every_container() -> None:
    body = set_image_patch(deployment(("a", "x:1"), ("b", "y:1")), "b", "y:2")
    assert body == {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                    "containers": [{"image": "y:2", "name": "b"}],
                }
            }
        }
    }


def test_set_image_with_change_cause_is_kubectls_record_form() -> None:
    body = set_image_patch(deployment(("app", "r/app:v1")), "app", "r/app:v2", change_cause="deploy abc123")
    assert body is not None
    assert list(body) == ["metadata", "spec"]
    assert body["metadata"] == {"annotations": {"kubernetes.io/change-cause": "deploy abc123"}}


def test_set_image_on_an_init_container() -> None:
    body = set_image_patch(deployment(("app", "a:1"), init=("migrate", "m:1")), "migrate", "m:2")
    assert body is not None
    assert body["spec"]["template"]["spec"]["initContainers"] == [{"image": "m:2", "name": "migrate"}]


def test_same_image_is_no_change() -> None:
    assert set_image_patch(deployment(("app", "r/app:v1")), "app", "r/app:v1") is None


def test_unknown_container_names_the_known_ones() -> None:
    with pytest.raises(UnknownContainer) as raised:
        set_image_patch(deployment(("app", "a:1"), ("side", "s:1")), "nope", "x:1")
    assert str(raised.value) == 'deployment "web" has no container "nope": its containers are: app, side'


def test_container_images() -> None:
    assert container_images(deployment(("app", "a:1"), init=("m", "m:1"))) == {"app": "a:1", "m": "m:1"}


# -- rollback ------------------------------------------------------------------------------------------------
def replicaset(revision: str, image: str, pod_hash: str, annotations: Obj | None = None) -> Obj:
    return {
        "metadata": {
            "name": f"web-{pod_hash}",
            "annotations": {"deployment.kubernetes.io/revision": revision, **(annotations or {})},
            "ownerReferences": [{"uid": "dep-uid", "controller": True}],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": pod_hash}},
                "spec": {"containers": [{"name": "app", "image": image, "resources": {}}]},
            }
        },
    }


def test_rollback_copies_the_previous_template_without_the_hash_label() -> None:
    current = deployment(("app", "r/app:v2"))
    current["metadata"]["annotations"]["kubernetes.io/change-cause"] = "v2"
    sets = [
        replicaset(
            "1",
            "r/app:v1",
            "aaa",
            {"kubernetes.io/change-cause": "v1", "deployment.kubernetes.io/desired-replicas": "2"},
        ),
        replicaset("2", "r/app:v2", "bbb"),
    ]
    plan = rollback_plan(current, sets)
    assert plan.revision == 1 and not plan.skipped
    assert plan.patch == [
        {
            "op": "replace",
            "path": "/spec/template",
            "value": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "r/app:v1", "resources": {}}]},
            },
        },
        {
            "op": "replace",
            "path": "/metadata/annotations",
            "value": {"deployment.kubernetes.io/revision": "2", "kubernetes.io/change-cause": "v1"},
        },
    ]


def test_rollback_to_a_named_revision() -> None:
    sets = [replicaset("1", "r/app:v1", "aaa"), replicaset("2", "r/app:v2", "bbb"), replicaset("3", "r/app:v3", "ccc")]
    assert rollback_plan(deployment(("app", "r/app:v3")), sets, to_revision=1).revision == 1
    with pytest.raises(RollbackError, match="unable to find specified revision 7 in history"):
        rollback_plan(deployment(("app", "r/app:v3")), sets, to_revision=7)


def test_rollback_skipped_when_the_template_already_matches() -> None:
    sets = [replicaset("1", "r/app:v1", "aaa"), replicaset("2", "r/app:v1", "bbb")]
    plan = rollback_plan(deployment(("app", "r/app:v1")), sets)
    assert plan.skipped == "skipped rollback (current template already matches revision 1)"
    assert plan.patch == []


def test_rollback_without_history() -> None:
    with pytest.raises(RollbackError, match='no rollout history found for deployment "web"'):
        rollback_plan(deployment(("app", "r/app:v1")), [replicaset("1", "r/app:v1", "aaa")])


def test_rollback_of_a_paused_deployment_is_refused() -> None:
    sets = [replicaset("1", "r/app:v1", "aaa"), replicaset("2", "r/app:v2", "bbb")]
    with pytest.raises(RollbackError, match="you cannot rollback a paused deployment"):
        rollback_plan(deployment(("app", "r/app:v2"), paused=True), sets)


def test_rollback_ignores_replicasets_of_other_owners() -> None:
    stranger = replicaset("9", "r/app:v0", "zzz")
    stranger["metadata"]["ownerReferences"] = [{"uid": "other", "controller": True}]
    sets = [replicaset("1", "r/app:v1", "aaa"), replicaset("2", "r/app:v2", "bbb"), stranger]
    assert rollback_plan(deployment(("app", "r/app:v2")), sets).revision == 1
