"""Errors of the Kubernetes side. Each is a one-line ConveyorError: the task prints it without a traceback."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class ClusterError(ConveyorError):
    """The cluster is unreachable, refused a request, or the kubeconfig is unusable."""


class DeploymentNotFound(ClusterError):
    """The named Deployment does not exist in the namespace."""


class UnknownContainer(ClusterError):
    """The Deployment's pod template has no container of that name."""


class RollbackError(ClusterError):
    """There is nothing to roll back to, or the Deployment cannot be rolled back now."""


class RolloutFailed(ConveyorError):
    """The rollout failed (deadline exceeded, a failing pod, deletion, or timeout)."""


class ListForbidden(ClusterError):
    """RBAC refused a list (403): at the cluster scope, or in one namespace."""


class ContinueExpired(ClusterError):
    """410 Gone on a list's continue token: the chunks would be inconsistent; the list starts over."""
