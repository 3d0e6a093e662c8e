"""Conveyor's own overhead in a full local pipeline run: the time in which no docker, compose, registry or
cluster call is in flight, as a share of the whole run (goal: under 5 %).

    python -m benchmarks.bench_pipeline

The example's pipeline runs once as `inv pipeline` to warm the registry, then, after a source change,
once more inside this process with every external call timed: compose and git (conveyor.process.run), the
docker SDK (Engine), registry HTTP (RegistryClient._request) and the cluster (Cluster._request and the
rollout wait). Calls overlap (test jobs run in parallel), so the external time is the union of their
intervals. Interpreter and Invoke start-up, timed separately as `inv --list`, is added to the overhead."""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks.report import table, write_section
from tests.k8s_sim import SCENARIOS, KubeSim
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
    from conveyor import compose, engine, gitinfo, process
    from conveyor.kube import cluster, wait
    from conveyor.registry import client

    process.run = intervals.timed("subprocess (compose, docker login, git)", process.run)
    compose.process.run = process.run
    gitinfo.process.run = process.run
    for name in ("__init__", "tag", "push", "pull", "registry_digest"):
        setattr(engine.Engine, name, intervals.timed("docker SDK", getattr(engine.Engine, name)))
    client.RegistryClient._request = intervals.timed("registry HTTP", client.RegistryClient._request)  # type: ignore[method-assign]
    cluster.Cluster._request = intervals.timed("cluster API", cluster.Cluster._request)  # type: ignore[method-assign]
    wait._Waiter.watch_once = intervals.timed("cluster watch", wait._Waiter.watch_once)  # type: ignore[method-assign]


def run_in_process(example: Example, kubeconfig: Path) -> tuple[float, Intervals, list[str]]:
    from conveyor.console import Console
    from conveyor.gitinfo import GitAnswer
    from conveyor.pipeline import describe
    from conveyor.pipeline_run import exit_code, run_pipeline, stage_runners, summary
    from conveyor.redact import Redactor
    from conveyor.settings import load_settings
    from conveyor.toolbox import Toolbox

    intervals = Intervals()
    instrument(intervals)
    lines: list[str] = []
    environ = {**example.env(), "KUBECONFIG": str(kubeconfig), "KUBE_NAMESPACE": NAMESPACE}
    started = time.perf_counter()
    settings = load_settings(
        project_dir=example.root,
        yaml_config=yaml.safe_load((example.root / "invoke.yaml").read_text())["conveyor"],
        environ=environ,
        dotenv={},
        git=GitAnswer(example.root),
    )
    tools = Toolbox(settings=settings, console=Console(Redactor(), lines.append))
    outcomes = run_pipeline(tools, describe(settings), stage_runners())
    wall = time.perf_counter() - started
    lines += summary(outcomes)
    if exit_code(outcomes):
        raise SystemExit("the measured pipeline failed:\n" + "\n".join(lines[-12:]))
    intervals.spans = [(max(b, started), e, k) for b, e, k in intervals.spans]
    return wall, intervals, lines


def startup_seconds(root: Path, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=root, check=True, capture_output=True)
        times.append(time.perf_counter() - begin)
    return sorted(times)[len(times) // 2]


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
            warm = example.inv("pipeline", KUBECONFIG=str(kubeconfig), KUBE_NAMESPACE=NAMESPACE)
            if warm.returncode != 0:
                raise SystemExit(f"warm-up pipeline failed: {warm.stdout[-2000:]}{warm.stderr}")
            source = example.root / "example" / "src" / "greeting.sh"
            source.write_text(source.read_text() + "\n# measured change\n")
            example.commit("measured change")
            startup = startup_seconds(example.root)
            wall, intervals, lines = run_in_process(example, kubeconfig)
        finally:
            sim.stop()
            registry.stop()
    external = intervals.union(min(b for b, _, _ in intervals.spans), max(e for _, e, _ in intervals.spans))
    own = wall - external + startup
    share = own / (wall + startup)
    rows = [[kind, f"{seconds:.2f} s"] for kind, seconds in sorted(intervals.by_kind().items())]
    body = "\n".join(
        [
            "## pipeline: Conveyor's own overhead in a full local run",
            "",
            "Command: `python -m benchmarks.bench_pipeline` (the example's whole pipeline after a source-only",
            "change: build-ci, three test jobs in parallel, build-prod, deploy to the simulated cluster, cleanup).",
            "",
            table(
                ["what", "time"],
                [
                    ["whole run (in process) + start-up (`inv --list`)", f"{wall:.2f} s + {startup:.2f} s"],
                    ["external calls in flight (union of intervals)", f"{external:.2f} s"],
                    ["**Conveyor's own time**", f"**{own:.2f} s**"],
                ],
            ),
            "",
            "External time by kind (summed, so parallel calls count more than once):",
            "",
            table(["kind", "time"], rows),
            "",
            f"Conveyor's own share: **{share * 100:.1f} %** of the run "
            f"({'meets' if share < GOAL else 'MISSES'} the goal of under {GOAL * 100:.0f} %). Own time includes "
            "interpreter and Invoke start-up, importing the docker, requests and kubernetes clients, "
            "settings, planning and printing.",
        ]
    )
    write_section("pipeline", body)
    print(body)
    print("\n".join(lines[-10:]))


if __name__ == "__main__":
    main()
