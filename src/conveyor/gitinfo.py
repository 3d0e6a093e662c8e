"""What git says about the project: the commit and branch, for runs outside GitLab."""

from __future__ import annotations

from pathlib import Path

from conveyor import process
from conveyor.errors import ToolError
from conveyor.process import Command

_QUESTIONS = {
    "commit": ("git", "rev-parse", "--verify", "-q", "HEAD"),
    "branch": ("git", "symbolic-ref", "--short", "-q", "HEAD"),
}


class GitAnswer:
    """Answers "commit" or "branch" for one directory; None outside a repository or without git."""

    def __init__(self, project_dir: Path) -> None:
        self._project_dir = project_dir

    def __call__(self, question: str) -> str | None:
        try:
            result = process.run(Command(argv=_QUESTIONS[question], cwd=str(self._project_dir)))
        except ToolError:
            return None
        return result.lines[0].strip() if result.ok and result.lines else None
