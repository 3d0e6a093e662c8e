"""User regexes (cleanup rules, coverage lines) with RE2 semantics, as GitLab's cleanup policies and
coverage parsing use: linear time, so no pattern can hang a task; no lookarounds or backreferences."""

from __future__ import annotations

from typing import Protocol

import re2

from conveyor.errors import ConfigError


class Match(Protocol):
    def group(self, index: int = 0) -> str | None: ...

    def groups(self) -> tuple[str | None, ...]: ...


class Pattern(Protocol):
    def fullmatch(self, text: str) -> Match | None: ...

    def search(self, text: str) -> Match | None: ...


def compile_pattern(pattern: str, what: str) -> Pattern:
    """Compile `pattern` with RE2; ConfigError naming `what` (the flag, or the file and key) when RE2
    rejects it (lookarounds and backreferences are not RE2)."""
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own error to stderr
    try:
        return re2.compile(pattern, options)  # type: ignore[no-any-return]
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        raise ConfigError(
            f"{what} {pattern!r} is not an RE2 regular expression ({reason})",
            "write it in RE2 syntax, as GitLab's cleanup policies use (no lookarounds or backreferences)",
        ) from None
