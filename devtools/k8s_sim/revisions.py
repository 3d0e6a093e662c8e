"""ControllerRevisions as the StatefulSet and DaemonSet controllers write them (pkg/controller/history).

A revision's `data` is the strategic merge patch that restores the owner's pod template,
`{"spec":{"template":{...,"$patch":"replace"}}}`, serialised as Go's encoding/json does (keys sorted, no
spaces, `<`, `>` and `&` escaped); `kubectl rollout undo` sends exactly those bytes back as a PATCH and
compares them byte for byte with the patch it computes from the live object.

Names: a StatefulSet's revision is `<owner>-<HashControllerRevision(data, collisionCount)>`, the real hash
(FNV-1 32 over the data bytes and the collision count's decimal digits, then SafeEncodeString), so a
simulated revision name is the one a real cluster would give the same template. A DaemonSet's revision
is `<owner>-<ComputeHash(template, collisionCount)>`; the real ComputeHash hashes a Go-specific dump of the
typed template, which this simulator replaces with FNV-1a 32 over the template's JSON (same alphabet and
length, not the same value)."""

from __future__ import annotations

import copy
import json
from typing import Any

Obj = dict[str, Any]

HASH_LABEL = "controller.kubernetes.io/hash"  # history.ControllerRevisionHashLabel (StatefulSet revisions)
POD_REVISION_LABEL = "controller-revision-hash"  # apps.StatefulSetRevisionLabel / DefaultDaemonSetUniqueLabelKey
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand's alphanums


def go_json(value: Any) -> bytes:
    """`value` as Go's json.Marshal writes a map[string]interface{}: sorted keys, compact, HTML-safe."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(char, escaped)
    return text.replace("\u2029", "\\u2029").encode()


def fnv1_32(data: bytes) -> int:
    """hash/fnv.New32 (FNV-1: multiply, then xor)."""
    value = 0x811C9DC5
    for byte in data:
        value = (value * 0x01000193) & 0xFFFFFFFF
        value ^= byte
    return value


def fnv1a_32(data: bytes) -> int:
    """hash/fnv.New32a (FNV-1a: xor, then multiply)."""
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each character mapped into an alphabet without vowels (no bad words)."""
    return "".join(SAFE_ALPHABET[ord(char) % len(SAFE_ALPHABET)] for char in text)


def typed_template(template: Obj) -> Obj:
    """A pod template as a Go client re-encodes it after decoding into the typed struct: the template's
    ObjectMeta always carries `creationTimestamp: null` (a zero metav1.Time is not omitted)."""
    clean = copy.deepcopy(template)
    meta = clean.setdefault("metadata", {})
    meta.setdefault("creationTimestamp", None)
    return clean


def template_patch(template: Obj) -> Obj:
    """The ControllerRevision data for an owner whose spec.template is `template` (getPatch)."""
    replaced = typed_template(template)
    replaced["$patch"] = "replace"
    return {"spec": {"template": replaced}}


def data_bytes(data: Obj) -> bytes:
    return go_json(data)


def patched_template(data: Obj) -> Obj:
    """The pod template a revision's data restores (its $patch marker dropped)."""
    template = copy.deepcopy(data.get("spec", {}).get("template", {}))
    template.pop("$patch", None)
    return dict(template)


def hash_controller_revision(data: bytes, probe: int | None) -> str:
    """history.HashControllerRevision: FNV-1 32 of the data, then the probe's decimal digits."""
    digest = fnv1_32(data + (str(probe).encode() if probe is not None else b""))
    return safe_encode(str(digest))


def compute_hash(template: Obj, collision_count: int | None) -> str:
    """The simulator's controller.ComputeHash (see the module docstring): FNV-1a 32 of the template's JSON,
    then the collision count as 8 little-endian bytes when there is one."""
    data = go_json(typed_template(template))
    if collision_count is not None:
        data += int(collision_count).to_bytes(8, "little")
    return safe_encode(str(fnv1a_32(data)))


def revision_name(owner: str, hash_: str) -> str:
    """history.ControllerRevisionName: the owner's name (cut to 223 characters) and the hash."""
    return f"{owner[:223]}-{hash_}"


def controller_ref(owner: Obj) -> Obj:
    """metav1.NewControllerRef for `owner`."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", "apps/v1"),
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def statefulset_revision(sts: Obj, revision: int, collision_count: int) -> Obj:
    """The ControllerRevision the StatefulSet controller's newRevision builds for `sts`'s current template:
    labels = the template's plus controller.kubernetes.io/hash, annotations = the StatefulSet's."""
    template = sts["spec"]["template"]
    data = json.loads(go_json(template_patch(template)))
    hash_ = hash_controller_revision(data_bytes(data), collision_count)
    labels = dict(template.get("metadata", {}).get("labels") or {})
    labels[HASH_LABEL] = hash_
    meta: Obj = {
        "name": revision_name(sts["metadata"]["name"], hash_),
        "namespace": sts["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [controller_ref({"kind": "StatefulSet", **sts})],
    }
    if sts["metadata"].get("annotations"):
        meta["annotations"] = dict(sts["metadata"]["annotations"])
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta, "data": data, "revision": revision}


def daemonset_revision(ds: Obj, revision: int) -> Obj:
    """The ControllerRevision the DaemonSet controller's snapshot builds: labels = the template's plus
    controller-revision-hash (the DaemonSet keeps no controller.kubernetes.io/hash), annotations = the
    DaemonSet's."""
    template = ds["spec"]["template"]
    collision = ds.get("status", {}).get("collisionCount")
    hash_ = compute_hash(template, None if collision is None else int(collision))
    labels = dict(template.get("metadata", {}).get("labels") or {})
    labels[POD_REVISION_LABEL] = hash_
    meta: Obj = {
        "name": revision_name(ds["metadata"]["name"], hash_),
        "namespace": ds["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [controller_ref({"kind": "DaemonSet", **ds})],
    }
    if ds["metadata"].get("annotations"):
        meta["annotations"] = dict(ds["metadata"]["annotations"])
    data = json.loads(go_json(template_patch(template)))
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta, "data": data, "revision": revision}


def same_data(revision: Obj, template: Obj) -> bool:
    """history.EqualRevision / the DaemonSet's Match: the stored data equals the template's patch, byte for
    byte."""
    return data_bytes(revision.get("data") or {}) == go_json(template_patch(template))


def by_revision(revisions: list[Obj]) -> list[Obj]:
    """history.SortControllerRevisions: by revision number, then creation time, then name."""
    return sorted(
        revisions,
        key=lambda r: (int(r.get("revision", 0)), r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]),
    )
