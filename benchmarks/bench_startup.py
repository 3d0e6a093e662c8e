"""Both entry points, `inv --list` in a project whose tasks file is `from conveyor.tasks import ns` and the
`conveyor --list` console script, against bare Invoke with an empty collection, side by side.

    python -m benchmarks.bench_startup [--runs 20]

Goal: each within 1.3x (docker and kubernetes are imported only when a task needs them)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.report import median, table, timed, write_section

REPO = Path(__file__).resolve().parents[1]
GOAL = 1.3


INV = [sys.executable, "-m", "invoke", "--list"]
CONVEYOR = [sys.executable, "-c", "from conveyor.cli import main; main()", "--list"]  # what the script runs


def list_tasks(cwd: Path, argv: list[str] = INV) -> None:
    """`inv --list` (or `argv`) in `cwd`. Invoke exits 1 for an empty collection ("No tasks found"), after
    doing all the work of loading it, so only other failures count."""
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0 and "No tasks found" not in done.stderr:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}: {done.stderr.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as bare:
        Path(bare, "tasks.py").write_text("from invoke import Collection\n\nns = Collection()\n")
        list_tasks(REPO)  # warm the file cache
        list_tasks(Path(bare))
        list_tasks(REPO, CONVEYOR)
        inv, script, empty = [], [], []
        for _ in range(args.runs):  # interleaved, so drift hits all alike
            inv.append(timed(lambda: list_tasks(REPO)))
            script.append(timed(lambda: list_tasks(REPO, CONVEYOR)))
            empty.append(timed(lambda: list_tasks(Path(bare))))
    rows = []
    for name, runs in (("`inv --list`, Conveyor's tasks (one-line tasks file)", inv), ("`conveyor --list`", script)):
        ratio = median(runs) / median(empty)
        verdict = "meets" if ratio <= GOAL else "MISSES"
        rows.append([name, f"{median(runs) * 1000:.0f} ms", f"**{ratio:.2f}x** ({verdict} the goal of {GOAL}x)"])
    rows.append(["`inv --list`, bare Invoke, empty collection", f"{median(empty) * 1000:.0f} ms", "1.00x"])
    body = "\n".join(
        [
            "## `inv --list` and `conveyor --list` start-up",
            "",
            f"Command: `python -m benchmarks.bench_startup --runs {args.runs}` (median of interleaved runs; "
            "`conveyor` is run as `python -c 'from conveyor.cli import main; main()'`, what its console script "
            "does). Both import Conveyor's collection and check the project's invoke.yaml.",
            "",
            table(["what", "median", "vs bare Invoke"], rows),
        ]
    )
    write_section("startup", body)
    print(body)


if __name__ == "__main__":
    main()
