"""The store's consistent reads at an older resourceVersion (what a paginated list's later chunks see) and
their expiry on compaction."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.k8s_sim.store import Gone, Store


def obj(name: str, value: str = "1") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "conveyor"}, "spec": {"v": value}}


def names(items: list[dict[str, Any]]) -> list[str]:
    return [f"{i['metadata']['name']}={i['spec']['v']}" for i in items]


def test_a_snapshot_shows_objects_as_they_were() -> None:
    store = Store()
    store.create("pods", obj("a"))
    store.create("pods", obj("b"))
    store.create("jobs", obj("j"))
    rv = store.list("pods")[1]
    store.update("pods", "conveyor", "a", lambda o: o["spec"].update(v="2"))
    store.delete("pods", "conveyor", "b")
    store.create("pods", obj("c"))
    assert names(store.list("pods")[0]) == ["a=2", "c=1"]
    assert names(store.list_at("pods", "conveyor", rv)) == ["a=1", "b=1"]
    assert names(store.list_at("pods", None, rv)) == ["a=1", "b=1"]
    assert names(store.list_at("pods", "other", rv)) == []


def test_compaction_expires_older_snapshots() -> None:
    store = Store()
    store.create("pods", obj("a"))
    rv = store.list("pods")[1]
    assert names(store.list_at("pods", None, rv)) == ["a=1"]
    store.compact_now()
    with pytest.raises(Gone):
        store.list_at("pods", None, rv)
    with pytest.raises(Gone):
        store.events_after(rv, "pods", None)
    assert names(store.list_at("pods", None, store.list("pods")[1])) == ["a=1"]


def test_add_refuses_a_taken_name() -> None:
    store = Store()
    assert store.add("pods", obj("a")) is not None
    assert store.add("pods", obj("a", "2")) is None
    assert names(store.list("pods")[0]) == ["a=1"]
