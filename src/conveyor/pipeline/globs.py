"""Deployable branch globs as regular expressions, for GitLab's `=~` (RE2). The runtime matches branches
with `fnmatch.fnmatchcase`; this translation means the same: `*` is any run of characters (`/` included),
`?` one character, `[...]` and `[!...]` a set with ranges (a reversed range matches nothing, as in
Python), and a `[` without its `]` is itself."""

from __future__ import annotations

import re

_SET_SPECIALS = re.compile(r"([\\\[\]^-])")
NOTHING = r"[^\x00-\x{10FFFF}]"  # RE2 has no (?!): a set no character is in


def glob_regex(pattern: str) -> str:
    """The body of an anchored regex (`^...$`) matching what `fnmatchcase(name, pattern)` matches."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            if not out or out[-1] != ".*":
                out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = _set_end(pattern, index)
            if end is None:
                out.append(re.escape(char))
            else:
                out.append(_set(pattern[index:end]))
                index = end + 1
        else:
            out.append(re.escape(char))
    return "".join(out)


def _set_end(pattern: str, start: int) -> int | None:
    """The index of the `]` closing the set opened before `start` (a `]` first in the set is literal)."""
    index = start
    if index < len(pattern) and pattern[index] == "!":
        index += 1
    if index < len(pattern) and pattern[index] == "]":
        index += 1
    end = pattern.find("]", index)
    return end if end >= 0 else None


def _set(body: str) -> str:
    negate = body.startswith("!")
    body = body[1:] if negate else body
    members = [member for member in _ranges(body) if member[0] <= member[1]]
    if not members:
        return "." if negate else NOTHING
    parts = "".join(_escape(low) if low == high else f"{_escape(low)}-{_escape(high)}" for low, high in members)
    return f"[{'^' if negate else ''}{parts}]"


def _ranges(body: str) -> list[tuple[str, str]]:
    """The set's members as (low, high) ranges, read as Python's fnmatch reads them: `a-c` is a range, a
    `-` first or last is itself."""
    members: list[tuple[str, str]] = []
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            members.append((body[index], body[index + 2]))
            index += 3
        else:
            members.append((body[index], body[index]))
            index += 1
    return members


def _escape(char: str) -> str:
    return _SET_SPECIALS.sub(r"\\\1", char)
