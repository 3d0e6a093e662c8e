"""The `conveyor` console script: Invoke's Program with Conveyor's collection, for projects without a tasks
file. It finds the project as `inv` would (conveyor.config.projectroot) and loads its invoke.yaml."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

from invoke.exceptions import Exit
from invoke.program import Program

from conveyor.config.projectroot import find_root


class ConveyorProgram(Program):
    """Program with a bundled collection still reads the project's configuration file."""

    def parse_collection(self) -> None:
        super().parse_collection()
        self.config.set_project_location(str(find_root(Path.cwd())))
        self.config.load_project()


def main() -> None:
    try:
        from conveyor.tasks import ns  # checks the project's invoke.yaml first: one line when it is bad
    except Exit as stop:
        print(stop.message, file=sys.stderr)
        sys.exit(stop.code)
    program = ConveyorProgram(namespace=ns, version=version("conveyor"), name="Conveyor", binary="conveyor")
    program.run()
