"""A simulated Kubernetes API server, deployment controller and kubelet for Conveyor's tests."""

from devtools.k8s_sim.scenarios import SCENARIOS, Scenario
from devtools.k8s_sim.server import KubeSim

__all__ = ["SCENARIOS", "KubeSim", "Scenario"]
