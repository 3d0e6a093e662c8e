"""`conveyor init` / `inv init` with the real `docker compose config`, in copies of samples/shop (compose files
at the root, a CI service `php`, a prod file with two images, `master` as origin's default branch): the files
written, that Conveyor's own settings and compose invocations accept them, and bad input (one line, exit 1,
nothing written)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor import process
from conveyor.config.loading import load_settings
from conveyor.config.rendering import render_env_example
from conveyor.config.schema import SETTINGS
from conveyor.config.settings import Settings
from conveyor.config.specs import check_file
from conveyor.console import Console
from conveyor.docker.compose import ComposeProject
from conveyor.redact import Redactor
from conveyor.wiring.toolbox import Toolbox
from tests.support.integration import assert_one_line_failure, registry_tags, unavailable
from tests.support.registry import RegistryProcess

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "shop"
SCRUBBED_PREFIXES = ("CI_", "GITLAB_", "CONVEYOR_", "COMPOSE_", "DOCKER_CONFIG", "KUBECONFIG")
CONVEYOR = ("-c", "from conveyor.cli import main; main()")
WRITTEN = {
    "invoke.yaml",
    "compose.conveyor.yaml",
    "compose.prod.conveyor.yaml",
    ".env.example",
    "tasks.py",
    ".gitlab-ci.yml",
    ".gitlab/conveyor.yml",
}


@pytest.fixture(scope="module", autouse=True)
def compose_v2() -> None:
    """Only compose is needed (`config` parses without a daemon)."""
    if shutil.which("docker") is None:
        unavailable("the docker CLI is not installed (.ci/install)")
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode != 0:
        unavailable("the compose v2 plugin is missing (.ci/install)")


def environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    return {**env, "NO_COLOR": "1", **overrides}


def run(root: Path, argv: tuple[str, ...], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=root, env=environment(**env), capture_output=True, text=True, timeout=300
    )


def conveyor(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The `conveyor` console script, as a project without a tasks file runs it."""
    return run(root, (*CONVEYOR, *args), **env)


def inv(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run(root, ("-m", "invoke", *args), **env)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def shop(tmp_path: Path, branch: str = "feature/init") -> Path:
    """A copy of samples/shop with its own git history, `origin` (a bare repository on this machine) whose
    default branch is master, and `branch` checked out; its compose project name is unique."""
    origin = tmp_path / "origin.git"
    root = tmp_path / "shop"
    shutil.copytree(SAMPLE, root)
    compose = root / "compose.yaml"
    compose.write_text(f"name: shop-{uuid.uuid4().hex[:8]}\n" + compose.read_text())
    git(tmp_path, "init", "-q", "--bare", "-b", "master", str(origin))
    git(root, "init", "-q", "-b", "master")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "shop")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "master")
    git(root, "remote", "set-head", "origin", "--auto")
    if branch != "master":
        git(root, "checkout", "-q", "-b", branch)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def settings_of(root: Path, **environ: str) -> Settings:
    section = yaml.safe_load((root / "invoke.yaml").read_text())["conveyor"]
    base = {"CI_REGISTRY": "registry.test", "CI_REGISTRY_IMAGE": "registry.test/group/shop", "CI_COMMIT_SHA": "c" * 40}
    return load_settings(root, section, {**base, "CI_COMMIT_REF_NAME": "master", **environ}, {}, lambda _q: None)


def model(project: ComposeProject, tmp_path: Path) -> Mapping[str, Any]:
    """What compose makes of a project exactly as a Conveyor task runs it (files, name, variables)."""
    target = tmp_path / f"{project.name}.json"
    result = process.run(project.command("config", "--format", "json", "--output", str(target)))
    assert result.ok, result.output
    loaded: Mapping[str, Any] = yaml.safe_load(target.read_text())
    return loaded


def test_conveyor_init_writes_a_project_conveyor_accepts(tmp_path: Path) -> None:
    root = shop(tmp_path)
    before = snapshot(root)
    result = conveyor(root, "init")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ci_service: php (the only service with a build: section)" in out
    assert "prod_images: api, worker (the services of compose.prod.yaml with a build: section)" in out
    assert "prod_compose_files: compose.prod.yaml (stands alone: it names no service of the CI files)" in out
    assert "deployable_branches: master (origin's default branch, origin/HEAD)" in out
    assert "left to fill in:" in out and "CI_REGISTRY" in out and "conveyor.test_jobs" in out
    after = snapshot(root)
    assert set(after) - set(before) == WRITTEN
    assert all(after[name] == data for name, data in before.items()), "a file of the project changed"
    assert after["tasks.py"] == b"from conveyor.tasks import ns\n"
    assert after[".env.example"].decode() == render_env_example()

    check_file(root / "invoke.yaml", [setting.name for setting in SETTINGS])
    settings = settings_of(root)
    assert [p.name for p in settings.compose_files] == ["compose.yaml", "compose.conveyor.yaml"]
    assert [p.name for p in settings.prod_compose_files] == ["compose.prod.yaml", "compose.prod.conveyor.yaml"]
    assert (settings.ci_service, settings.deployable_branches) == ("php", ())  # the default branch: not written
    assert settings_of(root, CI_DEFAULT_BRANCH="master").deployable
    assert [(i.name, i.service) for i in settings.prod_images] == [("api", "api"), ("worker", "worker")]

    tools = Toolbox(settings=settings, console=Console(Redactor(), lambda _line: None))
    php = model(tools.ci_project(), tmp_path)["services"]["php"]
    assert php["image"] == str(settings.images.ci_commit)
    assert str(settings.images.ci_branch) in php["build"]["cache_from"]
    assert php["build"]["args"]["BUILDKIT_INLINE_CACHE"] == "1"
    assert php["build"]["args"]["SHOP_BASE"] == "busybox:1.36"  # the user's own build args stay
    prod = model(tools.prod_project(), tmp_path)["services"]
    for name in ("api", "worker"):
        names = settings.images.prod[name]
        assert prod[name]["image"] == str(names.release)
        assert prod[name]["build"]["cache_from"] == [str(names.cache)]
        assert prod[name]["build"]["args"]["BUILDKIT_INLINE_CACHE"] == "1"

    plain = subprocess.run(
        ["docker", "compose", "-f", "compose.yaml", "-f", "compose.conveyor.yaml", "config", "--quiet"],
        cwd=root,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr  # no variable left unset
    assert "build-ci" in inv(root, "--list").stdout
    checked = inv(root, "gitlab-ci", "--check")
    assert checked.returncode == 0 and ".gitlab/conveyor.yml is up to date" in checked.stdout, checked.stderr


def test_inv_init_with_a_tasks_file_keeps_it_and_the_gitlab_ci(tmp_path: Path) -> None:
    root = shop(tmp_path)
    (root / "tasks.py").write_text("from conveyor.tasks import ns\n")
    (root / ".gitlab-ci.yml").write_text("test:\n  script: [make test]\n")
    result = inv(root, "init")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / ".gitlab-ci.yml").read_text() == "test:\n  script: [make test]\n"
    assert (root / "tasks.py").read_text() == "from conveyor.tasks import ns\n"
    assert (
        ".gitlab-ci.yml exists, kept; .gitlab-ci.yml does not include .gitlab/conveyor.yml: add "
        "`include: [{local: .gitlab/conveyor.yml}]` to it"
    ) in result.stdout.splitlines()
    assert (root / ".gitlab" / "conveyor.yml").is_file()
    assert {"invoke.yaml", "compose.conveyor.yaml", "compose.prod.conveyor.yaml", ".env.example"} <= set(snapshot(root))


@pytest.mark.parametrize("how", ["inv --dry init", "conveyor init --dry-run"])
def test_dry_runs_print_and_write_nothing(tmp_path: Path, how: str) -> None:
    root = shop(tmp_path)
    if how.startswith("inv"):
        (root / "tasks.py").write_text("from conveyor.tasks import ns\n")
    before = snapshot(root)
    result = inv(root, "--dry", "init") if how.startswith("inv") else conveyor(root, "init", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot(root) == before
    assert result.stdout.startswith(f"conveyor init in {root} (dry run: nothing is written)")
    assert "would write invoke.yaml: the conveyor: section" in result.stdout
    assert "\n    conveyor:\n" in result.stdout and "\n        image: ${CONVEYOR_CI_IMAGE:-" in result.stdout


def test_a_second_run_names_what_exists_and_force_replaces_only_generated_files(tmp_path: Path) -> None:
    root = shop(tmp_path)
    assert conveyor(root, "init").returncode == 0
    (root / "invoke.yaml").write_text("conveyor: {ci_service: php}\n")
    before = snapshot(root)
    again = conveyor(root, "init")
    assert_one_line_failure(
        again,
        "invoke.yaml, compose.conveyor.yaml, compose.prod.conveyor.yaml, .env.example, .gitlab/conveyor.yml "
        "already exist",
        "--force",
        exit_code=1,
    )
    assert snapshot(root) == before
    forced = conveyor(root, "init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "overwrote invoke.yaml: the conveyor: section" in forced.stdout
    after = snapshot(root)
    assert after["invoke.yaml"] != before["invoke.yaml"]
    for name in ("compose.yaml", "compose.prod.yaml", "tasks.py", ".gitlab-ci.yml"):
        assert after[name] == before[name], name


def test_no_compose_file(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "docker-compose.yml").write_text("services: {}\n")
    result = conveyor(root, "init")
    assert_one_line_failure(result, f"no compose file in {root}", "--file deploy/docker-compose.yml", exit_code=1)
    assert sorted(p.name for p in root.iterdir()) == ["deploy"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("services:\n  php: [\n", ["docker compose cannot read compose.yaml: yaml: line"]),
        (
            "services:\n  php:\n    imag: x\n",
            ["docker compose cannot read compose.yaml: validating compose.yaml:", "'imag' not allowed"],
        ),
    ],
)
def test_a_compose_file_that_does_not_parse(tmp_path: Path, text: str, words: list[str]) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "compose.yaml").write_text(text)
    result = conveyor(root, "init")
    assert_one_line_failure(result, *words, exit_code=1)
    assert str(tmp_path) not in result.stderr  # paths as the user knows them
    assert sorted(p.name for p in root.iterdir()) == ["compose.yaml"]


def test_a_prod_file_that_does_not_parse(tmp_path: Path) -> None:
    root = shop(tmp_path)
    (root / "compose.prod.yaml").write_text("services:\n  api:\n    build: {context: .\n")
    before = snapshot(root)
    assert_one_line_failure(conveyor(root, "init"), "docker compose cannot read compose.prod.yaml: yaml:", exit_code=1)
    assert snapshot(root) == before


def test_unknown_ci_service(tmp_path: Path) -> None:
    root = shop(tmp_path)
    before = snapshot(root)
    result = conveyor(root, "init", "--ci-service", "app")
    assert_one_line_failure(result, "--ci-service 'app' is not a service of compose.yaml", "pgsql, php", exit_code=1)
    assert snapshot(root) == before


def test_compose_v2_missing(tmp_path: Path) -> None:
    root = shop(tmp_path)
    empty = tmp_path / "docker-config"
    empty.mkdir()
    probe = subprocess.run(
        ["docker", "compose", "version"], env=environment(DOCKER_CONFIG=str(empty)), capture_output=True, check=False
    )
    if probe.returncode == 0:
        unavailable("compose is installed system-wide, so it cannot be hidden with DOCKER_CONFIG")
    before = snapshot(root)
    result = conveyor(root, "init", DOCKER_CONFIG=str(empty))
    assert_one_line_failure(result, "Docker Compose v2 is missing", "cli-plugins", exit_code=1)
    assert snapshot(root) == before


def test_docker_missing(tmp_path: Path) -> None:
    root = shop(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git_path = shutil.which("git")
    assert git_path is not None
    (bin_dir / "git").symlink_to(git_path)
    before = snapshot(root)
    result = conveyor(root, "init", PATH=str(bin_dir))
    assert_one_line_failure(result, "docker is not installed", exit_code=1)
    assert snapshot(root) == before


def test_the_generated_files_build_and_push_the_images(
    tmp_path: Path, registry: RegistryProcess, base_image: str
) -> None:
    """The real thing: after init (and nothing else), `inv build-ci` and `inv build-prod` build through the
    overrides and push every image under the registry image."""
    root = shop(tmp_path, branch="master")
    assert conveyor(root, "init").returncode == 0
    name = f"it{uuid.uuid4().hex[:8]}/shop"
    env = {
        "CI_REGISTRY": registry.address,
        "CI_REGISTRY_IMAGE": f"{registry.address}/{name}",
        "SHOP_BASE": base_image,
    }
    sha = git(root, "rev-parse", "HEAD")
    for task in ("build-ci", "build-prod"):
        result = inv(root, task, **env)
        assert result.returncode == 0, result.stdout + result.stderr
    assert registry_tags(registry.url, f"{name}/ci") == sorted([sha, "master"])
    for image in ("api", "worker"):
        assert registry_tags(registry.url, f"{name}/{image}") == [f"prod-{sha}"]
