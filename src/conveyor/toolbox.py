"""What a stage works with: the settings, the console, and how to reach the engine and compose. Built
once per task by the task layer; tests build it with their own console and settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from conveyor import compose, process
from conveyor.compose import ComposeProject
from conveyor.console import Console
from conveyor.engine import Auth, Engine
from conveyor.errors import ToolError
from conveyor.process import Command
from conveyor.settings import Settings


@dataclass(frozen=True)
class Toolbox:
    settings: Settings
    console: Console
    connect: Callable[[Mapping[str, str], Auth | None], Engine] = Engine

    @property
    def auth(self) -> Auth | None:
        settings = self.settings
        if settings.registry_user and settings.password:
            return Auth(settings.registry_user, settings.password)
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
                "CONVEYOR_BASE_IMAGE": settings.base_image,
            },
            cwd=settings.project_dir,
        )

    def prod_project(self) -> ComposeProject:
        """The compose project of the prod images: for each, the tag to build and the cache to use."""
        settings = self.settings
        env = {"CONVEYOR_BASE_IMAGE": settings.base_image}
        for name, names in settings.images.prod.items():
            key = name.upper().replace("-", "_").replace(".", "_")
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
        version = compose.check_version(compose.run(compose.version_command()))
        compose.check_files(project.files)
        compose.check_services(services, compose.run(project.services()), project.files)
        self.console.line(f"compose {version}, files: {' '.join(self.relative(p) for p in project.files)}")

    def relative(self, path: Path) -> str:
        """`path` as the user wrote it: relative to the project when it is inside it."""
        root = self.settings.project_dir
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    def login(self) -> None:
        """`docker login` for compose and BuildKit, password on stdin, when credentials are set."""
        auth = self.auth
        if auth is None:
            return
        command = Command(
            argv=("docker", "login", "--username", auth.username, "--password-stdin", self.settings.registry),
            stdin=auth.password,
        )
        result = process.run(command)
        if not result.ok:
            raise ToolError(
                f"docker login to {self.settings.registry} failed: {self.console.redactor.clean(result.last_line())}",
                "check CI_REGISTRY_USER and CI_REGISTRY_PASSWORD",
            )
