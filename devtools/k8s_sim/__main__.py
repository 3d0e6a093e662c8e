"""Serve the simulated cluster until stopped (SIGTERM/SIGINT), for the README's run command:

    python -m devtools.k8s_sim --kubeconfig PATH --registry HOST:PORT --seed web=IMAGE

Writes a kubeconfig (namespace "conveyor") and seeds each Deployment (container named like it) healthy."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from devtools.k8s_sim import SCENARIOS, KubeSim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--registry", default=None, help="the registry the simulated kubelet pulls from")
    parser.add_argument("--seed", action="append", default=[], help="NAME=IMAGE: a healthy Deployment")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with KubeSim(SCENARIOS["success"], registry=args.registry) as sim:
        sim.write_kubeconfig(args.kubeconfig, namespace="conveyor")
        for seed in args.seed:
            name, _, image = seed.partition("=")
            sim.cluster.seed_deployment("conveyor", name, image, container=name)
        print(f"simulated cluster at {sim.url}, kubeconfig {args.kubeconfig}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
