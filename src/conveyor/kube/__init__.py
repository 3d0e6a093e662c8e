"""The Kubernetes side of deploying: connect (kubeconfig), set an image, wait for the rollout as kubectl
decides (and fail fast on pod failures), roll back, and list what a cluster runs for the deletion guard.
Importing this package does not import the `kubernetes` client."""

from conveyor.kube.cluster import Cluster, Connection, Timeouts
from conveyor.kube.deployment import ImageChange, Rollback, UndoPlan, plan_rollback, rollback, set_image
from conveyor.kube.errors import (
    ClusterError,
    ContinueExpired,
    DeploymentNotFound,
    ListForbidden,
    RollbackError,
    RolloutFailed,
    UnknownContainer,
)
from conveyor.kube.kubeconfig import ClusterAccess, connect, load_cluster
from conveyor.kube.pods import PodFailure
from conveyor.kube.rollout import RolloutVerdict, State, deployment_verdict
from conveyor.kube.wait import RolloutResult, WaitOptions, wait_for_rollout

__all__ = [
    "Cluster",
    "ClusterAccess",
    "ClusterError",
    "Connection",
    "ContinueExpired",
    "DeploymentNotFound",
    "ImageChange",
    "ListForbidden",
    "PodFailure",
    "Rollback",
    "RollbackError",
    "RolloutFailed",
    "RolloutResult",
    "RolloutVerdict",
    "State",
    "Timeouts",
    "UndoPlan",
    "UnknownContainer",
    "WaitOptions",
    "connect",
    "deployment_verdict",
    "load_cluster",
    "plan_rollback",
    "rollback",
    "set_image",
    "wait_for_rollout",
]
