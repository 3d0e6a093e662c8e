"""What `inv gitlab-ci` says about the files it writes: whether Conveyor's file is stale (with a unified
diff), whether the team's file includes it, and which settings it did not use because the CI file is
shaped by invoke.yaml alone."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

import yaml

from conveyor.config.schema import SETTINGS
from conveyor.errors import ConfigError
from conveyor.pipeline.gitlab import CONVEYOR_FILE, TEAM_FILE

# Settings that change the generated file: they are read from invoke.yaml only, so that the file is the same
# on every machine and in every job.
FIX = "run inv gitlab-ci and commit it"
SHAPING = ("job_image", "dind_image", "deployable_branches", "reports_dir", "environment_name")


def unused_variables(outside: Mapping[str, str]) -> list[str]:
    """One line per shaping setting given outside invoke.yaml (variable -> where), which was not used."""
    lines = []
    for setting in SETTINGS:
        if setting.name in SHAPING and setting.env in outside:
            lines.append(
                f"note: {setting.env} is set in {outside[setting.env]} but the CI file is shaped by invoke.yaml "
                f"alone, so it was not used: set conveyor.{setting.name} in invoke.yaml instead"
            )
    return lines


def stale_diff(path: Path, expected: str) -> str:
    """A unified diff (committed -> expected) when the file is stale, empty when it is up to date;
    ConfigError when it does not exist."""
    if not path.is_file():
        raise ConfigError(f"{CONVEYOR_FILE} does not exist", FIX)
    current = path.read_text()
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{CONVEYOR_FILE} (committed)",
        tofile=f"{CONVEYOR_FILE} (from invoke.yaml)",
    )
    return "".join(diff)


def describe_change(path: Path, text: str) -> str:
    if not path.is_file():
        return "a new file"
    return "no change" if path.read_text() == text else "it differs from the file there now"


def team_file_note(text: str) -> str:
    """A note when the team's .gitlab-ci.yml does not include Conveyor's file (empty when it does)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return f"note: {TEAM_FILE} is not valid YAML; it should include {CONVEYOR_FILE}"
    includes = document.get("include", []) if isinstance(document, dict) else []
    includes = includes if isinstance(includes, list) else [includes]
    for entry in includes:
        if entry == CONVEYOR_FILE or (
            isinstance(entry, dict) and entry.get("local") in (CONVEYOR_FILE, f"/{CONVEYOR_FILE}")
        ):
            return ""
    return f"note: {TEAM_FILE} does not include {CONVEYOR_FILE}: add `include: [{{local: {CONVEYOR_FILE}}}]` to it"
