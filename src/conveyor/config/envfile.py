"""A project's `.env` file, read strictly: every line must parse (python-dotenv only warns and skips), the
file must be UTF-8, and each value remembers its line, so that an error names the file and the line."""

from __future__ import annotations

import io
import re
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from conveyor.config.schema import Given
from conveyor.errors import ConfigError

_NAME = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)")


def read_env_file(path: Path) -> dict[str, Given]:
    """KEY -> Given(value, ".env line N (KEY)"); {} when there is no file. Values are interpolated as
    python-dotenv does (`${OTHER}`)."""
    if not path.is_file():
        return {}
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path.name} is not UTF-8 text (byte {error.start})", f"save {path} as UTF-8") from None
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            # never show the line itself: it may hold a secret
            name = _NAME.match(binding.original.string)
            what = f"the line setting {name.group(1)}" if name else "a line"
            raise ConfigError(
                f"{path.name} line {binding.original.line}: cannot read {what}",
                "write KEY=value, quoting values with spaces or '#' (\"...\"), one per line",
            )
        if binding.key is not None:
            lines[binding.key] = binding.original.line
    values = dotenv_values(stream=io.StringIO(text))
    return {key: Given(value or "", f"{path.name} line {lines.get(key, 0)} ({key})") for key, value in values.items()}
