"""Error classes. Every error Conveyor raises on purpose is a ConveyorError: one line that names the
problem and says what to do. The task layer prints it and exits non-zero, without a traceback."""

from __future__ import annotations


class ConveyorError(Exception):
    """A problem the user can act on. `str(error)` is the whole one-line message."""

    exit_code: int = 1

    def __init__(self, problem: str, hint: str = "") -> None:
        self.problem = problem
        self.hint = hint
        super().__init__(f"{problem}: {hint}" if hint else problem)


class ConfigError(ConveyorError):
    """A setting is missing or malformed."""


class BadReference(ConveyorError):
    """An image reference does not follow the distribution reference grammar."""


class ToolError(ConveyorError):
    """An external program (docker, compose, git, kubectl) is missing or failed."""


class DockerError(ConveyorError):
    """The Docker engine refused or failed an operation."""


class RegistryError(ConveyorError):
    """The registry refused or failed an operation."""


class CleanupRefused(ConveyorError):
    """The deletion guard kept a tag the user asked to delete."""


class JobFailed(ConveyorError):
    """A test job ran and failed; its exit code becomes the task's."""

    def __init__(self, problem: str, exit_code: int) -> None:
        super().__init__(problem)
        self.exit_code = exit_code
