"""The code stays typed and tidy: ruff (lint and format) and mypy (strict, over src, tests, benchmarks and
devtools, as configured in pyproject.toml) pass on the whole tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",)],
    ids=["ruff check", "ruff format", "mypy"],
)
def test_the_tree_passes(argv: tuple[str, ...]) -> None:
    done = subprocess.run([sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
