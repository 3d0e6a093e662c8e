"""The one place that runs subprocesses. Commands are plain argv lists (never a shell string), secrets go
through stdin or the environment (never argv), and output can be streamed line by line while it is also
captured for parsing."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from conveyor.errors import ToolError

LineSink = Callable[[str], None]


@dataclass(frozen=True)
class Command:
    """A command line as data: what to run, where, with which extra environment and stdin."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    stdin: str | None = None
    timeout: float | None = None  # seconds; then the command is killed and Completed.timed_out is set

    def display(self) -> str:
        """The command line for messages (the environment and stdin are never shown)."""
        return shlex.join(self.argv)


@dataclass(frozen=True)
class Completed:
    """What a finished command returned: its exit code and its combined output lines."""

    command: Command
    returncode: int
    lines: tuple[str, ...]
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def first_line(self) -> str:
        """The first non-empty output line."""
        return next((line for line in self.lines if line.strip()), "")

    def last_line(self) -> str:
        """The last non-empty output line: usually the error a tool printed."""
        return next((line for line in reversed(self.lines) if line.strip()), "")


def run(command: Command, sink: LineSink | None = None, base_env: Mapping[str, str] | None = None) -> Completed:
    """Run `command`, stream each output line to `sink` (if given) and return the exit code and lines.

    `base_env` is the environment the command starts from (the process environment when None); the
    command's own `env` is laid over it. A missing program raises ToolError."""
    env = dict(os.environ if base_env is None else base_env)
    env.update(command.env)
    try:
        proc = subprocess.Popen(
            command.argv,
            cwd=command.cwd,
            env=env,
            stdin=subprocess.PIPE if command.stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{command.argv[0]} is not installed", f"install it and put it on PATH ({exc})") from None
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        proc.kill()

    killer = threading.Timer(command.timeout, kill) if command.timeout is not None else None
    if killer is not None:
        killer.start()
    try:
        if command.stdin is not None and proc.stdin is not None:
            proc.stdin.write(command.stdin)
            proc.stdin.close()
        lines: list[str] = []
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            if sink is not None:
                sink(line)
        returncode = proc.wait()
    finally:
        if killer is not None:
            killer.cancel()
    return Completed(command=command, returncode=returncode, lines=tuple(lines), timed_out=expired.is_set())


@dataclass(frozen=True)
class Runner:
    """Runs commands in one environment: the process's own (build args, COMPOSER_AUTH...) plus what the
    settings add (DOCKER_HOST, TLS, this run's temporary DOCKER_CONFIG)."""

    environment: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def run(self, command: Command, sink: LineSink | None = None) -> Completed:
        return run(command, sink, self.environment)

    def with_environment(self, extra: Mapping[str, str]) -> Runner:
        return Runner({**self.environment, **extra})


def argv(*parts: str | Sequence[str]) -> tuple[str, ...]:
    """Flatten strings and sequences of strings into an argv tuple."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        else:
            out.extend(part)
    return tuple(out)
