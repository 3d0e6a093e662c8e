"""Output: every line Conveyor prints goes through one Console, which redacts secrets, serialises
lines from parallel jobs, and wraps steps in GitLab's collapsible log sections when running in GitLab."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from conveyor.process import LineSink
from conveyor.redact import Redactor

Emit = Callable[[str], object]
"""Where finished lines go (without their newline)."""


def print_line(text: str) -> None:
    print(text, flush=True)


class Console:
    def __init__(self, redactor: Redactor, emit: Emit = print_line, gitlab_sections: bool = False) -> None:
        self._redactor = redactor
        self._emit = emit
        self._lock = threading.Lock()
        self._gitlab_sections = gitlab_sections

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def line(self, text: str) -> None:
        with self._lock:
            self._emit(self._redactor.clean(text))

    def prefixed(self, prefix: str) -> LineSink:
        """A sink that prints each line behind `prefix` (for output of parallel jobs)."""
        return lambda text: self.line(f"{prefix}{text}")

    @contextmanager
    def section(self, name: str, title: str) -> Iterator[None]:
        """A step of the output; a collapsible section in GitLab's job log."""
        if self._gitlab_sections:
            self.line(f"\x1b[0Ksection_start:{int(time.time())}:{name}[collapsed=false]\r\x1b[0K{title}")
        else:
            self.line(f"==> {title}")
        try:
            yield
        finally:
            if self._gitlab_sections:
                self.line(f"\x1b[0Ksection_end:{int(time.time())}:{name}\r\x1b[0K")
