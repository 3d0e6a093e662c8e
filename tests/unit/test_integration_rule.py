"""The one rule for integration tests that cannot run: they skip with the README's `INTEGRATION TEST NOT
RUN` reason, or fail under CONVEYOR_REQUIRE_INTEGRATION=1; no test skips any other way. Checked on
tests/integration/kube/test_kube_contexts.py with kubectl taken off the PATH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTEXTS = "tests/integration/kube/test_kube_contexts.py"


def run_without_kubectl(tmp_path: Path, required: bool) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key != "CONVEYOR_REQUIRE_INTEGRATION"}
    environ["PATH"] = str(tmp_path)  # an empty directory: no kubectl to find
    if required:
        environ["CONVEYOR_REQUIRE_INTEGRATION"] = "1"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", CONTEXTS, "-k", "kubectl_looks"]
    return subprocess.run(argv, cwd=REPO, env=environ, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("required", [True, False], ids=["required: fails", "not required: skips loudly"])
def test_kube_contexts_fails_without_kubectl_when_integration_is_required(tmp_path: Path, required: bool) -> None:
    done = run_without_kubectl(tmp_path, required)
    output = done.stdout + done.stderr
    assert "INTEGRATION TEST NOT RUN: kubectl is not installed" in output, output
    if required:
        assert done.returncode != 0 and re.search(r"\b1 failed\b", output), output
    else:
        assert done.returncode == 0 and re.search(r"\b1 skipped\b", output), output


def test_no_test_skips_or_fails_for_a_missing_component_but_through_the_one_helper() -> None:
    helper = REPO / "tests" / "support" / "integration.py"
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / "tests").rglob("*.py"))
        if path != helper and path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"pytest\.(skip|fail)\(", line)
    ]
    assert offenders == []
