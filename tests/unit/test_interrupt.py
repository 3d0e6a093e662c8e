"""Ctrl-C / SIGTERM inside a task: the Stop flag, a push given up between stream chunks with a summary of
what was pushed, and exit codes 130 / 143."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from conveyor.docker.pushing import push_tags
from conveyor.interrupt import Interrupted, Stop, listening
from conveyor.reference import ImageReference
from tests.support.factories import console

SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeEngine:
    """Pushes stream three chunks; the signal arrives during the second tag's push."""

    def __init__(self, stop: Stop) -> None:
        self.stop = stop
        self.pushed: list[str] = []

    def tag(self, source: ImageReference, target: ImageReference) -> None:
        pass

    def push(self, ref: ImageReference, observe: Any) -> str:
        for n, chunk in enumerate(self._chunks(ref)):
            if ref.tag == "main" and n == 1:
                os.kill(os.getpid(), signal.SIGTERM)
            observe(chunk)
        self.pushed.append(str(ref))
        return "sha256:" + "a" * 64

    @staticmethod
    def _chunks(ref: ImageReference) -> Iterator[Mapping[str, Any]]:
        yield from ({"status": "Pushing", "id": f"layer{i}"} for i in range(3))


def test_a_push_stops_between_chunks_and_says_what_was_pushed() -> None:
    stop = Stop()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stop.listen()
    try:
        assert listening() is stop
        ci = ImageReference.parse(f"r.test/g/ci:{SHA}")
        engine = FakeEngine(stop)
        with pytest.raises(Interrupted) as caught:
            push_tags(engine, ci, (ci.with_tag("main"),), console(), stop)  # type: ignore[arg-type]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert caught.value.exit_code == 143
    pushed, main = f"r.test/g/ci:{SHA}", "r.test/g/ci:main"
    expected = f"interrupted by SIGTERM: stopped pushing {main}; pushed {pushed}; not pushed {main}"
    assert str(caught.value).startswith(expected)
    assert engine.pushed == [f"r.test/g/ci:{SHA}"]


def test_exit_codes_follow_the_signal() -> None:
    assert Interrupted(signal.SIGINT).exit_code == 130
    assert Interrupted(signal.SIGTERM).exit_code == 143
    stop = Stop()
    stop.check()  # nothing requested: nothing raised
