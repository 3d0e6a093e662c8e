"""This project's tasks: Conveyor's collection, as any adopting project has it."""

from conveyor.tasks import ns

__all__ = ["ns"]
