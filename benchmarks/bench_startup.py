"""`inv --list` for Conveyor's tasks against bare Invoke with an empty collection, side by side.

    python -m benchmarks.bench_startup [--runs 20]

Goal: within 1.3x (docker and kubernetes are imported only when a task needs them)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.report import median, table, timed, write_section

REPO = Path(__file__).resolve().parents[1]
GOAL = 1.3


def list_tasks(cwd: Path) -> None:
    """`inv --list` in `cwd`. Invoke exits 1 for an empty collection ("No tasks found"), after doing all
    the work of loading it, so only other failures count."""
    done = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0 and "No tasks found" not in done.stderr:
        raise SystemExit(f"inv --list failed in {cwd}: {done.stderr.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as bare:
        Path(bare, "tasks.py").write_text("from invoke import Collection\n\nns = Collection()\n")
        list_tasks(REPO)  # warm the file cache
        list_tasks(Path(bare))
        conveyor, empty = [], []
        for _ in range(args.runs):  # interleaved, so drift hits both alike
            conveyor.append(timed(lambda: list_tasks(REPO)))
            empty.append(timed(lambda: list_tasks(Path(bare))))
    ratio = median(conveyor) / median(empty)
    verdict = "meets" if ratio <= GOAL else "MISSES"
    body = "\n".join(
        [
            "## `inv --list` start-up",
            "",
            f"Command: `python -m benchmarks.bench_startup --runs {args.runs}` (median of interleaved runs).",
            "",
            table(
                ["what", "median"],
                [
                    ["`inv --list`, Conveyor's tasks", f"{median(conveyor) * 1000:.0f} ms"],
                    ["`inv --list`, bare Invoke, empty collection", f"{median(empty) * 1000:.0f} ms"],
                ],
            ),
            "",
            f"Ratio **{ratio:.2f}x** ({verdict} the goal of at most {GOAL}x).",
        ]
    )
    write_section("startup", body)
    print(body)


if __name__ == "__main__":
    main()
