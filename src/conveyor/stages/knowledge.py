"""What the deletion guard knows beyond a repository's tags, asked at most once per run and only when a
decision needs it: what the clusters reference, in every namespace, and the branches on origin. The side
effects of the guard live here; the decision itself (conveyor.guard.decision) is pure.

Which clusters: in GitLab CI every context of the kubeconfig (the agent's file lists exactly the agents the
project may use), elsewhere the environments' contexts; `guard: {contexts: [...] | all}` replaces that
default. Contexts that reach the same server as the same user are asked once. Each is asked without stdin
for credential plugins and within a deadline; one that cannot be asked is a place that cannot be asked."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from conveyor import tagnames
from conveyor.config.model import Environment, GuardSettings
from conveyor.console import Console
from conveyor.errors import CleanupRefused, ConfigError
from conveyor.gitinfo import Branches
from conveyor.guard.decision import Facts, needs_branches
from conveyor.guard.references import ClusterView, Use
from conveyor.kube import Cluster, ClusterAccess, ClusterError, Timeouts, connect
from conveyor.kube.kubeconfig import ContextEntry, contexts
from conveyor.kube.usage import ImageUse, images_in_cluster
from conveyor.registry.inventory import TagInfo

ROLE_HINT = "grant the ClusterRole in README 'What Conveyor never deletes', or pass --skip-cluster-check"


@dataclass(frozen=True)
class GuardScope:
    """What the guard weighs besides a repository's tags: the registry, the project's repository path (every
    repository cleaned is under it), the CI image's repository (no cluster is asked about it unless
    `guard.ci_images`), the environments in deploy order, how many releases are kept for rollback, where the
    guard looks (`guard`), whether this is a GitLab job, and how long one cluster may take to answer."""

    registry: str
    project: str
    ci_repository: str
    environments: tuple[Environment, ...]
    keep_releases: int
    guard: GuardSettings = field(default_factory=GuardSettings)
    in_gitlab: bool = False
    deadline: float = 60.0

    def check_home(self, repository: str) -> None:
        """Refuse a repository outside this project's images: another project's clusters are never asked."""
        if repository != self.project and not repository.startswith(f"{self.project}/"):
            raise CleanupRefused(
                f"{self.registry}/{repository} is outside this project's images ({self.registry}/{self.project}): "
                "Conveyor deletes only there, because it never asks another project's clusters what they run",
                f"give a repository under {self.registry}/{self.project} (CI_REGISTRY_IMAGE); nothing was deleted",
            )


@dataclass(frozen=True)
class Lookout:
    """One cluster the guard asks: a kubeconfig context, the others reaching the same server as the same user
    (asked once), the environments deployed there, and the namespaces to list where a cluster-wide list is
    forbidden (None: none were named, so a forbidden list means the guard cannot know)."""

    context: str
    also: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    fallback: tuple[str, ...] | None = None

    def describe(self) -> str:
        notes = [f"environment {', '.join(self.environments)}"] if self.environments else []
        notes += [f"also {', '.join(self.also)}: the same server and user"] if self.also else []
        return f"context {self.context}" + (f" ({'; '.join(notes)})" if notes else "")


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

    def reuse(self, cluster: Cluster) -> None:
        """Ask the context of this open connection through it (the caller closes it)."""
        self.opened[cluster.connection.context] = cluster

    def facts(self, repository: str, tags: Mapping[str, TagInfo], candidates: Iterable[str]) -> Facts:
        scope = self.scope
        scope.check_home(repository)
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
        self.scope.check_home(repository)
        self._clusters_for(repository)

    def clusters(self) -> tuple[ClusterView, ...]:
        """What every cluster references; each one's line is printed once, which says whether the guard's
        listing is granted there."""
        if self._views is None:
            try:
                self._views = tuple(self._look(lookout) for lookout in self.lookouts())
            except ClusterError as error:  # the kubeconfig itself cannot be read: no cluster can be asked
                self._views = (ClusterView("the clusters", problem=self.console.redactor.clean(str(error))),)
            for view in self._views:
                found = f"cannot list: {view.problem}" if view.problem else f"{len(view.uses)} image references"
                self.console.line(f"cluster check: {view.place}: {found}")
        return self._views

    def lookouts(self) -> list[Lookout]:
        """The clusters to ask (see the module's docstring), each once."""
        entries, current = contexts(self.access)
        guard = self.scope.guard
        if guard.all_contexts or (guard.contexts is None and self.scope.in_gitlab):
            wanted = [entry.name for entry in entries]
        elif guard.contexts is not None:
            wanted = list(guard.contexts)
        else:
            wanted = [self._context_of(environment, current) for environment in self.scope.environments]
        return group_lookouts(entries, wanted, self.scope, current)

    def _context_of(self, environment: Environment, current: str) -> str:
        if environment.context or current:
            return environment.context or current
        raise ClusterError(
            f"environment {environment.name} names no context and the kubeconfig has no current-context",
            "give the environment a context (conveyor.environments), or set one (KUBE_CONTEXT)",
        )

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
        if repository == self.scope.ci_repository and not self.scope.guard.ci_images:
            return None, ""  # CI images are not deployed (unless guard.ci_images: review apps run them)
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

    def _look(self, lookout: Lookout) -> ClusterView:
        """Every image `lookout`'s cluster references, or why it cannot be asked."""
        seconds = self.scope.deadline
        ends = time.monotonic() + seconds

        def deadline() -> None:
            if time.monotonic() > ends:
                raise ClusterError(f"did not answer within {seconds:g} s", "check the cluster, or raise the deadline")

        try:
            opened = self.opened.get(lookout.context)
            if opened is not None:
                return _view(lookout, images_in_cluster(opened, lookout.fallback, deadline))
            timeouts = Timeouts(connect=min(5.0, seconds), read=min(30.0, seconds))
            with connect(self.access, lookout.context, verify=False, timeouts=timeouts, interactive=False) as cluster:
                return _view(lookout, images_in_cluster(cluster, lookout.fallback, deadline))
        except ClusterError as error:
            return ClusterView(lookout.describe(), problem=self.console.redactor.clean(str(error)))


def group_lookouts(
    entries: Sequence[ContextEntry], wanted: Sequence[str], scope: GuardScope, current: str
) -> list[Lookout]:
    """The contexts `wanted`, in order, grouped by the server and user they reach (one lookout per group),
    with the environments deployed there and, when guard.namespaces names some, the namespaces to list
    where a cluster-wide list is forbidden (those, plus each environment's own). A context the kubeconfig
    does not have raises ClusterError."""
    by_name = {entry.name: entry for entry in entries}
    groups: dict[tuple[str, str], list[ContextEntry]] = {}
    for name in dict.fromkeys(wanted):
        if name not in by_name:
            listed = ", ".join(by_name) or "none"
            raise ClusterError(f'context "{name}" is not in the kubeconfig; its contexts: {listed}', ROLE_HINT)
        entry = by_name[name]
        groups.setdefault((entry.server, entry.user), []).append(entry)
    lookouts = []
    for members in groups.values():
        names = {member.name for member in members}
        here = [e for e in scope.environments if (e.context or current) in names]
        fallback = None
        if scope.guard.namespaces:
            own = [e.namespace or by_name[e.context or current].namespace or "default" for e in here]
            fallback = tuple(dict.fromkeys([*scope.guard.namespaces, *own]))
        also = tuple(member.name for member in members[1:])
        lookouts.append(Lookout(members[0].name, also, tuple(e.name for e in here), fallback))
    return lookouts


def _view(lookout: Lookout, uses: Sequence[ImageUse]) -> ClusterView:
    return ClusterView(lookout.describe(), tuple(Use(use.image, use.where()) for use in uses))
