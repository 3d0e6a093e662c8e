"""What building the job image works with: the Docker session (its subprocesses and its engine), the
console, the stop signal, and the registry and registry image the image and its base go to."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.console import Console
from conveyor.docker.engine import Engine
from conveyor.docker.session import DockerSession
from conveyor.interrupt import Stop
from conveyor.process import Command, Completed, LineSink


@dataclass(frozen=True)
class JobImageTools:
    docker: DockerSession
    console: Console
    stop: Stop
    registry: str
    registry_image: str

    def run(self, command: Command, sink: LineSink | None = None) -> Completed:
        return self.docker.runner.run(command, sink)

    def engine(self) -> Engine:
        return self.docker.engine()
