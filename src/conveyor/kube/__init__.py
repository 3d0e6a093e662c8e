"""The Kubernetes side of `inv deploy`: set an image, wait for the rollout as kubectl decides (and fail
fast on pod failures), roll back. Importing this package does not import the `kubernetes` client."""

from conveyor.kube.cluster import Cluster, Target, Timeouts, load_cluster
from conveyor.kube.deployment import ImageChange, Rollback, UndoPlan, plan_rollback, rollback, set_image
from conveyor.kube.errors import ClusterError, DeploymentNotFound, RollbackError, RolloutFailed, UnknownContainer
from conveyor.kube.pods import PodFailure
from conveyor.kube.rollout import State, Verdict, deployment_verdict
from conveyor.kube.wait import RolloutResult, WaitOptions, wait_for_rollout

__all__ = [
    "Cluster",
    "ClusterError",
    "DeploymentNotFound",
    "ImageChange",
    "PodFailure",
    "Rollback",
    "RollbackError",
    "RolloutFailed",
    "RolloutResult",
    "State",
    "Target",
    "Timeouts",
    "UndoPlan",
    "UnknownContainer",
    "Verdict",
    "WaitOptions",
    "deployment_verdict",
    "load_cluster",
    "plan_rollback",
    "rollback",
    "set_image",
    "wait_for_rollout",
]
