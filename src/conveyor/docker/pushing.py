"""Pushing an image's tags through the engine: tag it, push each tag explicitly (compose push skips services
without a build section), show progress, give up a push between chunks once a stop was requested, and
prove every tag resolves to one digest in the registry."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from conveyor.console import Console
from conveyor.docker.engine import Engine, Observer
from conveyor.errors import RegistryError
from conveyor.interrupt import Stop
from conveyor.reference import ImageReference


def push_tags(
    engine: Engine, image: ImageReference, also: Sequence[ImageReference], console: Console, stop: Stop
) -> str:
    """Tag `image` as each of `also`, push every tag and answer the one digest they all have."""
    tags = (image, *also)
    for tag in also:
        engine.tag(image, tag)
    pushed: dict[ImageReference, str] = {}
    for tag in tags:
        stop.check(push_summary(tags, pushed))
        observer = stoppable(console, stop, tag, functools.partial(push_summary, tags, pushed))
        pushed[tag] = engine.push(tag, observer)
    digest = verify_same_digest(engine, pushed)
    same = "same digest " if len(tags) > 1 else ""
    console.line(f"pushed {' and '.join(str(tag) for tag in tags)}: {same}{digest}")
    return digest


def stoppable(console: Console, stop: Stop, tag: ImageReference, summary: Callable[[], str]) -> Observer:
    """Push progress that gives up the push (closing its stream) once a stop was requested."""
    progress = console.transfer("push", str(tag))

    def observe(chunk: Mapping[str, Any]) -> None:
        stop.check(f"stopped pushing {tag}; {summary()}")
        progress(chunk)

    return observe


def push_summary(tags: Sequence[ImageReference], pushed: Mapping[ImageReference, str]) -> str:
    done = ", ".join(str(tag) for tag in pushed) or "nothing"
    left = ", ".join(str(tag) for tag in tags if tag not in pushed) or "nothing"
    return f"pushed {done}; not pushed {left}"


def verify_same_digest(engine: Engine, pushed: Mapping[ImageReference, str]) -> str:
    """Ask the registry for each pushed tag and require one digest, the one the pushes reported."""
    found = {ref: engine.registry_digest(ref) for ref in pushed}
    digests = set(found.values()) | set(pushed.values())
    if len(digests) != 1 or None in digests:
        listing = ", ".join(f"{ref} → {digest or 'absent'}" for ref, digest in found.items())
        raise RegistryError(
            f"the registry does not hold the pushed tags at the pushed digest ({listing})",
            "another push may have raced this one: run the task again",
        )
    return str(digests.pop())
