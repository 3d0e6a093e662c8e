"""A small command line over conveyor.kube, for benchmarks and manual checks (the pipeline uses `inv`):

    python -m conveyor.kube --kubeconfig PATH [--namespace NS] status DEPLOYMENT [--timeout S]
    python -m conveyor.kube --kubeconfig PATH [--namespace NS] set-image DEPLOYMENT CONTAINER=IMAGE
    python -m conveyor.kube --kubeconfig PATH [--namespace NS] undo DEPLOYMENT [--to-revision N]

Exit code 0 on success, 1 on a failed rollout or any ConveyorError (printed as one line on stderr)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from conveyor.errors import ConveyorError
from conveyor.kube.deployment import rollback, set_image
from conveyor.kube.kubeconfig import load_cluster
from conveyor.kube.wait import WaitOptions, wait_for_rollout


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m conveyor.kube")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", default=None)
    parser.add_argument("--context", default=None)
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status")
    status.add_argument("deployment")
    status.add_argument("--timeout", type=float, default=600.0)
    status.add_argument("--no-pods", action="store_true", help="judge like kubectl only, without looking at pods")
    image = commands.add_parser("set-image")
    image.add_argument("deployment")
    image.add_argument("assignment", metavar="CONTAINER=IMAGE")
    image.add_argument("--change-cause", default="")
    undo = commands.add_parser("undo")
    undo.add_argument("deployment")
    undo.add_argument("--to-revision", type=int, default=0)
    return parser


def _out(line: str) -> None:
    print(line, flush=True)


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    cluster = load_cluster(kubeconfig=args.kubeconfig, namespace=args.namespace, context=args.context)
    if args.command == "status":
        options = WaitOptions(timeout=args.timeout, inspect_pods=not args.no_pods)
        result = wait_for_rollout(cluster, args.deployment, options, on_message=_out, on_warning=_err)
        if not result.ok:
            _err(f"error: {result.message}")
        return 0 if result.ok else 1
    if args.command == "set-image":
        container, _, image = args.assignment.partition("=")
        _out(set_image(cluster, args.deployment, container, image, args.change_cause).describe())
        return 0
    done = rollback(cluster, args.deployment, args.to_revision)
    _out(f"deployment.apps/{done.deployment} {done.message}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except ConveyorError as exc:
        _err(f"error: {exc}")
        return exc.exit_code


def exit_now(code: int) -> NoReturn:
    """Flush and leave without tearing the interpreter down: after importing the `kubernetes` client
    (thousands of generated model classes) a normal exit spends about 0.3 s in garbage collection and
    module cleanup, after the verdict is already known. Nothing registered with atexit matters here."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
