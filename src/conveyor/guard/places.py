"""The places Conveyor deploys to, seen from their clusters: connecting to one, and every image it
references (for the deletion guard)."""

from __future__ import annotations

from pathlib import Path

from conveyor.config.settings import Place
from conveyor.guard.decision import ClusterView, Use
from conveyor.kube import Cluster, ClusterError, load_cluster
from conveyor.kube.usage import images_in_use
from conveyor.stages.toolbox import Toolbox


def connect(tools: Toolbox, place: Place, kubeconfig: str = "") -> Cluster:
    """The place's cluster: --kubeconfig, KUBECONFIG, ~/.kube/config, then in-cluster; the place's context
    (else the current one) and namespace (else the context's)."""
    settings = tools.settings
    in_cluster = {
        "KUBERNETES_SERVICE_HOST": settings.kubernetes_service_host,
        "KUBERNETES_SERVICE_PORT": settings.kubernetes_service_port,
    }
    return load_cluster(
        kubeconfig=kubeconfig or None,
        env_kubeconfig=settings.kubeconfig or None,
        namespace=place.namespace or None,
        context=place.context or None,
        home=Path.home(),
        environ={key: value for key, value in in_cluster.items() if value},
    )


def look(tools: Toolbox, place: Place, opened: Cluster | None = None) -> ClusterView:
    """Every image `place` references, or why its cluster cannot be asked. `opened`: a connection to
    reuse (and leave open)."""
    try:
        if opened is not None:
            return _view(place, opened)
        with connect(tools, place) as cluster:
            return _view(place, cluster)
    except ClusterError as error:
        return ClusterView(place.describe(), problem=tools.console.redactor.clean(str(error)))


def _view(place: Place, cluster: Cluster) -> ClusterView:
    uses = tuple(Use(use.image, use.where()) for use in images_in_use(cluster))
    target = cluster.target
    where = f"environment {place.environment} (context {target.context or '(none)'}, namespace {target.namespace})"
    return ClusterView(where, uses)
