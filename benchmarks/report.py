"""docs/benchmarks.md is made of sections, one per benchmark script, each between markers, so every
script rewrites only its own figures."""

from __future__ import annotations

import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Each section is written by the script it names, which measures Conveyor and its peer side by side in one
run on the same machine and records the ratios. Re-run a script to refresh its section.
"""


def write_section(name: str, markdown: str, path: Path = DOCS) -> None:
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    text = path.read_text() if path.exists() else HEADER
    block = f"{begin}\n{markdown.strip()}\n\n_Measured {stamp()}._\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def stamp() -> str:
    cpus = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    python = platform.python_version()
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {cpus} cores, Python {python}"


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
