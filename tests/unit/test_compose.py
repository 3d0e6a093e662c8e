from pathlib import Path

import pytest

from conveyor.docker import compose
from conveyor.docker.compose import ComposeProject
from conveyor.errors import ConfigError, ToolError
from conveyor.process import Command, Completed

FILES = (Path("/p/compose/docker-compose.yml"), Path("/p/compose/docker-compose.gitlab.yml"))
PROJECT = ComposeProject(files=FILES, name="demo", env={"CONVEYOR_CI_IMAGE": "reg/ci:sha"}, cwd=Path("/p"))
BASE = ("docker", "compose", "-f", str(FILES[0]), "-f", str(FILES[1]), "-p", "demo")


def completed(returncode: int, *lines: str) -> Completed:
    return Completed(command=Command(argv=("x",)), returncode=returncode, lines=lines)


def test_every_file_is_listed_with_f_and_the_project_is_named() -> None:
    command = PROJECT.build(["app"])
    assert command.argv == (*BASE, "--progress", "plain", "build", "app")
    assert command.env["CONVEYOR_CI_IMAGE"] == "reg/ci:sha"
    assert command.env["COMPOSE_BAKE"] == "false"
    assert command.cwd == "/p"


def test_run_is_rm_without_tty_and_no_deps_only_when_asked() -> None:
    with_deps = PROJECT.run("app", ["sh", "-c", "make test"], no_deps=False)
    without = PROJECT.run("app", ["sh", "-c", "make lint"], no_deps=True)
    assert with_deps.argv[len(BASE) :] == ("--progress", "quiet", "run", "--rm", "-T", "app", "sh", "-c", "make test")
    assert without.argv[len(BASE) :] == (
        *("--progress", "quiet", "run", "--rm", "-T", "--no-deps", "app"),
        *("sh", "-c", "make lint"),
    )


def test_run_keeps_a_named_container_instead_of_rm_when_asked() -> None:
    kept = PROJECT.run("app", ["sh", "-c", "make test"], no_deps=True, keep_as="demo-unit-app-reports-1")
    assert kept.argv[len(BASE) :] == (
        *("--progress", "quiet", "run", "--name", "demo-unit-app-reports-1", "-T", "--no-deps", "app"),
        *("sh", "-c", "make test"),
    )
    assert "--rm" not in kept.argv


def test_pull_down_and_renamed_projects() -> None:
    assert PROJECT.pull(["app", "db"]).argv[len(BASE) :] == ("pull", "--quiet", "app", "db")
    down = PROJECT.with_name("demo-unit").down()
    assert down.argv[:8] == (*BASE[:-1], "demo-unit")
    assert "--volumes" in down.argv and "--remove-orphans" in down.argv


@pytest.mark.parametrize(
    ("text", "version"),
    [("Docker Compose version v2.40.3", (2, 40, 3)), ("v2.0.1\n", (2, 0, 1)), ("1.29.2", (1, 29, 2)), ("", (0, 0, 0))],
)
def test_parse_version(text: str, version: tuple[int, int, int]) -> None:
    assert compose.parse_version(text) == version


def test_missing_or_old_compose_is_a_clear_error() -> None:
    assert compose.check_version(completed(0, "Docker Compose version v2.40.3")) == "2.40.3"
    with pytest.raises(ToolError, match=r"Docker Compose v2 is missing.*not a docker command"):
        compose.check_version(completed(1, "docker: 'compose' is not a docker command."))
    with pytest.raises(ToolError, match="v2 is missing"):
        compose.check_version(completed(0, "1.29.2"))


def test_missing_compose_file_and_unknown_service(tmp_path: Path) -> None:
    present = tmp_path / "docker-compose.yml"
    present.write_text("services: {}\n")
    with pytest.raises(ConfigError, match=r"compose file .*missing\.yml is missing"):
        compose.check_files([present, tmp_path / "missing.yml"])
    with pytest.raises(ConfigError, match="no compose files"):
        compose.check_files([])
    compose.check_services(["app"], completed(0, "db", "app"), [present])
    with pytest.raises(ConfigError, match=r"unknown compose service 'web'.*app, db"):
        compose.check_services(["web"], completed(0, "db", "app"), [present])
    with pytest.raises(ConfigError, match="compose files are invalid: yaml: line 2"):
        compose.check_services(["app"], completed(15, "yaml: line 2: bad"), [present])
