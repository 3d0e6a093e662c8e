"""The simulator's patch and selector semantics (what a real API server does with kubectl's bodies)."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.k8s_sim.patch import PatchError, field_match, json_patch, label_match, merge_patch, strategic_merge
from devtools.k8s_sim.store import Gone, Store

DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "web", "annotations": {"a": "1"}},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {"name": "app", "image": "a:1", "ports": [{"containerPort": 80}]},
                    {"name": "side", "image": "s:1"},
                ]
            }
        }
    },
}


def test_strategic_merge_merges_containers_by_name() -> None:
    patch = {
        "metadata": {"annotations": {"b": "2"}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
                    "containers": [{"image": "s:2", "name": "side"}],
                }
            }
        },
    }
    merged = strategic_merge(DEPLOYMENT, patch)
    assert merged["metadata"]["annotations"] == {"a": "1", "b": "2"}
    assert merged["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "image": "a:1", "ports": [{"containerPort": 80}]},
        {"name": "side", "image": "s:2"},
    ]
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][1]["image"] == "s:1"  # input untouched


def test_strategic_merge_null_deletes_and_patch_delete_removes_an_element() -> None:
    patch = {
        "metadata": {"annotations": {"a": None}},
        "spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}},
    }
    merged = strategic_merge(DEPLOYMENT, patch)
    assert merged["metadata"]["annotations"] == {}
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["app"]


def test_strategic_merge_needs_the_merge_key() -> None:
    with pytest.raises(PatchError):
        strategic_merge(DEPLOYMENT, {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})


def test_merge_patch_replaces_lists() -> None:
    merged = merge_patch(DEPLOYMENT, {"spec": {"template": {"spec": {"containers": [{"name": "only"}]}}}})
    assert merged["spec"]["template"]["spec"]["containers"] == [{"name": "only"}]


def test_json_patch_replace_and_its_failure() -> None:
    patched = json_patch(
        DEPLOYMENT,
        [
            {"op": "replace", "path": "/metadata/annotations", "value": {"z": "9"}},
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "a:2"},
        ],
    )
    assert patched["metadata"]["annotations"] == {"z": "9"}
    assert patched["spec"]["template"]["spec"]["containers"][0]["image"] == "a:2"
    with pytest.raises(PatchError):
        json_patch(DEPLOYMENT, [{"op": "replace", "path": "/metadata/labels", "value": {}}])


def test_selectors() -> None:
    labels = {"app": "web", "pod-template-hash": "abc"}
    assert label_match("app=web,pod-template-hash=abc", labels)
    assert not label_match("app=web,pod-template-hash=xyz", labels)
    assert label_match("app in (web, api),tier!=db", labels)
    assert not label_match("app notin (web)", labels)
    assert label_match("", labels)
    event = {"involvedObject": {"kind": "Pod", "name": "web-1"}}
    assert field_match("involvedObject.kind=Pod,involvedObject.name=web-1", event)
    assert not field_match("involvedObject.name=web-2", event)


def test_store_versions_rise_and_compaction_makes_old_versions_gone() -> None:
    store = Store()
    first = store.create("deployments", {"metadata": {"name": "a", "namespace": "n"}, "spec": {"x": 1}})
    second = store.update("deployments", "n", "a", lambda d: d["spec"].update(x=2))
    assert second is not None
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert second["metadata"]["generation"] == 2  # a spec change bumps the generation
    same = store.update("deployments", "n", "a", lambda d: None)
    assert same is not None and same["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    assert [e.type for e in store.events_after(int(first["metadata"]["resourceVersion"]) - 1, "deployments", "n")] == [
        "ADDED",
        "MODIFIED",
    ]
    store.compact()
    with pytest.raises(Gone):
        store.events_after(int(first["metadata"]["resourceVersion"]), "deployments", "n")
