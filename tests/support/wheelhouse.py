"""A wheelhouse packed offline from this interpreter's installed distributions (Conveyor's dependencies, at
the versions the tests run with), so that the job image's `pip download` can run with `PIP_NO_INDEX=1
PIP_FIND_LINKS=<wheelhouse>` and the tests need no package index."""

from __future__ import annotations

import re
from importlib.metadata import Distribution, distribution
from pathlib import Path

from packaging.requirements import Requirement

from conveyor.jobimage.wheels import compressed_tags, escape, write_wheel

SKIPPED = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependencies(name: str) -> list[Distribution]:
    """The installed distributions `name` needs, transitively (extras and markers evaluated here)."""
    found: dict[str, Distribution] = {}
    todo: list[tuple[str, frozenset[str]]] = [(name, frozenset())]
    while todo:
        current, extras = todo.pop()
        dist = distribution(current)
        for text in dist.requires or []:
            requirement = Requirement(text)
            wanted = extras or frozenset({""})
            if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in wanted):
                continue
            key = canonical(requirement.name)
            if key not in found:
                found[key] = distribution(requirement.name)
                todo.append((requirement.name, frozenset(requirement.extras)))
    return list(found.values())


def repack(dist: Distribution, directory: Path) -> Path:
    """A wheel of an installed distribution, from the files its RECORD lists inside site-packages."""
    root = Path(str(dist.locate_file(""))).resolve()
    members: dict[str, bytes] = {}
    for entry in dist.files or []:
        path = Path(str(dist.locate_file(entry))).resolve()
        if entry.parts[0] == ".." or not path.is_relative_to(root) or not path.is_file():
            continue
        if path.name in SKIPPED and entry.parts[0].endswith(".dist-info"):
            continue
        if "__pycache__" not in entry.parts and path.suffix != ".pyc":
            members[entry.as_posix()] = path.read_bytes()
    dist_info = next(entry.parts[0] for entry in dist.files or [] if entry.parts[0].endswith(".dist-info"))
    wheel = (dist.read_text("WHEEL") or "").splitlines()
    tags = [line.split(":", 1)[1].strip() for line in wheel if line.startswith("Tag:")]
    name = f"{escape(dist.metadata['Name'])}-{dist.version}-{compressed_tags(tags)}.whl"
    return write_wheel(directory / name, members, dist_info)


def make_wheelhouse(name: str, directory: Path) -> Path:
    """Wheels of every installed dependency of `name` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for dist in dependencies(name):
        repack(dist, directory)
    return directory
