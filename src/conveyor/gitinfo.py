"""What git says about the project: the commit and branch, for runs outside GitLab, and the branches on
`origin`, for the deletion guard."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conveyor import process
from conveyor.errors import ToolError
from conveyor.process import Command
from conveyor.slug import ref_slug

_QUESTIONS = {
    "commit": ("git", "rev-parse", "--verify", "-q", "HEAD"),
    "branch": ("git", "symbolic-ref", "--short", "-q", "HEAD"),
    "origin": ("git", "remote", "get-url", "origin"),
    "default_branch": ("git", "symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD"),
}
LS_REMOTE_TIMEOUT = 30.0
_USERINFO = re.compile(r"://[^/@\s]+@")  # credentials in a remote's URL (GitLab puts the job token there)
# Never wait for a password prompt: a job has no one to answer it.
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"}


@dataclass(frozen=True)
class Branches:
    """The branches on `origin`, or why `origin` could not be asked."""

    names: frozenset[str] = frozenset()
    problem: str = ""

    @functools.cached_property
    def by_slug(self) -> dict[str, str]:
        """slug -> the branch with that slug (the first by name when several share one)."""
        owners: dict[str, str] = {}
        for name in sorted(self.names):
            owners.setdefault(ref_slug(name), name)
        return owners

    def owner(self, tag: str) -> str | None:
        """The branch whose slug is `tag`."""
        return self.by_slug.get(tag)


class GitAnswer:
    """Answers "commit", "branch", "origin" (its URL) or "default_branch" (origin/HEAD) for one directory;
    None outside a repository, without git, or when there is no such thing."""

    def __init__(self, project_dir: Path) -> None:
        self._project_dir = project_dir

    def __call__(self, question: str) -> str | None:
        return self.first_line(_QUESTIONS[question][1:])

    def first_line(self, args: Sequence[str], timeout: float | None = None) -> str | None:
        """The first line `git ARGS` prints, or None (not a repository, a failure, no answer, no git)."""
        result = self._git(*args, timeout=timeout)
        return (result.first_line().strip() or None) if result is not None and result.ok else None

    def origin_branches(self) -> Branches:
        """The branches on `origin`, which is what GitLab has. Never local branches: a branch deleted on the
        server may linger in a checkout. Says why when origin is missing or cannot be reached."""
        if (remote := self._git("remote", "get-url", "origin")) is None or not remote.ok:
            return Branches(problem="this checkout has no origin remote")
        listed = self._git("ls-remote", "--heads", "origin", timeout=LS_REMOTE_TIMEOUT)
        if listed is None:
            return Branches(problem="git is not installed")
        if listed.timed_out:
            return Branches(problem=f"git ls-remote origin did not answer within {LS_REMOTE_TIMEOUT:.0f} s")
        if not listed.ok:
            why = _USERINFO.sub("://", listed.last_line()) or f"exit code {listed.returncode}"
            return Branches(problem=f"git ls-remote origin failed: {why}")
        heads = (line.split("refs/heads/", 1)[1] for line in listed.lines if "\trefs/heads/" in line)
        return Branches(names=frozenset(heads))

    def _git(self, *args: str, timeout: float | None = None) -> process.Completed | None:
        """git's answer, or None when git is missing."""
        command = Command(argv=("git", *args), cwd=str(self._project_dir), env=_NO_PROMPT, timeout=timeout)
        try:
            return process.run(command)
        except ToolError:
            return None
