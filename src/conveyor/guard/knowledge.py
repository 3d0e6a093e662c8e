"""What the deletion guard knows beyond a repository's tags, asked at most once per run and only when a
decision needs it: what the clusters of every place Conveyor deploys to reference, and the branches on
origin. The side effects of the guard live here; the decision itself (conveyor.guard.decision) is pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from conveyor import tagnames
from conveyor.errors import ConfigError
from conveyor.guard.decision import Branches, ClusterView, Facts, TagInfo, needs_branches
from conveyor.guard.places import look
from conveyor.kube import Cluster, ClusterError
from conveyor.stages.toolbox import Toolbox

ROLE_HINT = "grant the Role in README 'What Conveyor never deletes', or pass --skip-cluster-check"


@dataclass
class Knowledge:
    """`strict`: a cluster that cannot be asked refuses the run before anything changes (the cleanup
    tasks); otherwise what it might use is kept (deploy, after a verified rollout). `opened`: connections
    to reuse, by environment."""

    tools: Toolbox
    origin: Callable[[], Branches]
    skip_cluster_check: bool = False
    strict: bool = True
    opened: Mapping[str, Cluster] = field(default_factory=dict)
    _views: tuple[ClusterView, ...] | None = None
    _branches: Branches | None = None

    def facts(self, repository: str, tags: Mapping[str, TagInfo], candidates: Iterable[str]) -> Facts:
        settings = self.tools.settings
        clusters, note = self._clusters_for(repository)
        environments = {tagnames.GENERIC: tagnames.PRODUCTION} | {
            p.promotion_tag: p.environment for p in settings.places
        }
        return Facts(
            registry=settings.registry,
            repository=repository,
            tags=tags,
            clusters=clusters,
            cluster_note=note,
            branches=self.branches() if needs_branches(candidates) else None,
            keep_releases=settings.keep_releases,
            environments=environments,
            deploy_order=tuple(p.promotion_tag for p in settings.places),
        )

    def check(self, repository: str) -> None:
        """Ask the clusters now, if `repository` needs them: a strict run refuses here, before any change."""
        self._clusters_for(repository)

    def clusters(self) -> tuple[ClusterView, ...]:
        """What every place references; each place's line is printed once, which says whether the guard's
        listing is granted there."""
        if self._views is None:
            places = self.tools.settings.places
            self._views = tuple(look(self.tools, p, self.opened.get(p.environment)) for p in places)
            for view in self._views:
                found = f"cannot list: {view.problem}" if view.problem else f"{len(view.uses)} image references"
                self.tools.console.line(f"cluster check: {view.place}: {found}")
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
        if repository == self.tools.settings.images.ci_commit.repository:
            return None, ""  # CI images are not deployed
        if self.skip_cluster_check:
            return None, "clusters not asked (--skip-cluster-check)"
        views = self.clusters()
        unknown = [view for view in views if view.problem]
        if unknown and self.strict:
            raise ClusterError(
                f"cannot tell whether {unknown[0].place} still uses {self.tools.settings.registry}/{repository}: "
                f"{unknown[0].problem}",
                f"nothing was deleted; {ROLE_HINT}",
            )
        return views, ""
