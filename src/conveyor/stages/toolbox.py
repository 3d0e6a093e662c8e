"""What a stage works with: the settings, the console, the registry credentials (resolved once, for the
registry API, the Docker SDK and compose), one environment for every subprocess, and how to reach the
engine and compose. Built once per task by the task layer; tests build it with their own console and
settings."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from conveyor import process
from conveyor.config.settings import Settings
from conveyor.console import Console
from conveyor.docker import compose
from conveyor.docker.compose import ComposeProject
from conveyor.docker.config import temporary_config
from conveyor.docker.engine import Auth, Engine
from conveyor.errors import ToolError
from conveyor.interrupt import Stop
from conveyor.process import Command, Completed, LineSink
from conveyor.registry import GitLabTagsApi, RegistryClient
from conveyor.registry.credentials import Credentials, resolve_credentials


@dataclass(frozen=True)
class Toolbox:
    settings: Settings
    console: Console
    connect: Callable[[Mapping[str, str], Auth | None], Engine] = Engine
    docker_config: Path | None = None  # this run's temporary Docker config, once logged in
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

    @property
    def auth(self) -> Auth | None:
        credentials = self.credentials
        return Auth(credentials.user, credentials.password) if credentials else None

    @property
    def environment(self) -> dict[str, str]:
        """One environment for every subprocess: the process's own (build args, COMPOSER_AUTH...), plus what
        the settings add (DOCKER_HOST, TLS, DOCKER_CONFIG from .env or invoke.yaml), plus this run's
        temporary Docker config once logged in."""
        environment = {**self.settings.environ, **self.settings.docker_environment}
        if self.docker_config is not None:
            environment["DOCKER_CONFIG"] = str(self.docker_config)
        return environment

    def run(self, command: Command, sink: LineSink | None = None) -> Completed:
        """Run a command (compose, docker) in the one environment."""
        return process.run(command, sink, self.environment)

    def registry(self) -> RegistryClient:
        """A client for the configured registry with the run's credentials, its deadline, and GitLab's tags
        API where GitLab's variables say so."""
        settings = self.settings
        return RegistryClient(
            settings.registry,
            self.credentials,
            scheme=settings.scheme,
            redactor=self.console.redactor,
            gitlab=self.gitlab_api(),
            deadline=settings.registry_timeout,
        )

    def gitlab_api(self) -> GitLabTagsApi | None:
        settings = self.settings
        if not (settings.gitlab_api_url and settings.gitlab_project_id):
            return None
        if settings.registry_access_token:
            return GitLabTagsApi(settings.gitlab_api_url, settings.gitlab_project_id, settings.registry_access_token)
        if settings.job_token:
            return GitLabTagsApi(settings.gitlab_api_url, settings.gitlab_project_id, settings.job_token, "JOB-TOKEN")
        return None

    def engine(self) -> Engine:
        return self.connect(self.settings.docker_environment, self.auth)

    def ci_project(self) -> ComposeProject:
        """The compose project of the CI image, with the image names its files interpolate."""
        settings = self.settings
        images = settings.images
        return ComposeProject(
            files=settings.compose_files,
            name=settings.compose_project,
            env={
                "CONVEYOR_CI_IMAGE": str(images.ci_commit),
                "CONVEYOR_CI_CACHE_IMAGE": str(images.ci_branch),
            },
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

    def check_compose(self, project: ComposeProject, services: Sequence[str]) -> None:
        """Compose v2 present, every file there, every service defined: before anything changes."""
        version = compose.check_version(self.run(compose.version_command()))
        compose.check_files(project.files)
        compose.check_services(services, self.run(project.services()), project.files)
        self.console.line(f"compose {version}, files: {' '.join(self.relative(p) for p in project.files)}")

    def relative(self, path: Path) -> str:
        """`path` as the user wrote it: relative to the project when it is inside it."""
        root = self.settings.project_dir
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    @contextmanager
    def logged_in(self) -> Iterator[Toolbox]:
        """This toolbox with compose and BuildKit logged in to the registry, when the credentials come from
        the settings: `docker login --password-stdin` into a temporary Docker config, removed afterwards.
        Credentials from the user's own Docker config need no login."""
        credentials = self.credentials
        if credentials is None or credentials.source.startswith("Docker config"):
            yield self
            return
        registry = self.settings.registry
        with temporary_config(self.settings.docker_config_dir, registry) as directory:
            tools = replace(self, docker_config=directory)
            login = ("docker", "login", "--username", credentials.user, "--password-stdin", registry)
            result = tools.run(Command(argv=login, stdin=credentials.password))
            if not result.ok:
                raise ToolError(
                    f"docker login to {registry} failed: {self.console.redactor.clean(result.last_line())}",
                    f"check the registry credentials ({credentials.source})",
                )
            yield tools
