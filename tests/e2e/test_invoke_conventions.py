"""Do what was asked, no more, through the real `inv`: Invoke's own `--dry` changes nothing on any task,
chained tasks run in turn until one fails (its exit code is the run's), and bad input of every kind is one
line, a non-zero exit code, no traceback, and nothing changed in the registry or the cluster."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from conveyor.registry import RegistryClient, RegistryOptions
from tests.e2e.conftest import Cluster
from tests.support.example import Example
from tests.support.images import push_image
from tests.support.integration import assert_one_line_failure, registry_catalog, registry_tags, unavailable

pytestmark = pytest.mark.e2e


def snapshot(example: Example, cluster: Cluster | None = None) -> tuple[Any, ...]:
    """Every repository's tags, the example's files, and the cluster's Deployment."""
    url = example.registry.url
    tags = {repository: registry_tags(url, repository) for repository in registry_catalog(url)}
    files = {p: p.read_bytes() for p in sorted(example.root.rglob("*")) if p.is_file() and ".git" not in p.parts}
    deployment = cluster.deployment() if cluster else None
    spec = (deployment["spec"], deployment["metadata"]["generation"]) if deployment else None
    return tags, files, spec


def seed_ci_tags(example: Example, *tags: str) -> None:
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        push_image(client, example.repository, list(tags), "seed")


# ---- inv --dry ------------------------------------------------------------------------------------------


def test_inv_dry_changes_nothing_on_any_task(example: Example, cluster: Cluster) -> None:
    seed_ci_tags(example, "build.1", "build.2")
    target = f"{example.registry.address}/{example.repository}:build.1"
    before = snapshot(example, cluster)
    runs = {
        "cleanup": example.inv("--dry", "cleanup", "--tag", target, **cluster.env()),
        "policy": example.inv("--dry", "cleanup.policy", "--delete", ".*", "--execute"),
        "build-ci": example.inv("--dry", "build-ci"),
        "gitlab-ci": example.inv("--dry", "gitlab-ci"),
        "ci-image": example.inv("--dry", "cleanup.ci-image"),
        "build-prod": example.inv("--dry", "build-prod"),
        "pipeline": example.inv("--dry", "pipeline", **cluster.env()),
    }
    assert snapshot(example, cluster) == before
    for name, result in runs.items():
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    assert f"dry run: would-delete {example.repository}:build.1" in runs["cleanup"].stdout
    assert f"dry run: would-delete {example.repository}:build.2" in runs["policy"].stdout
    assert "dry run: would write .gitlab-ci.yml" in runs["gitlab-ci"].stdout
    assert "would push" in runs["build-ci"].stdout and "would push" in runs["build-prod"].stdout
    assert "deploy" in runs["pipeline"].stdout and "pipeline: passed" not in runs["pipeline"].stdout


# ---- chained tasks --------------------------------------------------------------------------------------


def test_chained_tasks_run_in_turn_and_the_failing_one_sets_the_exit_code(example: Example, cluster: Cluster) -> None:
    ours = example.root / ".gitlab" / "conveyor.yml"
    ours.parent.mkdir(exist_ok=True)
    ours.write_text("stale\n")
    both = example.inv("deploy.status", "gitlab-ci", "--check", **cluster.env())
    assert both.returncode == 1, both.stdout + both.stderr
    assert 'deployment "web" successfully rolled out' in both.stdout, "the first task ran"
    assert_one_line_failure(both, ".gitlab/conveyor.yml is stale")
    first_fails = example.inv("deploy.status", "--deployment", "nope", "gitlab-ci", **cluster.env())
    assert_one_line_failure(first_fails, 'deployment "nope" not found')
    assert ours.read_text() == "stale\n", "the second task never ran"
    fine = example.inv("gitlab-ci", "deploy.status", **cluster.env())
    assert fine.returncode == 0 and "wrote .gitlab/conveyor.yml" in fine.stdout and "rolled out" in fine.stdout


# ---- bad input ------------------------------------------------------------------------------------------

BAD_FLAGS = [
    (("deploy.status", "--timeout=0"), "--timeout '0' is zero"),
    (("deploy.status", "--timeout=nan"), "--timeout 'nan' is not a duration"),
    (("deploy.status", "--timeout=inf"), "--timeout 'inf' is not a duration"),
    (("deploy", "--timeout=5x"), "--timeout '5x' is not a duration"),
    (("deploy", "--rollback=maybe"), "--rollback 'maybe' is not one of auto, true, false"),
    (("cleanup.policy", "--keep-newest=two", "--delete", ".*"), "--keep-newest 'two' is not a whole number"),
    (("cleanup.policy", "--keep-newest=-1", "--delete", ".*"), "--keep-newest '-1' is not a whole number"),
    (("cleanup.policy", "--older-than=99999999999w", "--delete", ".*"), "longer than the limit of 3650d"),
    (("cleanup.policy", "--delete", "(?=x).*", "--execute"), "is not an RE2 regular expression"),
]


@pytest.mark.parametrize(("args", "words"), BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flags_are_one_line_and_change_nothing(
    example: Example, cluster: Cluster, args: tuple[str, ...], words: str
) -> None:
    seed_ci_tags(example, "build.1")
    before = snapshot(example, cluster)
    result = example.inv(*args, **cluster.env())
    assert_one_line_failure(result, words)
    assert snapshot(example, cluster) == before


def test_a_good_duration_flag_is_taken(example: Example, cluster: Cluster) -> None:
    result = example.inv("deploy.status", "--timeout=5m", **cluster.env())
    assert result.returncode == 0, result.stdout + result.stderr


BAD_PROJECT_FILES = [
    ("invoke.yaml", "conveyor:\n  test_jobs:\n    unit: {command: x\n", "invoke.yaml: line 4 column 1"),
    ("invoke.yaml", "conveyor:\n  test_jobs: [unit]\n", "conveyor.test_jobs must be a mapping, not a list"),
    ("invoke.yaml", "conveyor:\n  prod_images: web\n", "conveyor.prod_images must be a mapping"),
    ("invoke.yaml", "conveyor:\n  compose_flies: [a.yml]\n", "did you mean 'compose_files'?"),
    (
        "invoke.yaml",
        "conveyor:\n  test_jobs:\n    unit: {command: x, services: db}\n",
        "conveyor.test_jobs.unit.services must be a list",
    ),
]


@pytest.mark.parametrize(("name", "text", "words"), BAD_PROJECT_FILES, ids=[w for _, _, w in BAD_PROJECT_FILES])
def test_a_bad_invoke_yaml_is_one_line_even_for_list(example: Example, name: str, text: str, words: str) -> None:
    (example.root / name).write_text(text)
    before = snapshot(example)
    for args in (("--list",), ("build-ci",)):
        assert_one_line_failure(example.inv(*args), words)
    assert snapshot(example) == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"CONVEYOR_CI_SERVICE=app\nCONVEYOR_KEEP_RELEASES=two\n", ".env line 2 (CONVEYOR_KEEP_RELEASES) 'two'"),
        (b'CONVEYOR_CI_SERVICE=app\nCI_REGISTRY_PASSWORD="open\n', ".env line 2: cannot read the line setting"),
        (b"CONVEYOR_CI_SERVICE=caf\xe9\n", ".env is not UTF-8 text"),
    ],
)
def test_a_bad_env_file_names_the_file_and_line(example: Example, content: bytes, words: str) -> None:
    (example.root / ".env").write_bytes(content)
    before = snapshot(example)
    result = example.inv("build-ci")
    assert_one_line_failure(result, words)
    assert "open" not in result.stderr
    assert snapshot(example) == before


def test_a_reports_path_that_is_a_file(example: Example, tmp_path: Path) -> None:
    (example.root / "reports").write_text("a file")
    before = snapshot(example)
    assert_one_line_failure(example.inv("test", "--job", "lint"), "is a file, not a directory")
    assert snapshot(example) == before


def test_no_traceback_anywhere_for_a_missing_flag_value(example: Example) -> None:
    result = subprocess.run(
        ["python3", "-m", "invoke", "cleanup.policy", "--older-than"],
        cwd=example.root,
        env=example.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr


def test_docker_settings_from_the_env_file_reach_compose(example: Example, tmp_path: Path) -> None:
    """DOCKER_CONFIG set in .env (not in the process environment) is what the compose subprocess sees."""
    empty = tmp_path / "docker-config"
    empty.mkdir()
    probe = subprocess.run(
        ["docker", "compose", "version"], env={**example.env(), "DOCKER_CONFIG": str(empty)}, capture_output=True
    )
    if probe.returncode == 0:
        unavailable("compose is installed system-wide, so DOCKER_CONFIG cannot hide it")
    (example.root / ".env").write_text(f"DOCKER_CONFIG={empty}\n")
    before = snapshot(example)
    assert_one_line_failure(example.inv("build-ci"), "Docker Compose v2 is missing")
    assert snapshot(example) == before
