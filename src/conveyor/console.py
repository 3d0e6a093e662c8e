"""Output: every line Conveyor prints goes through one Console, which redacts secrets, serialises
lines from parallel jobs, and wraps steps in GitLab's collapsible log sections when running in GitLab."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from conveyor.process import LineSink
from conveyor.redact import Redactor

Write = Callable[[str], object]


class Console:
    def __init__(self, redactor: Redactor, write: Write | None = None, gitlab_sections: bool = False) -> None:
        self._redactor = redactor
        self._write = write or sys.stdout.write
        self._lock = threading.Lock()
        self._gitlab_sections = gitlab_sections

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def line(self, text: str) -> None:
        with self._lock:
            self._write(self._redactor.clean(text) + "\n")
            flush = getattr(sys.stdout, "flush", None)
            if flush is not None and self._write == sys.stdout.write:
                flush()

    def prefixed(self, prefix: str) -> LineSink:
        """A sink that prints each line behind `prefix` (for output of parallel jobs)."""
        return lambda text: self.line(f"{prefix}{text}")

    @contextmanager
    def section(self, name: str, title: str) -> Iterator[None]:
        """A step of the output; a collapsible section in GitLab's job log."""
        if self._gitlab_sections:
            self._raw(f"\x1b[0Ksection_start:{int(time.time())}:{name}[collapsed=false]\r\x1b[0K{title}")
        else:
            self.line(f"==> {title}")
        try:
            yield
        finally:
            if self._gitlab_sections:
                self._raw(f"\x1b[0Ksection_end:{int(time.time())}:{name}\r\x1b[0K")

    def _raw(self, text: str) -> None:
        with self._lock:
            self._write(self._redactor.clean(text) + "\n")
