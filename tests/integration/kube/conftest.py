"""Fixtures for the Kubernetes differential tests: real kubectl, a real registry, the simulated cluster."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.k8s_sim import KubeSim, Scenario
from devtools.k8s_sim.registry_push import push_image
from tests.support.integration import unavailable
from tests.support.kubeharness import NAMESPACE, REPO, Env
from tests.support.registry import RegistryProcess, registry_available


@pytest.fixture(scope="session")
def kubectl_path() -> str:
    path = shutil.which("kubectl")
    if path is None:
        unavailable("kubectl is not installed (apt-get install kubernetes-client, or google-cloud-sdk's kubectl)")
    return path


@pytest.fixture(scope="session")
def kube_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    reason = registry_available()
    if reason:
        unavailable(reason)
    process = RegistryProcess(root=tmp_path_factory.mktemp("kube-registry")).start()
    try:
        for tag in ("v1", "v2", "v3"):
            push_image(process.url, REPO, tag)
        yield process
    finally:
        process.stop()


@pytest.fixture
def make_env(tmp_path: Path, kubectl_path: str, kube_registry: RegistryProcess) -> Iterator[Callable[..., Env]]:
    started: list[KubeSim] = []

    def make(scenario: Scenario, deployments: tuple[str, ...] = ("web",)) -> Env:
        sim = KubeSim(scenario, registry=kube_registry.address).start()
        started.append(sim)
        home = tmp_path / f"home-{len(started)}"
        kubeconfig = sim.write_kubeconfig(home / ".kube" / "config", namespace=NAMESPACE)
        env = Env(sim, kubeconfig, kubectl_path, home, kube_registry)
        for name in deployments:
            sim.cluster.seed_deployment(NAMESPACE, name, env.image("v1"))
        return env

    yield make
    for sim in started:
        sim.stop()
