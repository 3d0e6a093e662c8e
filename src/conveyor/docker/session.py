"""The Docker side of one run: subprocesses (compose, the docker CLI) in one environment, the engine
through the SDK with the registry credentials, and compose and BuildKit logged in to the registry with
`docker login --password-stdin` into a temporary Docker config (conveyor.docker.config), removed afterwards,
when the credentials come from the settings. Credentials from the user's own Docker config need no login."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from conveyor.docker import compose
from conveyor.docker.compose import ComposeProject
from conveyor.docker.config import temporary_config
from conveyor.docker.engine import Auth, Engine
from conveyor.errors import ToolError
from conveyor.process import Command, Runner

Connect = Callable[[Mapping[str, str], Auth | None], Engine]


@dataclass(frozen=True)
class Login:
    """The credentials compose and BuildKit log in with: for `registry`, from `source` (as messages name it)."""

    registry: str
    auth: Auth
    source: str


@dataclass(frozen=True)
class DockerSession:
    """`runner` runs compose and the docker CLI; `sdk_environment` (DOCKER_HOST, TLS) and `auth` reach the
    engine through the SDK; `login`, when given, is what `logged_in` logs in with; `user_config` is the
    user's Docker config directory; `clean` masks secrets in messages."""

    runner: Runner
    sdk_environment: Mapping[str, str]
    auth: Auth | None
    user_config: Path
    login: Login | None = None
    clean: Callable[[str], str] = str
    connect: Connect = Engine

    def engine(self) -> Engine:
        return self.connect(self.sdk_environment, self.auth)

    def check_compose(self, project: ComposeProject, services: Sequence[str]) -> str:
        """Compose v2 present, every file there, every service defined: before anything changes. Answers the
        compose version."""
        version = compose.check_version(self.runner.run(compose.version_command()))
        compose.check_files(project.files)
        compose.check_services(services, self.runner.run(project.services()), project.files)
        return version

    @contextmanager
    def logged_in(self) -> Iterator[DockerSession]:
        """This session with compose and BuildKit logged in to the registry (see the module's docstring)."""
        login = self.login
        if login is None:
            yield self
            return
        with temporary_config(self.user_config, login.registry) as directory:
            session = replace(self, runner=self.runner.with_environment({"DOCKER_CONFIG": str(directory)}))
            argv = ("docker", "login", "--username", login.auth.username, "--password-stdin", login.registry)
            result = session.runner.run(Command(argv=argv, stdin=login.auth.password))
            if not result.ok:
                raise ToolError(
                    f"docker login to {login.registry} failed: {self.clean(result.last_line())}",
                    f"check the registry credentials ({login.source})",
                )
            yield session
