from pathlib import Path

import pytest
from invoke.config import Config
from invoke.context import MockContext
from invoke.exceptions import Exit

from conveyor.config.rendering import render_env_example, with_table
from conveyor.config.schema import SETTINGS
from conveyor.errors import ConfigError, JobFailed
from conveyor.tasks import ns
from conveyor.tasks.bridge import one_line_errors, settings

REPO = Path(__file__).resolve().parents[2]


def test_every_task_has_help() -> None:
    for name in ns.task_names:
        task = ns[name]
        assert task.__doc__ and task.__doc__.strip(), name
    assert {"build-ci", "test", "build-prod"} <= set(ns.task_names)


def test_one_line_errors_turn_conveyor_errors_into_exit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_REGISTRY_PASSWORD", "hunter2-very-secret")

    @one_line_errors
    def failing() -> None:
        raise ConfigError("bad password hunter2-very-secret", "fix it")

    @one_line_errors
    def job() -> None:
        raise JobFailed("test job(s) failed: unit (exit code 3)", 3)

    with pytest.raises(Exit) as caught:
        failing()
    assert caught.value.code == 1
    assert caught.value.message == "conveyor: bad password [MASKED]: fix it"
    with pytest.raises(Exit) as caught:
        job()
    assert caught.value.code == 3


def test_settings_come_from_the_invoke_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.setenv("CI_COMMIT_SHA", "f" * 40)
    monkeypatch.setenv("CI_COMMIT_REF_NAME", "main")
    monkeypatch.setenv("CI_REGISTRY", "registry.test")
    monkeypatch.setenv("CI_REGISTRY_IMAGE", "registry.test/group/app")
    ctx = MockContext(
        config=Config(overrides={"conveyor": {"ci_image_name": "builder", "deployable_branches": ["a", "b/*"]}})
    )
    loaded = settings(ctx)
    assert str(loaded.images.ci_commit).endswith("/builder:" + "f" * 40)
    assert loaded.deployable_branches == ("a", "b/*")


def test_env_example_and_readme_document_every_setting() -> None:
    assert (REPO / ".env.example").read_text() == render_env_example()
    readme = (REPO / "README.md").read_text()
    assert with_table(readme) == readme, "the README's settings table: python -m conveyor.config.rendering --write"
    for setting in SETTINGS:
        assert f"`{setting.env}`" in readme, setting.env
