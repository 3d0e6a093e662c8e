"""The simulated cluster for end-to-end runs: its kubelet pulls from the example's real registry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.k8s_sim import SCENARIOS, KubeSim
from tests.support.example import Example

NAMESPACE = "conveyor"


@dataclass
class Cluster:
    sim: KubeSim
    kubeconfig: Path

    def deployment(self, name: str = "web") -> dict[str, Any]:
        deployment = self.sim.cluster.store.get("deployments", NAMESPACE, name)
        assert deployment is not None, f"deployment {name} is not in the simulated cluster"
        return deployment

    def image(self, name: str = "web") -> str:
        return str(self.deployment(name)["spec"]["template"]["spec"]["containers"][0]["image"])

    def generation(self, name: str = "web") -> int:
        return int(self.deployment(name)["metadata"]["generation"])

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig), "KUBE_NAMESPACE": NAMESPACE}


@contextmanager
def simulated_cluster(example: Example, directory: Path, history_limit: int = 10) -> Iterator[Cluster]:
    """A cluster whose Deployment web (container web, `history_limit` old ReplicaSets kept) runs the base
    image, healthy; its kubelet pulls from the example's registry."""
    sim = KubeSim(SCENARIOS["success"], registry=example.registry.address).start()
    try:
        kubeconfig = sim.write_kubeconfig(directory / "kube" / "config", namespace=NAMESPACE)
        sim.cluster.seed_deployment(
            NAMESPACE, "web", example.base_image, container="web", revision_history_limit=history_limit
        )
        yield Cluster(sim, kubeconfig)
    finally:
        sim.stop()


@pytest.fixture
def cluster(example: Example, tmp_path: Path) -> Iterator[Cluster]:
    with simulated_cluster(example, tmp_path) as sim:
        yield sim
