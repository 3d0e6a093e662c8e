"""What collecting a test job's reports costs: the same job run side by side with and without declared reports.

    python -m benchmarks.bench_reports [--rounds 10]

Both jobs run the example's unit tests (which write a JUnit and a Cobertura file) in the CI image, with no
services; one declares the two files (run without `--rm` under a name, both files copied out through the
engine, the container removed), the other does not (`run --rm`, Conveyor's one-case JUnit report). Each round
runs both, in alternating order, through the test stage's own `run_job` (run, reports, project down).
Goal: collecting reports adds at most 0.3 s to a job."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.report import median, table, timed, write_section
from tests.support.example import REPO, Example, make_example
from tests.support.registry import RegistryProcess

GOAL = 0.3
COMMAND = "sh /app/tests/unit.sh"
JOBS: dict[str, dict[str, Any]] = {
    "plain": {"command": COMMAND, "services": []},
    "reported": {
        "command": COMMAND,
        "services": [],
        "reports": {"junit": "var/junit.xml", "coverage": {"format": "cobertura", "path": "var/coverage.xml"}},
    },
}


def job_runner(example: Example) -> dict[str, Any]:
    """name -> a function running that job once through the test stage, failing loudly when it fails."""
    from conveyor.stages.test import JobRunner, run_job
    from tests.support.factories import example_toolbox

    tools = example_toolbox(example, test_jobs=JOBS)
    settings = tools.settings
    runner = JobRunner(tools.docker(), tools.ci_project(), settings.reports_dir, tools.console)

    def run(name: str) -> None:
        result = run_job(runner, settings.job(name), prefix=False)
        if not result.passed or result.reports.missing:
            raise SystemExit(f"the measured job {name} failed: {result}")

    return {name: (lambda name=name: run(name)) for name in JOBS}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        registry = RegistryProcess(root=Path(work) / "registry").start()
        try:
            base = f"{registry.address}/conveyor/busybox:1.35"
            subprocess.run([str(REPO / ".ci" / "base-image"), base], check=True, capture_output=True)
            example = make_example(Path(work) / "project", registry, base)
            built = example.inv("build-ci")
            if built.returncode != 0:
                raise SystemExit(f"inv build-ci failed: {built.stderr.strip()}")
            runs = job_runner(example)
            for name in JOBS:  # warm up: the image is local, the first container start is paid here
                runs[name]()
            seconds: dict[str, list[float]] = {name: [] for name in JOBS}
            for round_ in range(args.rounds):
                order = list(JOBS) if round_ % 2 == 0 else list(reversed(JOBS))
                for name in order:
                    seconds[name].append(timed(runs[name]))
            example.remove_local_images()
        finally:
            registry.stop()
    write_report(args.rounds, seconds)


def write_report(rounds: int, seconds: dict[str, list[float]]) -> None:
    plain, reported = median(seconds["plain"]), median(seconds["reported"])
    added = reported - plain
    verdict = "meets" if added <= GOAL else "MISSES"
    rows = [
        [
            "declares no reports (`run --rm`, one-case JUnit written by Conveyor)",
            f"{plain:.2f} s",
            ", ".join(f"{s:.2f}" for s in seconds["plain"]),
        ],
        [
            "declares JUnit + Cobertura (`run --name`, 2 files copied out, container removed)",
            f"{reported:.2f} s",
            ", ".join(f"{s:.2f}" for s in seconds["reported"]),
        ],
    ]
    body = "\n".join(
        [
            "## test: collecting a job's declared reports",
            "",
            f"Command: `python -m benchmarks.bench_reports --rounds {rounds}`: the example's unit tests as two jobs",
            "without services, one declaring its JUnit and Cobertura files, run alternately through the test",
            "stage's `run_job` (compose run, reports, removal, `compose down`) against the local engine.",
            "",
            table(["job", "median", "rounds (s)"], rows),
            "",
            f"- added by collecting the reports: **{added * 1000:+.0f} ms** per job, ratio **{reported / plain:.2f}x**"
            f" (goal: at most {GOAL * 1000:.0f} ms: {verdict})",
        ]
    )
    write_section("reports", body)
    print(body)


if __name__ == "__main__":
    main()
