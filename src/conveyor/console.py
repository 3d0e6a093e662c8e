"""Output: every line Conveyor prints goes through one Console, which redacts secrets, serialises
lines from parallel jobs, wraps steps in GitLab's collapsible log sections when running in GitLab, colours
only on a terminal (never with NO_COLOR), and shows transfer progress in place only on a terminal."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from conveyor.process import LineSink
from conveyor.progress import TransferProgress
from conveyor.redact import Redactor

Emit = Callable[[str], object]
"""Where finished lines go (without their newline)."""

COLOURS = {"green": "32", "red": "31", "yellow": "33", "bold": "1"}


def print_line(text: str) -> None:
    print(text, flush=True)


def print_error_line(text: str) -> None:
    """A human line on stderr, when stdout carries a JSON document."""
    print(text, file=sys.stderr, flush=True)


def print_status(text: str) -> None:
    """Rewrite the current terminal line."""
    sys.stdout.write(f"\r\x1b[K{text}")
    sys.stdout.flush()


class Console:
    def __init__(
        self,
        redactor: Redactor,
        emit: Emit = print_line,
        gitlab_sections: bool = False,
        colour: bool = False,
        status: Emit | None = None,
    ) -> None:
        self._redactor = redactor
        self._emit = emit
        self._lock = threading.Lock()
        self._gitlab_sections = gitlab_sections
        self._colour = colour
        self._status = status
        self._status_shown = False

    @classmethod
    def for_terminal(
        cls, redactor: Redactor, gitlab_sections: bool, no_color: bool, to_stderr: bool = False
    ) -> Console:
        """Colours and in-place progress only when the output is a terminal (and colours never with
        NO_COLOR); `to_stderr`: every line goes to stderr (stdout carries a JSON document)."""
        stream = sys.stderr if to_stderr else sys.stdout
        tty = stream.isatty()
        return cls(
            redactor,
            emit=print_error_line if to_stderr else print_line,
            gitlab_sections=gitlab_sections,
            colour=tty and not no_color,
            status=print_status if tty and not to_stderr else None,
        )

    def paint(self, text: str, colour: str) -> str:
        return f"\x1b[{COLOURS[colour]}m{text}\x1b[0m" if self._colour else text

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def line(self, text: str) -> None:
        with self._lock:
            if self._status_shown:
                self._emit("")
                self._status_shown = False
            self._emit(self._redactor.clean(text))

    def transfer(self, verb: str, ref: str) -> Callable[[Mapping[str, Any]], None]:
        """An observer of a push/pull stream: progress in place on a terminal, else a line per layer."""
        progress = TransferProgress(verb, ref)

        def observe(chunk: Mapping[str, Any]) -> None:
            text, finished = progress.update(chunk)
            if self._status is not None:
                with self._lock:
                    self._status(self._redactor.clean(text))
                    self._status_shown = True
            elif finished:
                self.line(f"  {chunk.get('id')} {chunk.get('status')} ({progress.counts()})")

        return observe

    def prefixed(self, prefix: str) -> LineSink:
        """A sink that prints each line behind `prefix` (for output of parallel jobs)."""
        return lambda text: self.line(f"{prefix}{text}")

    @contextmanager
    def section(self, name: str, title: str) -> Iterator[None]:
        """A step of the output; a collapsible section in GitLab's job log."""
        if self._gitlab_sections:
            self.line(f"\x1b[0Ksection_start:{int(time.time())}:{name}[collapsed=false]\r\x1b[0K{title}")
        else:
            self.line(self.paint(f"==> {title}", "bold"))
        try:
            yield
        finally:
            if self._gitlab_sections:
                self.line(f"\x1b[0Ksection_end:{int(time.time())}:{name}\r\x1b[0K")
