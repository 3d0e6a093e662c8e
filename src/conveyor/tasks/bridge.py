"""The one bridge between Invoke and Conveyor: read the settings once (the only place that reads the process
environment and `.env`), build the Toolbox (conveyor.wiring), and turn ConveyorError into one line on stderr
and a non-zero exit code, without a traceback."""

from __future__ import annotations

import atexit
import functools
import gc
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from invoke.context import Context
from invoke.exceptions import Exit

if TYPE_CHECKING:  # imported when a task runs, so that `inv --list` stays as fast as bare Invoke
    from conveyor.config.schema import Given
    from conveyor.config.settings import Settings
    from conveyor.wiring.toolbox import Toolbox

F = TypeVar("F", bound=Callable[..., Any])

ENVIRONMENT_HELP = {
    "environment": "Environment of conveyor.environments (default: CI_ENVIRONMENT_NAME, the only one, else the "
    "first automatic one; one started by hand must be named).",
    "context": "Kubeconfig context of that environment (default: KUBE_CONTEXT, its own, else the current one).",
    "namespace": "Namespace of that environment (default: KUBE_NAMESPACE, its own, else the context's).",
}


def project_root() -> Path:
    """The project this run is about (conveyor.config.projectroot), from the current directory."""
    from conveyor.config.projectroot import find_root

    return find_root(Path.cwd())


def plain(value: Any) -> Any:
    """Invoke's config proxies as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def settings(ctx: Context, flags: Mapping[str, Given] | None = None) -> Settings:
    from conveyor.config.envfile import read_env_file
    from conveyor.config.loading import load_settings
    from conveyor.gitinfo import GitAnswer

    root = project_root()
    return load_settings(
        project_dir=root,
        yaml_config=plain(ctx.config.get("conveyor", {})),
        environ=dict(os.environ),
        dotenv=read_env_file(root / ".env"),
        git=GitAnswer(root),
        flags=flags,
    )


def outside_values() -> dict[str, str]:
    """Conveyor's settings given outside invoke.yaml (process environment, then `.env`): variable -> where,
    for what must come from invoke.yaml alone (the generated CI file)."""
    from conveyor.config.envfile import read_env_file
    from conveyor.config.schema import SETTINGS

    dotenv = read_env_file(project_root() / ".env")
    found = {}
    for setting in SETTINGS:
        if os.environ.get(setting.env):
            found[setting.env] = "the environment"
        elif (given := dotenv.get(setting.env)) is not None and given.value:
            found[setting.env] = ".env"
    return found


def dry(ctx: Context, dry_run: bool) -> bool:
    """A task's --dry-run, or Invoke's own `inv --dry` (ctx.config.run.dry): either means change nothing."""
    return dry_run or bool(ctx.config.run.dry)


def check_project() -> None:
    """Read the project's invoke.yaml before Invoke does, so that a syntax error or a wrong key is one line
    (also for `inv --list`) instead of Invoke's traceback."""
    from conveyor.config.schema import SETTINGS
    from conveyor.config.specs import check_file
    from conveyor.errors import ConveyorError

    try:
        check_file(project_root() / "invoke.yaml", [setting.name for setting in SETTINGS])
    except ConveyorError as error:
        raise Exit(f"conveyor: {error}", code=error.exit_code) from None


def toolbox(ctx: Context, flags: Mapping[str, Given] | None = None, json_output: bool = False) -> Toolbox:
    """The run's composition root; `json_output`: stdout carries one JSON document, human lines go to stderr."""
    from conveyor.console import Console
    from conveyor.interrupt import Stop
    from conveyor.redact import Redactor
    from conveyor.wiring.toolbox import Toolbox

    loaded = settings(ctx, flags)
    redactor = Redactor(loaded.secrets)
    console = Console.for_terminal(redactor, loaded.in_gitlab, "NO_COLOR" in os.environ, to_stderr=json_output)
    stop = Stop()
    stop.listen()  # Ctrl-C / SIGTERM: finish what is in flight, say what changed (one_line_errors restores)
    return Toolbox(settings=loaded, console=console, stop=stop)


def one_line_errors(body: F) -> F:
    """Run a task body; a ConveyorError ends it with its one-line message and exit code."""

    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from conveyor.errors import ConveyorError
        from conveyor.interrupt import STOP_SIGNALS, listening
        from conveyor.redact import Redactor

        handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
        try:
            result = body(*args, **kwargs)
            if (stop := listening()) is not None:
                stop.check("the task finished its work first")
            return result
        except ConveyorError as error:
            message = Redactor(_known_secrets()).clean(str(error))
            raise Exit(f"conveyor: {message}", code=error.exit_code) from None
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            atexit.unregister(skip_final_collection)  # once, however many tasks are chained
            atexit.register(skip_final_collection)

    return wrapper  # type: ignore[return-value]


def skip_final_collection() -> None:
    """At interpreter exit, after every task has run: spare the garbage collector its last passes over the
    thousands of objects the docker and kubernetes clients import (about 40 ms, docs/benchmarks.md). Unlike
    os._exit, output, exit codes and later atexit handlers are untouched."""
    gc.disable()
    gc.freeze()


def _known_secrets() -> list[str]:
    from conveyor.config.schema import SETTINGS

    return [os.environ.get(setting.env, "") for setting in SETTINGS if setting.secret]


def environment_flags(environment: str, context: str, namespace: str) -> dict[str, Given]:
    """The flags that choose the environment and override its context and namespace (CI_ENVIRONMENT_NAME,
    KUBE_CONTEXT, KUBE_NAMESPACE: the environment being deployed only)."""
    from conveyor.config.schema import Given

    return {
        "environment_name": Given(environment, "--environment"),
        "kube_context": Given(context, "--context"),
        "kube_namespace": Given(namespace, "--namespace"),
    }
