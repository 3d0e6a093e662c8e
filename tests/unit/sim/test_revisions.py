"""ControllerRevision hashing and data, as pkg/controller/history and the StatefulSet/DaemonSet controllers
compute them (what `kubectl rollout undo` compares byte for byte)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.k8s_sim.defaults import pod_spec
from devtools.k8s_sim.revisions import (
    HASH_LABEL,
    POD_REVISION_LABEL,
    by_revision,
    compute_hash,
    daemonset_revision,
    fnv1_32,
    fnv1a_32,
    go_json,
    hash_controller_revision,
    patched_template,
    safe_encode,
    same_data,
    statefulset_revision,
    template_patch,
)

TEMPLATE: dict[str, Any] = {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec({"app": "reg.local/app:v1"})}


def owner(kind: str, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web", "namespace": "conveyor", "uid": "u-1", "generation": 1}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": {"template": TEMPLATE}, "status": {}}


@pytest.mark.parametrize(
    ("data", "fnv1", "fnv1a"),
    [(b"", 0x811C9DC5, 0x811C9DC5), (b"a", 0x050C5D7E, 0xE40C292C), (b"foobar", 0x31F0B262, 0xBF9CF968)],
)
def test_fnv_matches_the_reference_vectors(data: bytes, fnv1: int, fnv1a: int) -> None:
    assert fnv1_32(data) == fnv1
    assert fnv1a_32(data) == fnv1a


def test_safe_encode_maps_digits_as_apimachinery_does() -> None:
    assert safe_encode("0123456789") == "456789bcdf"
    assert safe_encode("") == ""


def test_go_json_is_sorted_compact_and_html_safe() -> None:
    assert go_json({"b": 1, "a": {"d": None, "c": [True, "x<y&z>"]}}) == (
        b'{"a":{"c":[true,"x\\u003cy\\u0026z\\u003e"],"d":null},"b":1}'
    )
    assert go_json({"s": "caf\u00e9"}) == '{"s":"caf\u00e9"}'.encode()  # UTF-8, not \u escapes


def test_the_template_patch_replaces_the_whole_template_with_a_typed_metadata() -> None:
    patch = template_patch(TEMPLATE)
    encoded = go_json(patch)
    assert encoded.startswith(
        b'{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"app":"web"}},'
        b'"spec":{"containers":[{"image":"reg.local/app:v1","imagePullPolicy":"IfNotPresent","name":"app",'
    )
    assert encoded.endswith(b'"terminationGracePeriodSeconds":30}}}}')
    assert patched_template(patch) == {
        "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
        "spec": TEMPLATE["spec"],
    }
    assert "creationTimestamp" not in TEMPLATE["metadata"]  # the input is not touched


def test_hash_controller_revision_is_fnv1_of_the_data_then_the_collision_count() -> None:
    data = go_json(template_patch(TEMPLATE))
    expected = safe_encode(str(fnv1_32(data + b"0")))
    assert hash_controller_revision(data, 0) == expected
    assert hash_controller_revision(data, 1) == safe_encode(str(fnv1_32(data + b"1"))) != expected
    assert hash_controller_revision(data, None) == safe_encode(str(fnv1_32(data)))
    assert set(expected) <= set("456789bcdf")


def test_a_statefulset_revision_is_named_labelled_and_owned_as_the_controller_makes_it() -> None:
    sts = owner("StatefulSet", **{"kubernetes.io/change-cause": "to v1"})
    revision = statefulset_revision(sts, 3, 0)
    hash_ = hash_controller_revision(go_json(template_patch(TEMPLATE)), 0)
    assert revision["metadata"]["name"] == f"web-{hash_}"
    assert revision["metadata"]["labels"] == {"app": "web", HASH_LABEL: hash_}
    assert revision["metadata"]["annotations"] == {"kubernetes.io/change-cause": "to v1"}
    assert revision["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": "web",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert revision["revision"] == 3
    assert json.dumps(revision["data"], separators=(",", ":")).encode() == go_json(template_patch(TEMPLATE))
    assert statefulset_revision(sts, 3, 1)["metadata"]["name"] != revision["metadata"]["name"]


def test_a_daemonset_revision_carries_controller_revision_hash_and_no_history_hash_label() -> None:
    ds = owner("DaemonSet")
    revision = daemonset_revision(ds, 1)
    hash_ = compute_hash(TEMPLATE, None)
    assert revision["metadata"]["name"] == f"web-{hash_}"
    assert revision["metadata"]["labels"] == {"app": "web", POD_REVISION_LABEL: hash_}
    assert "annotations" not in revision["metadata"]
    ds["status"]["collisionCount"] = 1
    assert daemonset_revision(ds, 1)["metadata"]["name"] == f"web-{compute_hash(TEMPLATE, 1)}" != f"web-{hash_}"


def test_revisions_match_a_template_by_their_data_bytes() -> None:
    revision = statefulset_revision(owner("StatefulSet"), 1, 0)
    assert same_data(revision, TEMPLATE)
    other = {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec({"app": "reg.local/app:v2"})}
    assert not same_data(revision, other)
    stored = {**TEMPLATE, "metadata": {"labels": {"app": "web"}, "creationTimestamp": None}}
    assert same_data(revision, stored)  # a template read back with creationTimestamp: null is the same one


def test_revisions_sort_by_number_then_age_then_name() -> None:
    def rev(name: str, number: int, stamp: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "creationTimestamp": stamp}, "revision": number}

    ordered = by_revision([rev("c", 2, "t1"), rev("b", 1, "t2"), rev("a", 1, "t2"), rev("d", 1, "t0")])
    assert [r["metadata"]["name"] for r in ordered] == ["d", "a", "b", "c"]
