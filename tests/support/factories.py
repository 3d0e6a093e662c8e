"""The tests' and benchmarks' shared factories: settings as a run would load them (with a commit, a branch
and a registry unless told otherwise), the composition root around them with a console that records what
it prints, a clock that only moves when slept on, and a deletion permit (what the guard would issue)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.config.loading import GitLookup, load_settings
from conveyor.config.schema import Given
from conveyor.config.settings import Settings
from conveyor.console import Console
from conveyor.docker.session import Connect
from conveyor.interrupt import Stop
from conveyor.permits import DeletionPermit
from conveyor.redact import Redactor
from conveyor.wiring.toolbox import Toolbox

if TYPE_CHECKING:
    from tests.support.example import Example

SHA = "0123456789abcdef0123456789abcdef01234567"
PROJECT = Path("/project")
REGISTRY = {"CI_REGISTRY": "registry.test:5000", "CI_REGISTRY_IMAGE": "registry.test:5000/group/app"}
COMMIT = {"CI_COMMIT_SHA": SHA, "CI_COMMIT_REF_NAME": "main"}


def no_git(_question: str) -> str | None:
    """A project outside any git repository."""
    return None


def git_answers(answers: Mapping[str, str | None]) -> GitLookup:
    """A git that answers `answers` ("commit", "branch", "origin", "default_branch")."""
    return lambda question: answers.get(question)


def settings(
    yaml_config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    project_dir: Path = PROJECT,
    dotenv: Mapping[str, Given | str | None] | None = None,
    git: GitLookup = no_git,
    flags: Mapping[str, Given | str | None] | None = None,
    registry: Mapping[str, str] | None = REGISTRY,
    commit: Mapping[str, str] | None = COMMIT,
) -> Settings:
    """Settings loaded as a run loads them: `environ` over a commit and a registry (pass None to leave
    either out), with invoke.yaml's `conveyor:` section `yaml_config`."""
    base = {**(commit or {}), **(registry or {})}
    return load_settings(
        project_dir=project_dir,
        yaml_config=yaml_config or {},
        environ={**base, **(environ or {})},
        dotenv=dotenv or {},
        git=git,
        flags=flags,
    )


def console(printed: list[str] | None = None, redactor: Redactor | None = None) -> Console:
    """A console that appends every line it prints to `printed` (or drops them)."""
    sink = printed.append if printed is not None else (lambda _line: None)
    return Console(redactor or Redactor(), sink)


def toolbox(
    loaded: Settings | None = None,
    printed: list[str] | None = None,
    *,
    stop: Stop | None = None,
    connect: Connect | None = None,
) -> Toolbox:
    """The composition root around `loaded` (default: `settings()`), printing to `printed`; its redactor
    knows the settings' secrets, as a task's does."""
    loaded = loaded if loaded is not None else settings()
    extra: dict[str, Any] = {"stop": stop or Stop()}
    if connect is not None:
        extra["connect"] = connect
    return Toolbox(settings=loaded, console=console(printed, Redactor(loaded.secrets)), **extra)


@dataclass
class FakeClock:
    """Time that moves only when slept on, or by `tick` at every reading: `clock()` reads it,
    `clock.sleep(s)` advances it."""

    now: float = 1_000_000.0
    tick: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def permit(repository: str, tag: str, digest: str | None = None, reason: str = "test") -> DeletionPermit:
    """What the deletion guard would issue for `tag`: the registry layer's tests delete with these."""
    return DeletionPermit(repository, tag, digest, reason)


def example_toolbox(
    example: Example, printed: list[str] | None = None, environ: Mapping[str, str] | None = None, **yaml: Any
) -> Toolbox:
    """The composition root of a run in a copy of the example project, as `inv` there would build it: its
    invoke.yaml (with `yaml` keys replaced), its environment (with `environ` over it) and its git."""
    from conveyor.gitinfo import GitAnswer

    config = yaml_section(example.root) | dict(yaml)
    loaded = load_settings(
        project_dir=example.root,
        yaml_config=config,
        environ={**example.env(), **(environ or {})},
        dotenv={},
        git=GitAnswer(example.root),
    )
    return toolbox(loaded, printed)


def yaml_section(project: Path) -> dict[str, Any]:
    """The `conveyor:` section of a project's invoke.yaml."""
    import yaml

    document = yaml.safe_load((project / "invoke.yaml").read_text(encoding="utf-8")) or {}
    return dict(document.get("conveyor") or {})
