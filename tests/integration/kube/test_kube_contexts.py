"""A kubeconfig as GitLab's agent writes it (a context per agent, no current-context) on the simulated API
server: Conveyor and real `kubectl --context` see the same namespace and Deployment; without a context, or
with one that is not there, both refuse (Conveyor in one line that lists the contexts)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.kube import ClusterError, load_cluster, set_image
from conveyor.kube.patches import container_images
from devtools.k8s_sim import KubeSim, Scenario
from tests.support.integration import unavailable
from tests.support.kubeharness import write_agent_kubeconfig

pytestmark = pytest.mark.integration

CONTEXTS = {"gitlab/shop:staging": "shop-staging", "gitlab/shop:production": "shop"}


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Path]:
    """The agent kubeconfig of a running simulated server with Deployment web in both namespaces."""
    with KubeSim(Scenario("contexts", replicas=1), namespaces=("default", "shop-staging", "shop")) as sim:
        sim.cluster.seed_deployment("shop-staging", "web", "reg.local/shop/web:prod-staged", container="web")
        sim.cluster.seed_deployment("shop", "web", "reg.local/shop/web:prod-live", container="web")
        yield write_agent_kubeconfig(tmp_path / "agent" / "config", sim.url, CONTEXTS)


def kubectl(kubeconfig: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("kubectl")
    if path is None:
        unavailable("kubectl is not installed (apt-get install kubernetes-client)")
    argv = [path, "--kubeconfig", str(kubeconfig), "--cache-dir", str(home / "cache"), *args]
    return subprocess.run(argv, env={"HOME": str(home)}, capture_output=True, text=True, timeout=60, check=False)


def test_a_named_context_is_where_kubectl_looks(agent: Path, tmp_path: Path) -> None:
    kubeconfig = agent
    image = "{.spec.template.spec.containers[0].image}"
    for context, namespace in CONTEXTS.items():
        cluster = load_cluster(kubeconfig=str(kubeconfig), context=context)
        assert (cluster.connection.context, cluster.namespace) == (context, namespace)
        seen = kubectl(
            kubeconfig, tmp_path, "--context", context, "get", "deployment", "web", "-o", f"jsonpath={image}"
        )
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout == container_images(cluster.get_deployment("web"))["web"]
    staging = load_cluster(kubeconfig=str(kubeconfig), context="gitlab/shop:staging")
    set_image(staging, "web", "web", "reg.local/shop/web:prod-next")
    status = kubectl(
        kubeconfig, tmp_path, "--context", "gitlab/shop:staging", "rollout", "status", "deployment/web", "--timeout=30s"
    )
    assert status.returncode == 0 and 'deployment "web" successfully rolled out' in status.stdout, status.stderr
    live = kubectl(
        kubeconfig,
        tmp_path,
        "--context",
        "gitlab/shop:production",
        "get",
        "deployment",
        "web",
        "-o",
        f"jsonpath={image}",
    )
    assert live.stdout == "reg.local/shop/web:prod-live", "the other context's namespace is untouched"


def test_no_context_or_an_unknown_one_is_refused_by_both(agent: Path, tmp_path: Path) -> None:
    kubeconfig = agent
    for context in ("", "gitlab/shop:qa"):
        with pytest.raises(ClusterError) as raised:
            load_cluster(kubeconfig=str(kubeconfig), context=context or None)
        text = str(raised.value)
        assert "\n" not in text and "its contexts: gitlab/shop:staging, gitlab/shop:production" in text
        given = ("--context", context) if context else ()
        refused = kubectl(kubeconfig, tmp_path, *given, "get", "deployment", "web", "--request-timeout=5s")
        assert refused.returncode != 0, refused.stdout
    unknown = kubectl(kubeconfig, tmp_path, "--context", "gitlab/shop:qa", "get", "deployment", "web")
    assert "context was not found for specified context: gitlab/shop:qa" in unknown.stderr
