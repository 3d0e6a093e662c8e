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
        lines = self._git(*_QUESTIONS[question][1:])
        return lines[0].strip() if lines else None

    def branches(self) -> frozenset[str] | None:
        """Names of the branches that exist: on `origin` when there is one (what GitLab has), else locally.
        None when git cannot tell (then rules about gone branches must not run)."""
        remote = self._git("ls-remote", "--heads", "origin") if self._git("remote", "get-url", "origin") else None
        if remote is not None:
            return frozenset(line.split("refs/heads/", 1)[1] for line in remote if "refs/heads/" in line)
        local = self._git("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads")
        return frozenset(line.strip() for line in local if line.strip()) if local is not None else None

    def _git(self, *args: str) -> list[str] | None:
        """git's output lines, or None when git is missing or fails."""
        try:
            result = process.run(Command(argv=("git", *args), cwd=str(self._project_dir)))
        except ToolError:
            return None
        return list(result.lines) if result.ok else None
