"""What the deletion guard knows beyond a repository's tags, asked at most once per run and only when a
decision needs it: what the clusters of every environment Conveyor deploys to reference, and the branches
on origin. The side effects of the guard live here; the decision itself (conveyor.guard.decision) is pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from conveyor import tagnames
from conveyor.config.model import Environment
from conveyor.console import Console
from conveyor.errors import ConfigError
from conveyor.gitinfo import Branches
from conveyor.guard.decision import Facts, needs_branches
from conveyor.guard.references import ClusterView, Use
from conveyor.kube import Cluster, ClusterAccess, ClusterError, connect
from conveyor.kube.usage import images_in_use
from conveyor.registry.inventory import TagInfo

ROLE_HINT = "grant the Role in README 'What Conveyor never deletes', or pass --skip-cluster-check"


@dataclass(frozen=True)
class GuardScope:
    """What the guard weighs besides a repository's tags: the registry, the CI image's repository (never
    deployed, so no cluster is asked about it), the environments in deploy order and how many releases are
    kept for rollback."""

    registry: str
    ci_repository: str
    environments: tuple[Environment, ...]
    keep_releases: int


@dataclass
class Knowledge:
    """`strict`: a cluster that cannot be asked refuses the run before anything changes (the cleanup
    tasks); otherwise what it might use is kept (deploy, after a verified rollout). `skip_cluster_check`:
    no cluster is asked (the user said so). Connections opened by the stage are reused (`reuse`)."""

    scope: GuardScope
    access: ClusterAccess
    origin: Callable[[], Branches]
    console: Console
    skip_cluster_check: bool = False
    strict: bool = True
    opened: dict[str, Cluster] = field(default_factory=dict)
    _views: tuple[ClusterView, ...] | None = None
    _branches: Branches | None = None

    def reuse(self, environment: str, cluster: Cluster) -> None:
        """Ask `environment`'s cluster through this open connection (the caller closes it)."""
        self.opened[environment] = cluster

    def facts(self, repository: str, tags: Mapping[str, TagInfo], candidates: Iterable[str]) -> Facts:
        scope = self.scope
        clusters, note = self._clusters_for(repository)
        environments = {tagnames.GENERIC: tagnames.PRODUCTION} | {e.promotion_tag: e.name for e in scope.environments}
        return Facts(
            registry=scope.registry,
            repository=repository,
            tags=tags,
            clusters=clusters,
            cluster_note=note,
            branches=self.branches() if needs_branches(candidates) else None,
            keep_releases=scope.keep_releases,
            environments=environments,
            deploy_order=tuple(e.promotion_tag for e in scope.environments),
        )

    def check(self, repository: str) -> None:
        """Ask the clusters now, if `repository` needs them: a strict run refuses here, before any change."""
        self._clusters_for(repository)

    def clusters(self) -> tuple[ClusterView, ...]:
        """What every environment references; each one's line is printed once, which says whether the
        guard's listing is granted there."""
        if self._views is None:
            self._views = tuple(self._look(e) for e in self.scope.environments)
            for view in self._views:
                found = f"cannot list: {view.problem}" if view.problem else f"{len(view.uses)} image references"
                self.console.line(f"cluster check: {view.place}: {found}")
        return self._views

    def branches(self) -> Branches:
        if self._branches is None:
            self._branches = self.origin()
        return self._branches

    def live_branches(self) -> frozenset[str]:
        """The branches on origin, or a refusal: rules about gone branches never guess."""
        branches = self.branches()
        if branches.problem:
            raise ConfigError(
                f"cannot tell which branches exist: {branches.problem}",
                "run where origin (the GitLab project) can be reached; nothing was deleted",
            )
        return branches.names

    def _clusters_for(self, repository: str) -> tuple[tuple[ClusterView, ...] | None, str]:
        if repository == self.scope.ci_repository:
            return None, ""  # CI images are not deployed
        if self.skip_cluster_check:
            return None, "clusters not asked (--skip-cluster-check)"
        views = self.clusters()
        unknown = [view for view in views if view.problem]
        if unknown and self.strict:
            raise ClusterError(
                f"cannot tell whether {unknown[0].place} still uses {self.scope.registry}/{repository}: "
                f"{unknown[0].problem}",
                f"nothing was deleted; {ROLE_HINT}",
            )
        return views, ""

    def _look(self, environment: Environment) -> ClusterView:
        """Every image `environment` references, or why its cluster cannot be asked."""
        try:
            opened = self.opened.get(environment.name)
            if opened is not None:
                return _view(environment, opened)
            with connect(self.access, environment.context, environment.namespace) as cluster:
                return _view(environment, cluster)
        except ClusterError as error:
            return ClusterView(environment.describe(), problem=self.console.redactor.clean(str(error)))


def _view(environment: Environment, cluster: Cluster) -> ClusterView:
    uses = tuple(Use(use.image, use.where()) for use in images_in_use(cluster))
    connection = cluster.connection
    context = connection.context or "(none)"
    return ClusterView(f"environment {environment.name} (context {context}, namespace {connection.namespace})", uses)
