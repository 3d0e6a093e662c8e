"""Ctrl-C and SIGTERM during a task: start nothing new, finish (or undo) what is in flight, say what changed
and what did not, and exit 130 (SIGINT) or 143 (SIGTERM). A second signal stops at once, with the same exit
code, after the last words of whatever registered them (a cleanup: the tags it deleted)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from conveyor.errors import ConveyorError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(ConveyorError):
    """The task was asked to stop; the message says what was done."""

    def __init__(self, signum: int, done: str = "") -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}" + (f": {done}" if done else ""), "run the task again to finish it")
        self.exit_code = 128 + signum


@dataclass
class Stop:
    """Set by SIGINT or SIGTERM once `listen()` has been called (from the main thread)."""

    signum: int = 0
    _event: threading.Event = field(default_factory=threading.Event)
    _last_words: Callable[[], str] | None = None

    def listen(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                signal.signal(signum, self._handle)

    def at_once(self, last_words: Callable[[], str] | None) -> None:
        """What a second signal prints before it stops the process at once (None: nothing)."""
        self._last_words = last_words

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._event.is_set():
            self._stop_at_once(signum)
        self.signum = signum
        self._event.set()
        print(
            f"conveyor: {signal.Signals(signum).name}: finishing what is in flight; starting nothing new "
            "(signal again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def _stop_at_once(self, signum: int) -> None:
        """The second signal: say what was done, then leave with 128 + the signal's number, now (threads in
        flight are not waited for: that is what a second signal asks)."""
        words = self._last_words() if self._last_words is not None else ""
        name = signal.Signals(signum).name
        print(f"conveyor: {name} again: stopped at once" + (f"; {words}" if words else ""), file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def check(self, done: str = "") -> None:
        """Raise Interrupted (saying what was `done`) when a stop was requested."""
        if self.requested:
            raise Interrupted(self.signum, done)


def listening() -> Stop | None:
    """The Stop whose handler is installed for SIGINT, if any (for the task wrapper's last word)."""
    owner = getattr(signal.getsignal(signal.SIGINT), "__self__", None)
    return owner if isinstance(owner, Stop) else None
