"""The composition root of one run: the settings, the console and the stop signal, and every narrow value
the stages take, built from them here and nowhere else: the registry credentials (resolved once, for the
registry API, the Docker SDK and compose), a registry client with its options, the Docker session (one
environment for every subprocess, logging compose in), cluster access, the compose projects of the CI and
prod images, the build targets, the deletion guard's knowledge, and this commit's release in an
environment. Built once per task by the task layer; tests build it with their own console and settings."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.config.model import Environment
from conveyor.config.settings import Settings
from conveyor.console import Console
from conveyor.docker import compose
from conveyor.docker.compose import ComposeProject
from conveyor.docker.engine import Auth, Engine
from conveyor.docker.session import Connect, DockerSession, Login
from conveyor.gitinfo import GitAnswer
from conveyor.interrupt import Stop
from conveyor.kube import ClusterAccess
from conveyor.process import Runner
from conveyor.reference import ImageReference
from conveyor.registry import GitLabTagsApi, RegistryClient, RegistryOptions
from conveyor.registry.credentials import Credentials, resolve_credentials
from conveyor.stages.build import BuildTarget
from conveyor.stages.knowledge import GuardScope, Knowledge
from conveyor.stages.releases import Release
from conveyor.stages.reports import Reports
from conveyor.stages.rollouts import Waiting


@dataclass(frozen=True)
class Toolbox:
    settings: Settings
    console: Console
    connect: Connect = Engine
    stop: Stop = field(default_factory=Stop)  # set by Ctrl-C / SIGTERM once the task layer listens

    @functools.cached_property
    def credentials(self) -> Credentials | None:
        """The registry credentials, by the one precedence (conveyor.registry.credentials)."""
        settings = self.settings
        found = resolve_credentials(
            settings.registry,
            user=settings.registry_user,
            password=settings.registry_password,
            job_token=settings.job_token,
            access_token=settings.registry_access_token,
            docker_config_dir=settings.docker_config_dir,
        )
        if found is not None:
            self.console.redactor.add(found.password, found.user)
        return found

    def registry(self) -> RegistryClient:
        """A client for the configured registry with the run's credentials, its deadline, and GitLab's tags
        API where GitLab's variables say so."""
        settings = self.settings
        options = RegistryOptions(
            scheme=settings.scheme,
            redactor=self.console.redactor,
            deadline=settings.registry_timeout,
            gitlab=self.gitlab_api(),
            stopped=lambda: self.stop.requested,
        )
        return RegistryClient(settings.registry, self.credentials, options)

    def gitlab_api(self) -> GitLabTagsApi | None:
        settings = self.settings
        if not (settings.gitlab_api_url and settings.gitlab_project_id):
            return None
        if settings.registry_access_token:
            return GitLabTagsApi(settings.gitlab_api_url, settings.gitlab_project_id, settings.registry_access_token)
        if settings.job_token:
            return GitLabTagsApi(settings.gitlab_api_url, settings.gitlab_project_id, settings.job_token, "JOB-TOKEN")
        return None

    def docker(self) -> DockerSession:
        """One environment for every subprocess (the process's own, plus DOCKER_* from the settings), the
        engine with the registry credentials, and a login for compose when they come from the settings."""
        settings = self.settings
        credentials = self.credentials
        auth = Auth(credentials.user, credentials.password) if credentials else None
        own = credentials is not None and not credentials.source.startswith("Docker config")
        login = Login(settings.registry, auth, credentials.source) if own and auth and credentials else None
        return DockerSession(
            runner=Runner({**settings.environ, **settings.docker_environment}),
            sdk_environment=settings.docker_environment,
            auth=auth,
            user_config=settings.docker_config_dir,
            login=login,
            clean=self.console.redactor.clean,
            connect=self.connect,
        )

    def cluster_access(self, kubeconfig: str = "") -> ClusterAccess:
        """Where the cluster configuration comes from: `kubeconfig` (a task's --kubeconfig), KUBECONFIG,
        ~/.kube/config, then in-cluster."""
        settings = self.settings
        in_cluster = {
            "KUBERNETES_SERVICE_HOST": settings.kubernetes_service_host,
            "KUBERNETES_SERVICE_PORT": settings.kubernetes_service_port,
        }
        return ClusterAccess(
            kubeconfig=kubeconfig,
            env_kubeconfig=settings.kubeconfig,
            home=Path.home(),
            in_cluster={key: value for key, value in in_cluster.items() if value},
        )

    def waiting(self) -> Waiting:
        return Waiting(timeout=self.settings.rollout_timeout, console=self.console, stop=self.stop)

    def ci_project(self) -> ComposeProject:
        """The compose project of the CI image, with the image names its files interpolate."""
        settings = self.settings
        images = settings.images
        return ComposeProject(
            files=settings.compose_files,
            name=settings.compose_project,
            env={"CONVEYOR_CI_IMAGE": str(images.ci_commit), "CONVEYOR_CI_CACHE_IMAGE": str(images.ci_branch)},
            cwd=settings.project_dir,
        )

    def prod_project(self) -> ComposeProject:
        """The compose project of the prod images: for each, the tag to build and the cache to use."""
        settings = self.settings
        env: dict[str, str] = {}
        for name, names in settings.images.prod.items():
            key = compose.prod_variable_key(name)
            env[f"CONVEYOR_PROD_IMAGE_{key}"] = str(names.release)
            env[f"CONVEYOR_PROD_CACHE_{key}"] = str(names.cache)
        return ComposeProject(
            files=settings.prod_compose_files,
            name=f"{settings.compose_project}-prod",
            env=env,
            cwd=settings.project_dir,
        )

    def ci_target(self) -> BuildTarget:
        images = self.settings.images
        return BuildTarget(self.settings.ci_service, images.ci_commit, images.ci_branch, (images.ci_branch,))

    def prod_targets(self) -> list[BuildTarget]:
        prod = self.settings.images.prod
        return [
            BuildTarget(image.service, prod[image.name].release, prod[image.name].cache)
            for image in self.settings.prod_images
        ]

    def release(self, environment: Environment | None = None) -> Release:
        """This commit's release in `environment` (default: the one being deployed)."""
        environment = environment or self.settings.deploy_environment
        return Release(environment, {name: self.settings.images.prod[name] for name in environment.images})

    @contextmanager
    def reports(self, task: str, as_json: bool = False, plan_out: Path | None = None) -> Iterator[Reports]:
        """The reports of one cleanup task: counted (and, `as_json`, printed as one JSON document on stdout;
        with `plan_out`, written there as a plan) when it ends, also when it fails or is interrupted (the
        document then says it is not complete, and no plan is written)."""
        out = print_json if as_json else None
        reports = Reports(self.console, self.stop, task, self.settings.registry_image, out, plan_out)
        try:
            yield reports
        except BaseException:
            reports.complete = False
            raise
        finally:
            reports.finish()

    def knowledge(self, strict: bool = True, skip_cluster_check: bool = False) -> Knowledge:
        """The deletion guard's knowledge for this run. `strict` (the cleanup tasks): a cluster that cannot be
        asked refuses the run before anything changes; otherwise (deploy) what it might use is kept."""
        settings = self.settings
        scope = GuardScope(
            registry=settings.registry,
            project=ImageReference.parse(settings.registry_image).repository,
            ci_repository=settings.images.ci_commit.repository,
            environments=settings.environments,
            keep_releases=settings.keep_releases,
            guard=settings.guard,
            in_gitlab=settings.in_gitlab,
            deadline=settings.registry_timeout,
        )
        origin = GitAnswer(settings.project_dir).origin_branches
        return Knowledge(scope, self.cluster_access(), origin, self.console, skip_cluster_check, strict)


def print_json(text: str) -> None:
    """A task's JSON document, alone on stdout (its human lines went to stderr)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
