"""inv build-ci on the real engine, registry and compose."""

from __future__ import annotations

import re

import pytest

from tests.support.example import Example
from tests.support.integration import registry_digest, registry_tags

pytestmark = pytest.mark.integration


def test_build_ci_pushes_commit_and_branch_tags_with_one_digest(example: Example) -> None:
    example.git("checkout", "-q", "-b", "Feature/Login_Form")
    sha = example.git("rev-parse", "HEAD")

    result = example.inv("build-ci")

    assert result.returncode == 0, result.stdout + result.stderr
    assert registry_tags(example.registry.url, example.repository) == sorted([sha, "feature-login-form"])
    commit_digest = registry_digest(example.registry.url, example.repository, sha)
    branch_digest = registry_digest(example.registry.url, example.repository, "feature-login-form")
    assert commit_digest is not None and commit_digest == branch_digest
    assert f"same digest {commit_digest}" in result.stdout
    assert "is not in the registry yet (first build)" in result.stdout
    # (no assertion on CACHED steps here: the engine's own build cache may hold them from earlier builds)


def test_fresh_runner_rebuild_after_source_change_reuses_every_layer_before_the_source(example: Example) -> None:
    first = example.inv("build-ci")
    assert first.returncode == 0, first.stdout + first.stderr
    example.change_source("a source-only change")
    example.fresh_runner()

    second = example.inv("build-ci")

    assert second.returncode == 0, second.stdout + second.stderr
    steps = dict(re.findall(r"^\s*#(\d+) \[app \d+/\d+\] (.+)$", second.stdout, re.MULTILINE))
    cached = set(re.findall(r"^\s*#(\d+) CACHED$", second.stdout, re.MULTILINE))
    before_source = [
        v
        for v, instruction in steps.items()
        if not instruction.startswith(("FROM", "COPY example/src", "COPY example/tests"))
    ]
    assert any(steps[v].startswith("RUN /app/install-deps") for v in before_source)
    assert {steps[v] for v in before_source if v not in cached} == set(), second.stdout
    source = [v for v, instruction in steps.items() if instruction.startswith("COPY example/src")]
    assert source and source[0] not in cached
    assert re.search(
        r"cache: 3 of 5 steps CACHED \(cache from \S+:main\); rebuilt from `COPY example/src", second.stdout
    )


def test_build_ci_without_changes_is_fully_cached_and_keeps_one_digest(built_example: Example) -> None:
    again = built_example.inv("build-ci")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cache: 5 of 5 steps CACHED" in again.stdout
    sha = built_example.git("rev-parse", "HEAD")
    assert registry_digest(built_example.registry.url, built_example.repository, sha) == registry_digest(
        built_example.registry.url, built_example.repository, "main"
    )


def test_dry_run_prints_the_exact_plan_and_pushes_nothing(example: Example) -> None:
    sha = example.git("rev-parse", "HEAD")
    result = example.inv("build-ci", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert registry_tags(example.registry.url, example.repository) == []
    assert "dry run: would run: docker compose -f " in result.stdout and " build app" in result.stdout
    assert f"dry run: would push {example.image}:{sha} and check its digest" in result.stdout
    assert f"dry run: would push {example.image}:main and check its digest" in result.stdout
    tests = example.inv("test", "--dry-run", CI_COMMIT_SHA=sha)
    assert tests.returncode != 0 and "run inv build-ci" in tests.stderr  # the plan needs the image first
