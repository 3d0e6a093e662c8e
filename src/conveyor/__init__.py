"""Conveyor: a container delivery pipeline as Invoke tasks."""

__version__ = "0.1.0"
