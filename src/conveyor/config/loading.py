"""Loading the settings from every source, highest precedence first: task flags > process environment >
`.env` > `invoke.yaml` (`conveyor:`) > defaults, each typed by its kind (text, list, duration, count, choice)
and every error one line naming where the value came from. GitLab's predefined variables are used where
they exist; outside GitLab the commit and ref come from git and the ref slug is computed by GitLab's rule.
No other module reads `os.environ`: the task layer hands the process environment in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from conveyor.config import derived, specs
from conveyor.config.durations import ROLLOUT_MAX, parse_duration
from conveyor.config.schema import SETTINGS, Given, Setting
from conveyor.config.settings import Settings
from conveyor.config.validation import validate
from conveyor.errors import ConfigError
from conveyor.slug import ref_slug
from conveyor.versions import job_image_name

GitLookup = Callable[[str], str | None]
"""Answers a git question ("commit", "branch", "origin" or "default_branch") for the project, or None outside
a git repository or when git does not know."""

REGISTRY_TIMEOUT_MAX = timedelta(hours=1)
_BOOLEAN = {"yes": "true", "true": "true", "on": "true", "1": "true", "no": "false", "false": "false", "off": "false"}
_BOOLEAN |= {"0": "false"}


def load_settings(
    project_dir: Path,
    yaml_config: Mapping[str, Any],
    environ: Mapping[str, str],
    dotenv: Mapping[str, Given | str | None],
    git: GitLookup,
    flags: Mapping[str, Given | str | None] | None = None,
) -> Settings:
    """Build the Settings from every source, highest precedence first, typed and validated; every error is
    one line naming where the value came from (the flag, the variable, or the file and key)."""
    section = specs.section(yaml_config)
    specs.check_keys(section, (*(s.name for s in SETTINGS), *specs.STRUCTURED))
    chosen = {setting.name: _choose(setting, section, environ, dotenv, flags or {}) for setting in SETTINGS}
    values = {name: _typed(setting, chosen[name]) for name, setting in zip(chosen, SETTINGS, strict=True)}
    values["registry_image"] = values["registry_image"] or derived.registry_image(values["registry"], git("origin"))
    values["job_image"] = values["job_image"] or f"{values['registry_image']}/{job_image_name()}"
    values["compose_files"] = values["compose_files"] or derived.compose_files(project_dir)
    values["prod_compose_files"] = values["prod_compose_files"] or values["compose_files"]
    files = tuple(project_dir / p for p in values["compose_files"])
    values["compose_project"] = values["compose_project"] or derived.compose_project(files, project_dir)
    values["commit_sha"] = values["commit_sha"] or _from_git(git, "commit")
    values["ref_name"] = values["ref_name"] or _from_git(git, "branch")
    values["ref_slug"] = values["ref_slug"] or ref_slug(values["ref_name"])
    in_gitlab = values["gitlab_ci"] == "true"
    if not (in_gitlab or values["commit_tag"]):
        values["commit_branch"] = values["commit_branch"] or values["ref_name"]
    values["default_branch"] = values["default_branch"] or (git("default_branch") or "").removeprefix("origin/")
    settings = Settings(
        project_dir=project_dir,
        compose_files=tuple(project_dir / p for p in values.pop("compose_files")),
        prod_compose_files=tuple(project_dir / p for p in values.pop("prod_compose_files")),
        prod_images=specs.prod_images(section.get("prod_images")),
        deploy_targets=specs.deploy_targets(section.get("deploy_targets")),
        declared_environments=specs.environments(section.get("environments")),
        cleanup_policy=specs.cleanup_policy(section.get("cleanup_policy")),
        guard=specs.guard(section.get("guard")),
        reports_dir=project_dir / values.pop("reports_dir"),
        test_jobs=specs.test_jobs(section.get("test_jobs"), values["ci_service"]),
        sources={name: given.source for name, given in chosen.items()},
        environ=dict(environ),
        **values,
    )
    validate(settings)
    return settings


def _choose(
    setting: Setting,
    section: Mapping[str, Any],
    environ: Mapping[str, str],
    dotenv: Mapping[str, Given | str | None],
    flags: Mapping[str, Given | str | None],
) -> Given:
    """The value that wins by precedence (flags > environment > .env > invoke.yaml > default)."""
    candidates = (
        _given(flags.get(setting.name), f"--{setting.name.replace('_', '-')}"),
        _given(environ.get(setting.env), setting.env),
        _given(dotenv.get(setting.env), f".env ({setting.env})"),
        _given(section.get(setting.name), specs.key(setting.name)),
    )
    return next((c for c in candidates if c is not None), Given(setting.default, f"{setting.env} (default)"))


def _given(value: Given | object, source: str) -> Given | None:
    if isinstance(value, Given):
        return value if value.value not in (None, "") else None
    return None if value in (None, "") else Given(value, source)


def _typed(setting: Setting, given: Given) -> Any:
    """The value as the setting's kind: text, a list, seconds, a count, or one of its choices."""
    value, source = given.value, given.source
    if setting.kind == "list":
        if isinstance(value, list | tuple):
            return specs.texts(value, setting.name)
        return tuple(part for part in _text(value, source).split(":") if part)
    if setting.kind == "duration":
        maximum = ROLLOUT_MAX if setting.name == "rollout_timeout" else REGISTRY_TIMEOUT_MAX
        return parse_duration(value, source, maximum).total_seconds()
    if setting.kind == "count":
        text = _text(value, source)
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"{source} {value!r} is not a whole number of at least 1", f"fix {source}")
        return int(text)
    if setting.kind == "choice":
        text = _text(value, source).lower()
        text = _BOOLEAN.get(text, text) if "true" in setting.choices else text
        if text not in setting.choices:
            raise ConfigError(f"{source} {value!r} is not one of {', '.join(setting.choices)}", f"fix {source}")
        return text
    return _text(value, source)


def _text(value: object, source: str) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if not isinstance(value, str | int | float):
        raise ConfigError(f"{source} must be a single value, not {type(value).__name__}", f"fix {source}")
    return str(value)


def _from_git(git: GitLookup, what: str) -> str:
    value = git(what)
    if not value:
        variable = "CI_COMMIT_SHA" if what == "commit" else "CI_COMMIT_REF_NAME"
        raise ConfigError(
            f"cannot tell the {what}: this is not a git repository (or HEAD is detached) and {variable} is not set",
            f"run inside a git checkout on a branch, or set {variable}",
        )
    return value
