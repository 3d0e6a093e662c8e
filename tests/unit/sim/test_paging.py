"""List pagination tokens and chunks as the API server's etcd3 storage makes them."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from devtools.k8s_sim.paging import (
    INCONSISTENT_CONTINUE,
    InvalidContinue,
    decode_continue,
    encode_continue,
    item_key,
    paginate,
)


def pod(namespace: str, name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}}


def test_a_continue_token_is_base64url_json_without_padding() -> None:
    token = encode_continue("web-1\x00", 1234)
    assert token == "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzNCwic3RhcnQiOiJ3ZWItMVx1MDAwMCJ9"
    assert "=" not in token
    assert base64.urlsafe_b64decode(token + "==") == b'{"v":"meta.k8s.io/v1","rv":1234,"start":"web-1\\u0000"}'
    assert decode_continue(token) == ("web-1\x00", 1234)
    assert decode_continue(encode_continue("conveyor/web-1\x00", -1)) == ("conveyor/web-1\x00", -1)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("!!!", "continue key is not valid"),
        (base64.urlsafe_b64encode(b'{"v":"v2","rv":1,"start":"a"}').decode(), "does not recognize"),
        (base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":0,"start":"a"}').decode(), "resourceVersion"),
        (base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":5,"start":""}').decode(), "start key empty"),
        (base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":5,"start":"../x"}').decode(), "../x"),
    ],
)
def test_a_bad_token_is_refused(token: str, problem: str) -> None:
    with pytest.raises(InvalidContinue, match=problem.replace(".", r"\.")):
        decode_continue(token)


def test_keys_are_namespace_slash_name_only_across_namespaces() -> None:
    assert item_key(pod("conveyor", "web"), cluster_wide=True) == "conveyor/web"
    assert item_key(pod("conveyor", "web"), cluster_wide=False) == "web"
    assert item_key({"metadata": {"name": "sim-node-1"}}, cluster_wide=True) == "sim-node-1"


def test_chunks_follow_key_order_and_count_what_remains() -> None:
    items = [pod("default", "b"), pod("conveyor", "z"), pod("default", "a"), pod("a-b", "x"), pod("a", "y")]
    first = paginate(items, cluster_wide=True, limit=2, start="", rv=50, counted=True)
    assert [item_key(i, True) for i in first.items] == ["a-b/x", "a/y"]  # bytes: '-' sorts before '/'
    assert first.remaining == 3
    start, rv = decode_continue(first.token)
    assert (start, rv) == ("a/y\x00", 50)
    second = paginate(items, cluster_wide=True, limit=2, start=start, rv=rv, counted=True)
    assert [item_key(i, True) for i in second.items] == ["conveyor/z", "default/a"]
    last = paginate(items, cluster_wide=True, limit=2, start=decode_continue(second.token)[0], rv=rv, counted=True)
    assert [item_key(i, True) for i in last.items] == ["default/b"]
    assert last.token == "" and last.remaining is None


def test_no_limit_or_a_selector_changes_what_is_reported() -> None:
    items = [pod("n", str(i)) for i in range(3)]
    whole = paginate(items, cluster_wide=False, limit=0, start="", rv=9, counted=True)
    assert len(whole.items) == 3 and whole.token == "" and whole.remaining is None
    selected = paginate(items, cluster_wide=False, limit=1, start="", rv=9, counted=False)
    assert selected.token and selected.remaining is None  # unknown with a selector, as the real server


def test_the_expired_message_is_the_servers() -> None:
    assert INCONSISTENT_CONTINUE.startswith("The provided continue parameter is too old to display a consistent list")
    assert INCONSISTENT_CONTINUE.endswith(
        "objects that were created, modified, or deleted between the time the first chunk was returned and now may "
        "show up in the list."
    )
