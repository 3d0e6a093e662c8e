"""Typed input, once: durations, counts, choices, lists, invoke.yaml keys and types, .env lines. Every bad
value is one ConfigError line naming the flag, the variable, or the file and key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.config.durations import AGE_MAX, ROLLOUT_MAX, parse_duration
from conveyor.config.envfile import read_env_file
from conveyor.config.loading import load_settings
from conveyor.config.schema import SETTINGS, Given
from conveyor.config.specs import check_file
from conveyor.errors import ConfigError

SHA = "0123456789abcdef0123456789abcdef01234567"
REGISTRY = {"CI_REGISTRY": "registry.test:5000", "CI_REGISTRY_IMAGE": "registry.test:5000/group/app"}


def load(**kwargs: Any) -> Any:
    args: dict[str, Any] = {
        "project_dir": Path("/project"),
        "yaml_config": {},
        "environ": {"CI_COMMIT_SHA": SHA, "CI_COMMIT_REF_NAME": "main", **REGISTRY},
        "dotenv": {},
        "git": lambda _question: None,
    }
    args.update(kwargs)
    return load_settings(**args)


def refused(words: str, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load(**kwargs)
    message = str(caught.value)
    assert "\n" not in message and words in message, message
    return message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("600", 600), (600, 600), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400), ("250ms", 0.25)],
)
def test_durations_as_kubectl_takes_them(text: object, seconds: float) -> None:
    assert parse_duration(text, "--timeout", ROLLOUT_MAX).total_seconds() == seconds
    assert parse_duration("30d", "--older-than", AGE_MAX) == timedelta(days=30)
    assert parse_duration("2w", "--older-than", AGE_MAX) == timedelta(weeks=2)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("nan", "is not a duration"),
        ("inf", "is not a duration"),
        ("-5", "is not a duration"),
        ("5x", "is not a duration"),
        ("0", "is zero"),
        ("0s", "is zero"),
        ("99999999999w", "longer than the limit of 3650d"),
    ],
)
def test_bad_durations_are_one_line(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        parse_duration(text, "--older-than", AGE_MAX)
    assert str(caught.value).startswith(f"--older-than {text!r}")


def test_flags_are_typed_and_named() -> None:
    settings = load(flags={"rollout_timeout": Given("5m", "--timeout"), "rollback": Given("yes", "--rollback")})
    assert (settings.rollout_timeout, settings.rollback) == (300.0, "true")
    assert settings.source("rollout_timeout") == "--timeout"
    refused("--timeout '0' is zero", flags={"rollout_timeout": Given("0", "--timeout")})
    refused("--timeout 'nan' is not a duration", flags={"rollout_timeout": Given("nan", "--timeout")})
    refused("--rollback 'maybe' is not one of auto, true, false", flags={"rollback": Given("maybe", "--rollback")})


def test_variables_and_yaml_values_are_typed() -> None:
    environ = {"CI_COMMIT_SHA": SHA, "CI_COMMIT_REF_NAME": "main", **REGISTRY}
    assert load(yaml_config={"rollout_timeout": 90, "keep_releases": 5}).keep_releases == 5
    refused("CONVEYOR_KEEP_RELEASES 'two' is not a whole number", environ=environ | {"CONVEYOR_KEEP_RELEASES": "two"})
    refused("invoke.yaml: conveyor.keep_releases 0 is not a whole number", yaml_config={"keep_releases": 0})
    refused("CONVEYOR_REGISTRY_TIMEOUT 'inf'", environ=environ | {"CONVEYOR_REGISTRY_TIMEOUT": "inf"})
    assert load(yaml_config={"registry_timeout": "2m"}).registry_timeout == 120.0


def test_unknown_keys_get_a_did_you_mean() -> None:
    message = refused("invoke.yaml: conveyor.compose_file is not a setting", yaml_config={"compose_file": ["a.yml"]})
    assert "did you mean 'compose_files'?" in message
    jobs = {"unit": {"command": "x", "servics": ["db"]}}
    assert "did you mean 'services'?" in refused("conveyor.test_jobs.unit.servics", yaml_config={"test_jobs": jobs})


@pytest.mark.parametrize(
    ("yaml_config", "words"),
    [
        ({"test_jobs": ["unit"]}, "invoke.yaml: conveyor.test_jobs must be a mapping, not a list"),
        ({"prod_images": "web"}, "invoke.yaml: conveyor.prod_images must be a mapping, not str 'web'"),
        (
            {"test_jobs": {"unit": {"command": "x", "services": "db"}}},
            "conveyor.test_jobs.unit.services must be a list",
        ),
        ({"deploy_targets": {"deployment": "web"}}, "conveyor.deploy_targets must be a list, not a mapping"),
        ({"deploy_targets": [{"deployment": "web", "image": "api"}]}, "conveyor.deploy_targets.0.image 'api'"),
        ({"compose_project": ["a", "b"]}, "invoke.yaml: conveyor.compose_project must be a single value"),
        ({"test_jobs": {"unit": {"command": "x", "coverage": "(?=x)"}}}, "not an RE2 regular expression"),
    ],
)
def test_wrong_types_in_invoke_yaml(yaml_config: dict[str, Any], words: str) -> None:
    refused(words, yaml_config=yaml_config)


def test_services_db_is_one_service_only_when_written_as_a_list() -> None:
    settings = load(yaml_config={"test_jobs": {"unit": {"command": "x", "services": ["db"]}}})
    assert settings.test_jobs[0].services == ("db",)


def test_env_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text('CONVEYOR_CI_SERVICE=php\nCONVEYOR_KEEP_RELEASES=two\nCI_REGISTRY_PASSWORD="s3cret\n')
    with pytest.raises(ConfigError) as caught:
        read_env_file(env)
    assert str(caught.value).startswith(".env line 3: cannot read the line setting CI_REGISTRY_PASSWORD")
    assert "s3cret" not in str(caught.value)
    env.write_text("CONVEYOR_CI_SERVICE=php\nCONVEYOR_KEEP_RELEASES=two\n")
    refused(".env line 2 (CONVEYOR_KEEP_RELEASES) 'two'", dotenv=read_env_file(env))
    env.write_bytes(b"CONVEYOR_CI_SERVICE=caf\xe9\n")
    with pytest.raises(ConfigError, match=r"\.env is not UTF-8 text \(byte 23\)"):
        read_env_file(env)


def test_a_reports_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "reports").write_text("not a directory")
    refused("reports is a file, not a directory", project_dir=tmp_path)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("conveyor:\n  test_jobs:\n    unit: {command: x\n", "invoke.yaml: line 4 column 1"),
        ("conveyor:\n  test_jobs: [unit]\n", "conveyor.test_jobs must be a mapping"),
        ("conveyor:\n  compose_flies: [a]\n", "did you mean 'compose_files'?"),
        ("- just\n- a list\n", "invoke.yaml must be a mapping"),
    ],
)
def test_the_project_file_is_checked_before_invoke_reads_it(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "invoke.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        check_file(path, [s.name for s in SETTINGS])
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_the_docker_config_is_docker_config_else_the_home_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert load().docker_config_dir == Path("/home/someone/.docker")
    environ = {"CI_COMMIT_SHA": SHA, "CI_COMMIT_REF_NAME": "main", "DOCKER_CONFIG": "/etc/ci-docker", **REGISTRY}
    assert load(environ=environ).docker_config_dir == Path("/etc/ci-docker")
    from_dotenv = load(dotenv={"DOCKER_CONFIG": "/srv/docker"})
    assert from_dotenv.docker_config_dir == Path("/srv/docker")
    assert from_dotenv.docker_environment["DOCKER_CONFIG"] == "/srv/docker"  # reaches every subprocess
