"""Fresh-runner rebuild after a source-only change: with the branch image as cache vs without, and
against a warm daemon, side by side on the same engine and registry.

    python -m benchmarks.bench_build_cache [--runs 3]

Each run changes only example/src and commits. "Fresh runner" = none of the example's images, no base
image and an empty BuildKit cache on the engine (`docker builder prune -af`: run this on a disposable
engine such as the one .ci/services starts). Goals: cached fresh rebuild >= 5x faster than uncached (the
dependency layer costs >= 5 s), and within 1.25x of a warm-daemon rebuild."""

from __future__ import annotations

import argparse
import functools
import subprocess
import tempfile
from pathlib import Path

from benchmarks.report import median, table, timed, write_section
from tests.support.example import REPO, Example, make_example
from tests.support.registry import RegistryProcess

SPEEDUP_GOAL = 5.0
WARM_GOAL = 1.25


def build(example: Example, **env: str) -> None:
    result = example.inv("build-ci", **env)
    if result.returncode != 0:
        raise SystemExit(f"inv build-ci failed: {result.stderr.strip()}")


def push_base_image(ref: str) -> None:
    subprocess.run([str(REPO / ".ci" / "base-image"), ref], check=True, capture_output=True)


def measure(example: Example, runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"fresh, branch cache": [], "fresh, no cache": [], "warm daemon": []}
    build(example)  # the branch image exists: earlier pipelines of this branch
    for run in range(runs):
        example.change_source(f"change {3 * run}")
        example.fresh_runner()
        times["fresh, branch cache"].append(timed(lambda: build(example)))

        example.change_source(f"change {3 * run + 1}")
        example.fresh_runner()
        # a branch never built before: its cache tag does not exist, so nothing is reused
        times["fresh, no cache"].append(timed(functools.partial(build, example, CI_COMMIT_REF_NAME=f"fresh-{run}")))

        example.change_source(f"change {3 * run + 2}")
        build(example)  # make the daemon warm for this branch again
        example.change_source(f"change {3 * run + 3}")
        times["warm daemon"].append(timed(lambda: build(example)))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        registry = RegistryProcess(root=Path(work) / "registry").start()
        try:
            base = f"{registry.address}/conveyor/busybox:1.35"
            push_base_image(base)
            example = make_example(Path(work) / "project", registry, base)
            times = measure(example, args.runs)
        finally:
            registry.stop()
    cached, uncached, warm = (median(times[k]) for k in ("fresh, branch cache", "fresh, no cache", "warm daemon"))
    speedup, warm_ratio = uncached / cached, cached / warm
    body = "\n".join(
        [
            "## build-ci: fresh-runner rebuild after a source-only change",
            "",
            f"Command: `python -m benchmarks.bench_build_cache --runs {args.runs}` (whole `inv build-ci`: build,",
            "tag, push both tags, verify digests; the example's dependency layer takes 10 s to install).",
            "",
            table(
                ["scenario", "median", "runs"],
                [[name, f"{median(v):.2f} s", ", ".join(f"{x:.2f}" for x in v)] for name, v in times.items()],
            ),
            "",
            f"- branch cache vs none on a fresh runner: **{speedup:.1f}x faster** (goal >= {SPEEDUP_GOAL}x: "
            f"{'met' if speedup >= SPEEDUP_GOAL else 'MISSED'})",
            f"- fresh runner with cache vs warm daemon: **{warm_ratio:.2f}x** (goal <= {WARM_GOAL}x: "
            f"{'met' if warm_ratio <= WARM_GOAL else 'MISSED'})",
        ]
    )
    write_section("build-cache", body)
    print(body)


if __name__ == "__main__":
    main()
