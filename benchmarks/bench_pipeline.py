"""Conveyor's own overhead in a full local pipeline run: the time in which no docker, compose, registry or
cluster call is in flight, as a share of the whole run (goal: under 5 %).

    python -m benchmarks.bench_pipeline

The example's whole pipeline runs twice inside this process with every external call timed: compose and
git (conveyor.process.run), the docker SDK (Engine), registry HTTP (Transport.request) and the
cluster (Cluster.request and the rollout watch, wait_for_rollout). First as a branch's first pipeline on a fresh runner
(no images, no build cache: both dependency layers are installed), then after a source-only change (every
cache warm: the shortest run, where overhead weighs most). Calls overlap (the test jobs run in parallel),
so the external time is the union of their intervals. Interpreter and Invoke start-up (`inv --list`) is
added to both; the warm run also gets the cost of importing the docker, requests and kubernetes clients,
which the first run paid inside the measurement."""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import table, write_section
from devtools.k8s_sim import SCENARIOS, KubeSim
from tests.support.example import REPO, Example, make_example
from tests.support.registry import RegistryProcess

GOAL = 0.05
NAMESPACE = "conveyor"


class Intervals:
    def __init__(self) -> None:
        self.spans: list[tuple[float, float, str]] = []
        self._lock = threading.Lock()

    def timed(self, kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                with self._lock:
                    self.spans.append((started, time.perf_counter(), kind))

        return wrapper

    def union(self, start: float, end: float) -> float:
        total, reach = 0.0, start
        for begin, finish, _ in sorted(self.spans):
            begin, finish = max(begin, reach), min(finish, end)
            if finish > begin:
                total += finish - begin
                reach = finish
        return total

    def by_kind(self) -> dict[str, float]:
        kinds: dict[str, float] = {}
        for begin, finish, kind in self.spans:
            kinds[kind] = kinds.get(kind, 0.0) + finish - begin
        return kinds


def instrument(intervals: Intervals) -> None:
    """Wrap every place where Conveyor hands work to docker, compose, git, the registry or the cluster."""
    from conveyor import process
    from conveyor.docker import engine
    from conveyor.kube import cluster, wait
    from conveyor.registry import transport

    # compose, gitinfo and the toolbox call `process.run` through the module, so this one patch times them all
    process.run = intervals.timed("subprocess (compose, docker login, git)", process.run)
    for name in ("__init__", "tag", "push", "pull", "registry_digest"):
        setattr(engine.Engine, name, intervals.timed("docker SDK", getattr(engine.Engine, name)))
    transport.Transport.request = intervals.timed("registry HTTP", transport.Transport.request)  # type: ignore[method-assign]
    cluster.Cluster.request = intervals.timed("cluster API", cluster.Cluster.request)  # type: ignore[method-assign]
    wait.wait_for_rollout = intervals.timed("cluster watch", wait.wait_for_rollout)


def run_in_process(example: Example, kubeconfig: Path, intervals: Intervals) -> tuple[float, list[str]]:
    from conveyor.pipeline.description import describe
    from conveyor.pipeline.local import exit_code, run_pipeline, stage_runners, summary
    from tests.support.factories import example_toolbox

    intervals.spans.clear()
    lines: list[str] = []
    started = time.perf_counter()
    environ = {"KUBECONFIG": str(kubeconfig), "KUBE_NAMESPACE": NAMESPACE}
    tools = example_toolbox(example, lines, environ)
    settings = tools.settings
    jobs = describe(settings)
    outcomes = run_pipeline(tools, jobs, stage_runners(jobs))
    wall = time.perf_counter() - started
    lines += summary(outcomes)
    if exit_code(outcomes):
        raise SystemExit("the measured pipeline failed:\n" + "\n".join(lines[-12:]))
    return wall, lines


def median_seconds(argv: list[str], cwd: Path, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - begin)
    return sorted(times)[len(times) // 2]


@dataclass(frozen=True)
class Measured:
    name: str
    wall: float
    external: float
    added: float  # start-up (and imports) paid outside the measurement
    kinds: dict[str, float]

    @property
    def own(self) -> float:
        return self.wall - self.external + self.added

    @property
    def share(self) -> float:
        return self.own / (self.wall + self.added)


def measure(name: str, example: Example, kubeconfig: Path, intervals: Intervals, added: float) -> Measured:
    wall, lines = run_in_process(example, kubeconfig, intervals)
    print(f"{name}: {wall:.2f} s", *lines[-9:], sep="\n", flush=True)
    spans = intervals.spans
    external = intervals.union(min(b for b, _, _ in spans), max(e for _, e, _ in spans))
    return Measured(name, wall, external, added, intervals.by_kind())


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        registry = RegistryProcess(root=Path(work) / "registry").start()
        base = f"{registry.address}/conveyor/busybox:1.35"
        subprocess.run([str(REPO / ".ci" / "base-image"), base], check=True, capture_output=True)
        sim = KubeSim(SCENARIOS["success"], registry=registry.address).start()
        try:
            kubeconfig = sim.write_kubeconfig(Path(work) / "kube" / "config", namespace=NAMESPACE)
            sim.cluster.seed_deployment(NAMESPACE, "web", base, container="web")
            example = make_example(Path(work) / "project", registry, base)
            startup = median_seconds([sys.executable, "-m", "invoke", "--list"], example.root)
            imports = median_seconds([sys.executable, "-c", "import docker, requests, kubernetes.client"], REPO)
            intervals = Intervals()
            instrument(intervals)
            example.fresh_runner()
            cold = measure("first pipeline of the branch, fresh runner", example, kubeconfig, intervals, startup)
            example.change_source("measured change")
            warm = measure("after a source-only change, caches warm", example, kubeconfig, intervals, startup + imports)
        finally:
            sim.stop()
            registry.stop()
    rows = [
        [
            run.name,
            f"{run.wall + run.added:.2f} s",
            f"{run.external:.2f} s",
            f"{run.own:.2f} s",
            f"**{run.share * 100:.1f} %** ({'met' if run.share < GOAL else 'MISSED'})",
        ]
        for run in (cold, warm)
    ]
    kinds = sorted(set(cold.kinds) | set(warm.kinds))
    body = "\n".join(
        [
            "## pipeline: Conveyor's own overhead in a full local run",
            "",
            "Command: `python -m benchmarks.bench_pipeline`: the example's whole pipeline (build-ci, three test",
            "jobs in parallel, build-prod, deploy to the simulated cluster, cleanup) in one process, every call",
            "into docker, compose, git, the registry and the cluster timed; own time = the run minus the union",
            f"of those calls, plus start-up (`inv --list`, {startup:.2f} s) and, for the second run, importing",
            f"the docker, requests and kubernetes clients ({imports:.2f} s, paid inside the first run).",
            "",
            table(["run", "whole", "external calls", "Conveyor's own", f"share (goal < {GOAL * 100:.0f} %)"], rows),
            "",
            "External time by kind (summed, so parallel calls count more than once):",
            "",
            table(
                ["kind", "first run", "warm run"],
                [[k, f"{cold.kinds.get(k, 0):.2f} s", f"{warm.kinds.get(k, 0):.2f} s"] for k in kinds],
            ),
            "",
            "Nearly all of Conveyor's own time is interpreter start-up and importing the three client libraries;",
            "a warm run is so short (every layer cached) that this fixed cost is its largest share.",
        ]
    )
    write_section("pipeline", body)
    print(body)


if __name__ == "__main__":
    main()
