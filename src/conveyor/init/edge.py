"""`conveyor init` at the edge: compose v2 checked, the compose model read as compose itself reads it
(`docker compose config --format json`), git asked, and the planned files written. Any problem is one
ConveyorError before anything is written. Nothing here needs the settings: a project without any can be
initialised."""

from __future__ import annotations

import functools
import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from conveyor import process
from conveyor.docker import compose
from conveyor.errors import ConfigError, ToolError
from conveyor.gitinfo import GitAnswer
from conveyor.init.model import AskGit, Options, ReadModel, project_dir, show_path
from conveyor.init.planning import InitPlan, plan, report
from conveyor.process import Command

COMPOSE_TIMEOUT = 120.0
GIT_TIMEOUT = 10.0
_LOG_LINE = re.compile(r'^time="[^"]*" level=\w+ msg="(?P<msg>.*)"$')
_QUIET = {"COMPOSE_ANSI": "never"}


def clean_compose_error(lines: Sequence[str], root: Path) -> str:
    """compose's own error, one line: its last line, without logrus' `time=… level=… msg=` wrapping and with
    paths shown relative to the project."""
    line = next((text.strip() for text in reversed(lines) if text.strip()), "")
    if match := _LOG_LINE.match(line):
        line = match.group("msg").replace('\\"', '"')
    return line.replace(f"{root}/", "") or "no output"


# --- the edge: compose, git, files -------------------------------------------------------------------------


def check_compose_v2() -> str:
    """Compose v2's version, or ToolError when it (or docker) is missing."""
    return compose.check_version(process.run(compose.version_command()))


def read_compose(root: Path) -> ReadModel:
    """Compose's model of some files, by `docker compose -f … config --format json` (written to a temporary
    file, so that compose's warnings never mix with it)."""

    def read(files: Sequence[Path], lenient: bool) -> Mapping[str, Any]:
        with tempfile.TemporaryDirectory(prefix="conveyor-init-") as directory:
            target = Path(directory) / "model.json"
            flags = [part for path in files for part in ("-f", str(path))]
            extra = ["--no-consistency"] if lenient else []
            argv = process.argv(
                "docker", "compose", flags, "config", "--format", "json", "--output", str(target), extra
            )
            result = process.run(Command(argv=argv, env=_QUIET, cwd=str(root), timeout=COMPOSE_TIMEOUT))
            if not result.ok or not target.is_file():
                names = ", ".join(show_path(p, root) for p in files)
                problem = "timed out" if result.timed_out else clean_compose_error(result.lines, root)
                raise ConfigError(f"docker compose cannot read {names}: {problem}", f"fix {names} and run init again")
            return _model(target.read_text(encoding="utf-8"))

    return read


def _model(text: str) -> Mapping[str, Any]:
    try:
        model = json.loads(text)
    except json.JSONDecodeError as error:
        raise ToolError(f"docker compose config gave no JSON ({error})", "check the compose plugin") from None
    if not isinstance(model, Mapping):
        raise ToolError("docker compose config gave no JSON object", "check the compose plugin")
    return model


def ask_git(root: Path) -> AskGit:
    """git's first output line in the project, or None (not a repository, no answer, git missing)."""
    return functools.partial(GitAnswer(root).first_line, timeout=GIT_TIMEOUT)


def write(plan: InitPlan) -> None:
    for output in plan.outputs:
        output.path.parent.mkdir(parents=True, exist_ok=True)
        output.path.write_text(output.text, encoding="utf-8")


def init_project(options: Options, dry_run: bool) -> list[str]:
    """Check compose v2, plan from the real compose models and git, write (unless `dry_run`), and answer the
    lines to print. Any problem is one ConveyorError before anything is written."""
    check_compose_v2()
    root = project_dir(options.cwd)
    planned = plan(options, read_compose(root), ask_git(root))
    if not dry_run:
        write(planned)
    return report(planned, dry_run)
