"""Reading BuildKit's plain progress output: which Dockerfile steps were CACHED and which ran."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_STEP = re.compile(r"^#(\d+) \[(?P<target>[^\]\s]+) (?P<index>\d+)/(?P<total>\d+)\] (?P<instruction>.*)$")
_CACHED = re.compile(r"^#(\d+) CACHED$")
_IMPORT = re.compile(r"^#\d+ \[[^\]]*\] importing cache manifest from (?P<ref>\S+)$")


@dataclass(frozen=True)
class BuildStep:
    target: str
    index: int
    instruction: str
    cached: bool

    @property
    def is_from(self) -> bool:
        return self.instruction.upper().startswith("FROM ")


@dataclass(frozen=True)
class BuildReport:
    steps: tuple[BuildStep, ...]
    cache_sources: tuple[str, ...]

    @property
    def layer_steps(self) -> tuple[BuildStep, ...]:
        """Steps that make layers (FROM only names the base image)."""
        return tuple(step for step in self.steps if not step.is_from)

    @property
    def cached(self) -> tuple[BuildStep, ...]:
        return tuple(step for step in self.layer_steps if step.cached)

    def for_target(self, target: str) -> BuildReport:
        """The steps of one compose service."""
        return BuildReport(
            steps=tuple(step for step in self.steps if step.target == target), cache_sources=self.cache_sources
        )

    def summary(self) -> str:
        steps = self.layer_steps
        if not steps:
            return "cache: no build steps seen"
        source = f" (cache from {', '.join(self.cache_sources)})" if self.cache_sources else ""
        first_miss = next((step for step in steps if not step.cached), None)
        rebuilt = f"; rebuilt from `{first_miss.instruction}`" if first_miss else "; nothing rebuilt"
        return f"cache: {len(self.cached)} of {len(steps)} steps CACHED{source}{rebuilt}"


def parse_build_log(lines: Iterable[str]) -> BuildReport:
    """The steps BuildKit reported in `--progress plain` output, each marked cached or not."""
    titles: dict[str, tuple[str, int, str]] = {}
    cached: set[str] = set()
    sources: list[str] = []
    for line in lines:
        if match := _STEP.match(line):
            titles.setdefault(match.group(1), (match["target"], int(match["index"]), match["instruction"]))
        elif match := _CACHED.match(line):
            cached.add(match.group(1))
        elif (match := _IMPORT.match(line)) and match["ref"] not in sources:
            sources.append(match["ref"])
    steps = tuple(
        BuildStep(target=target, index=index, instruction=instruction, cached=vertex in cached)
        for vertex, (target, index, instruction) in titles.items()
    )
    return BuildReport(steps=tuple(sorted(steps, key=lambda s: (s.target, s.index))), cache_sources=tuple(sources))
