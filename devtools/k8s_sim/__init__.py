"""A simulated Kubernetes cluster for Conveyor's tests: an API server that real kubectl and the kubernetes
client talk to, the Deployment, ReplicaSet, StatefulSet, DaemonSet and Job controllers, a garbage collector
and the kubelet of N simulated nodes (see server.py and cluster.py)."""

from devtools.k8s_sim.scenarios import SCENARIOS, Scenario
from devtools.k8s_sim.server import KubeSim

__all__ = ["SCENARIOS", "KubeSim", "Scenario"]
