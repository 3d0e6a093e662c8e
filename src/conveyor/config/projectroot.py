"""Where the project is: the nearest directory, from the current one upwards, that holds an Invoke project
(invoke.yaml / invoke.yml, tasks.py, or a tasks/ package), never looking above the git top level. Without
one: the git top level, else the current directory. Never the installed package's location."""

from __future__ import annotations

from pathlib import Path

MARKERS = ("invoke.yaml", "invoke.yml", "tasks.py", "tasks/__init__.py")


def find_root(start: Path) -> Path:
    start = start.resolve()
    for directory in (start, *start.parents):
        if any((directory / marker).exists() for marker in MARKERS):
            return directory
        if (directory / ".git").exists():
            return directory
    return start
