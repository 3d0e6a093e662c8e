"""Bad input ends with one line naming the problem, and nothing changed in the cluster."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conveyor.kube import ClusterError, DeploymentNotFound, UnknownContainer, load_cluster, set_image
from conveyor.kube.wait import WaitOptions, wait_for_rollout
from devtools.k8s_sim import SCENARIOS
from tests.support.kubeharness import Env

pytestmark = pytest.mark.integration


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unknown_deployment(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"])
    cluster = load_cluster(kubeconfig=str(env.kubeconfig))
    with pytest.raises(DeploymentNotFound) as raised:
        set_image(cluster, "nope", "app", env.image("v2"))
    assert one_line(raised.value).startswith('deployment "nope" not found in namespace "conveyor"')
    with pytest.raises(DeploymentNotFound):
        wait_for_rollout(cluster, "nope", WaitOptions(timeout=5))
    assert env.sim.sim.recorded("PATCH") == []


def test_unknown_container_changes_nothing(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"])
    cluster = load_cluster(kubeconfig=str(env.kubeconfig))
    with pytest.raises(UnknownContainer) as raised:
        set_image(cluster, "web", "nginx", env.image("v2"))
    assert one_line(raised.value) == 'deployment "web" has no container "nginx": its containers are: app'
    assert env.sim.sim.recorded("PATCH") == []
    kubectl = env.kubectl("set", "image", "deployment/web", f"nginx={env.image('v2')}")
    assert kubectl.returncode != 0 and "unable to find container named" in kubectl.stderr


def test_wrong_namespace(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"])
    with pytest.raises(ClusterError) as raised:
        load_cluster(kubeconfig=str(env.kubeconfig), namespace="nope")
    assert one_line(raised.value).startswith('namespace "nope" not found in context sim')


def test_unreachable_cluster_fails_fast_with_the_address(tmp_path: Path) -> None:
    port = closed_port()
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: gone, context: {cluster: c, user: u, namespace: conveyor}}]\n"
    )
    started = time.monotonic()
    with pytest.raises(ClusterError) as raised:
        load_cluster(kubeconfig=str(kubeconfig))
    assert time.monotonic() - started < 10
    assert one_line(raised.value).startswith(
        f"contacting the cluster: cannot reach the Kubernetes API at http://127.0.0.1:{port} "
        "([Errno 111] Connection refused): check that the cluster is up"
    )


@pytest.mark.parametrize(
    "content",
    ["::: not yaml [", "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", None],
    ids=["garbage", "no-context", "missing-file"],
)
def test_bad_kubeconfig(tmp_path: Path, content: str | None) -> None:
    kubeconfig = tmp_path / "config"
    if content is not None:
        kubeconfig.write_text(content)
    with pytest.raises(ClusterError) as raised:
        load_cluster(kubeconfig=str(kubeconfig))
    if content is None:
        assert one_line(raised.value).startswith(f"the kubeconfig {kubeconfig} (--kubeconfig) does not exist")
    else:
        assert one_line(raised.value).startswith(f"cannot load the kubeconfig {kubeconfig} (--kubeconfig)")


def test_command_line_prints_one_line_without_traceback(make_env: Callable[..., Env], tmp_path: Path) -> None:
    env = make_env(SCENARIOS["success"])
    broken = tmp_path / "broken"
    broken.write_text("::: not yaml [")
    for args, kubeconfig in (
        (("status", "nope", "--timeout", "5"), None),
        (("set-image", "web", f"nginx={env.image('v2')}"), None),
        (("status", "web"), broken),
    ):
        done = env.conveyor_cli(*args, kubeconfig=kubeconfig)
        assert done.returncode == 1, done
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert env.sim.sim.recorded("PATCH") == []


def test_command_line_set_image_then_status(make_env: Callable[..., Env]) -> None:
    env = make_env(SCENARIOS["success"])
    changed = env.conveyor_cli("set-image", "web", f"app={env.image('v2')}")
    assert changed.returncode == 0 and changed.stdout.strip().endswith(f"-> {env.image('v2')}"), changed
    status = env.conveyor_cli("status", "web", "--timeout", "30")
    assert status.returncode == 0 and status.stdout.strip().endswith('deployment "web" successfully rolled out')
    again = env.conveyor_cli("set-image", "web", f"app={env.image('v2')}")
    assert again.returncode == 0 and again.stdout.strip().endswith("no change"), again
