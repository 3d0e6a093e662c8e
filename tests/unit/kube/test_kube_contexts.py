"""Kubeconfigs with several contexts and no current-context (what GitLab's agent writes): a named context
works, no name or an unknown one is one line that lists the contexts."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.kube.errors import ClusterError
from conveyor.kube.kubeconfig import choose_context, load_cluster
from tests.support.kubeharness import write_agent_kubeconfig

CONTEXTS = {"shop/deploy:staging": "shop-staging", "shop/deploy:production": "shop", "bare": ""}


@pytest.fixture
def agent_config(tmp_path: Path) -> Path:
    return write_agent_kubeconfig(tmp_path / "agent" / "config", "https://kube.example:6443", CONTEXTS)


def one_line(error: pytest.ExceptionInfo[ClusterError]) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_a_named_context_of_an_agent_kubeconfig_is_used(agent_config: Path) -> None:
    cluster = load_cluster(kubeconfig=str(agent_config), context="shop/deploy:staging", verify=False)
    assert (cluster.connection.context, cluster.connection.namespace) == ("shop/deploy:staging", "shop-staging")
    assert cluster.connection.server == "https://kube.example:6443"
    other = load_cluster(kubeconfig=str(agent_config), context="shop/deploy:production", namespace="x", verify=False)
    assert (other.connection.context, other.connection.namespace) == ("shop/deploy:production", "x")
    bare = load_cluster(kubeconfig=str(agent_config), context="bare", verify=False)
    assert bare.connection.namespace == "default"


def test_without_a_context_the_contexts_are_listed(agent_config: Path) -> None:
    with pytest.raises(ClusterError) as raised:
        load_cluster(kubeconfig=str(agent_config), verify=False)
    assert one_line(raised) == (
        f"the kubeconfig {agent_config} (--kubeconfig) has no current-context and no context was named; its "
        "contexts: shop/deploy:staging, shop/deploy:production, bare: name one: KUBE_CONTEXT, --context, or the "
        "environment's context in conveyor.environments"
    )


def test_an_unknown_context_lists_the_contexts(agent_config: Path) -> None:
    with pytest.raises(ClusterError) as raised:
        load_cluster(env_kubeconfig=str(agent_config), context="shop/deploy:prod", verify=False)
    assert one_line(raised).startswith(
        f'context "shop/deploy:prod" is not in the kubeconfig {agent_config} (KUBECONFIG); its contexts: '
        "shop/deploy:staging, shop/deploy:production, bare: name one"
    )


def test_contexts_of_a_kubeconfig_list_are_merged(agent_config: Path, tmp_path: Path) -> None:
    second = write_agent_kubeconfig(tmp_path / "second" / "config", "https://other.example", {"ops": "tools"})
    merged = f"{second}:{agent_config}"
    cluster = load_cluster(env_kubeconfig=merged, context="shop/deploy:production", verify=False)
    assert (cluster.connection.namespace, cluster.connection.server) == (
        "shop",
        "https://other.example",
    )  # kubectl: first wins
    assert load_cluster(env_kubeconfig=merged, context="ops", verify=False).connection.namespace == "tools"


def test_a_current_context_that_is_not_there(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters: [{name: c, cluster: {server: 'http://h'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: here, context: {cluster: c, user: u}}]\n"
    )
    with pytest.raises(ClusterError) as raised:
        load_cluster(kubeconfig=str(path), verify=False)
    assert 'the current-context "gone" of the kubeconfig' in one_line(raised)
    assert one_line(raised).endswith("is not among its contexts: here: " + raised.value.hint)
    assert load_cluster(kubeconfig=str(path), context="here", verify=False).connection.context == "here"


@pytest.mark.parametrize(
    ("contexts", "current", "wanted", "chosen"),
    [(["a", "b"], "b", "", "b"), (["a", "b"], "b", "a", "a"), (["a", "b"], "", "b", "b")],
)
def test_choose_context(contexts: list[str], current: str, wanted: str, chosen: str) -> None:
    assert choose_context(contexts, current, wanted, "f") == chosen


def test_a_kubeconfig_without_contexts_cannot_be_loaded() -> None:
    for wanted in ("", "a"):
        with pytest.raises(ClusterError) as raised:
            choose_context([], "", wanted, "f (KUBECONFIG)")
        assert one_line(raised) == "cannot load the kubeconfig f (KUBECONFIG): it has no contexts: check the file"


def test_a_broken_context_entry_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\ncontexts: [{name: x, context: {cluster: missing, user: u}}]\n")
    with pytest.raises(ClusterError) as raised:
        load_cluster(kubeconfig=str(path), context="x", verify=False)
    assert one_line(raised).startswith(f"cannot load context x of the kubeconfig {path} (--kubeconfig): ")


def test_the_first_file_that_sets_a_current_context_wins_as_in_kubectl(agent_config: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.write_text("apiVersion: v1\nkind: Config\ncurrent-context: shop/deploy:staging\n")
    last = tmp_path / "last"
    last.write_text("apiVersion: v1\nkind: Config\ncurrent-context: bare\n")
    cluster = load_cluster(env_kubeconfig=f"{first}:{agent_config}:{last}", verify=False)
    assert (cluster.connection.context, cluster.connection.namespace) == ("shop/deploy:staging", "shop-staging")
