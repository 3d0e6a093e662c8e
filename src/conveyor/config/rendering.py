"""The documents rendered from the settings schema: `.env.example` (every variable, commented out, with its
default) and the README's settings table. `python -m conveyor.config.rendering --write` rewrites both in
the repository; `--check` fails when either is stale (a unit test runs the same comparison)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from conveyor.config.schema import SETTINGS

TABLE_BEGIN = "<!-- settings table: rendered from src/conveyor/config/schema.py -->"
TABLE_END = "<!-- end of the settings table -->"


def render_env_example() -> str:
    """The text of `.env.example`."""
    lines = [
        "# Conveyor's settings. Copy to .env (git-ignored) for local runs; in GitLab CI the CI_* variables are",
        "# predefined. Precedence: task flags > process environment > .env > invoke.yaml (conveyor:) > defaults.",
        "# Every line is commented out: the value shown is the default (empty = derived, see the comment).",
        "",
    ]
    for setting in SETTINGS:
        lines.append(f"# {setting.help}" + (" Secret: never printed." if setting.secret else ""))
        lines += [f"# {setting.env}={setting.default}", ""]
    return "\n".join(lines)


def render_settings_table() -> str:
    """The README's table: each variable with its invoke.yaml key, its default and what it means."""
    rows = [TABLE_BEGIN, "| variable (`invoke.yaml` key) | default | meaning |", "| --- | --- | --- |"]
    for setting in SETTINGS:
        meaning = setting.meaning or setting.help
        rows.append(f"| `{setting.env}` (`{setting.key}`) | {setting.documented_default} | {meaning} |")
    return "\n".join([*rows, TABLE_END])


def with_table(readme: str) -> str:
    """The README with its settings table replaced by the rendered one."""
    start, end = readme.index(TABLE_BEGIN), readme.index(TABLE_END) + len(TABLE_END)
    return readme[:start] + render_settings_table() + readme[end:]


def main(argv: Sequence[str], repository: Path) -> int:
    """`--write` rewrites .env.example and the README's table; `--check` says which is stale (exit 1)."""
    files = {
        repository / ".env.example": render_env_example(),
        repository / "README.md": with_table((repository / "README.md").read_text(encoding="utf-8")),
    }
    stale = [path for path, text in files.items() if path.read_text(encoding="utf-8") != text]
    if "--write" in argv:
        for path in stale:
            path.write_text(files[path], encoding="utf-8")
            print(f"wrote {path.name}")
        return 0
    for path in stale:
        print(f"{path.name} is stale: run python -m conveyor.config.rendering --write", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], Path.cwd()))
