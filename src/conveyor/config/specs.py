"""The `conveyor:` section of a project's invoke.yaml, checked once: only known keys (an unknown one gets a
"did you mean"), each of the right type, with one-line errors naming the file and the key. Also the YAML
syntax of the file itself, which Invoke would otherwise report with a traceback (even for `inv --list`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conveyor.errors import ConfigError

FILE = "invoke.yaml"
SECTION = "conveyor"
DEFAULT_COVERAGE_REGEX = r"^\s*Lines:\s*(\d+(?:\.\d+)?)%"
JOB_KEYS = ("command", "service", "services", "coverage")
PROD_IMAGE_KEYS = ("service",)
TARGET_KEYS = ("deployment", "container", "image")
STRUCTURED = ("test_jobs", "prod_images", "deploy_targets")


@dataclass(frozen=True)
class JobSpec:
    """A test job: a command run in a compose service of the CI image."""

    name: str
    command: str
    service: str
    services: tuple[str, ...] = ()
    coverage_regex: str = ""

    @property
    def no_deps(self) -> bool:
        """Jobs that need no service run with `--no-deps`."""
        return not self.services


@dataclass(frozen=True)
class ProdImage:
    """A prod image: its name under the registry image and the compose service that builds it."""

    name: str
    service: str


@dataclass(frozen=True)
class DeployTarget:
    """A Deployment container that runs a prod image."""

    deployment: str
    container: str
    image: str


def key(*parts: object) -> str:
    """How an error names a key: `invoke.yaml: conveyor.test_jobs.unit.services`."""
    return f"{FILE}: " + ".".join((SECTION, *(str(p) for p in parts)))


def check_keys(found: Iterable[object], known: Iterable[str], *where: object) -> None:
    """Refuse a key that is not `known`, suggesting the closest known one."""
    names = list(known)
    for name in found:
        if str(name) not in names:
            close = difflib.get_close_matches(str(name), names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(names)}"
            raise ConfigError(f"{key(*where, name)} is not a setting Conveyor knows", hint)


def section(config: Any) -> Mapping[str, Any]:
    """The `conveyor:` section (empty when absent); an error when it is not a mapping."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"{FILE}: {SECTION} must be a mapping of settings, not {_kind(config)}", "see README")
    return config


def text(value: object, *where: object) -> str:
    """A string (numbers are taken as their text, as YAML writes `5000` for a port); nothing else."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{key(*where)} must be text, not {_kind(value)}", "write a single value")
    return str(value)


def texts(value: object, *where: object) -> tuple[str, ...]:
    """A list of strings; a single string is refused (it is not split into letters)."""
    if not isinstance(value, list | tuple):
        example = f"[{value}]" if isinstance(value, str) else "[a, b]"
        raise ConfigError(f"{key(*where)} must be a list, not {_kind(value)}", f"write it as a list: {example}")
    return tuple(text(item, *where, index) for index, item in enumerate(value))


def mapping(value: object, *where: object, example: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key(*where)} must be a mapping, not {_kind(value)}", f"write it like {example}")
    return value


def test_jobs(raw: object, default_service: str) -> tuple[JobSpec, ...]:
    """`test_jobs: {name: {command, service, services, coverage}}`."""
    jobs = []
    for name, spec in mapping(raw or {}, "test_jobs", example="{unit: {command: ...}}").items():
        spec = mapping(spec, "test_jobs", name, example="{command: sh tests/unit.sh}")
        check_keys(spec, JOB_KEYS, "test_jobs", name)
        if not spec.get("command"):
            raise ConfigError(f"{key('test_jobs', name)} has no command", f"set {key('test_jobs', name, 'command')}")
        coverage = spec.get("coverage")
        if coverage is not None and not isinstance(coverage, bool | str):
            raise ConfigError(f"{key('test_jobs', name, 'coverage')} must be true or a regex", "fix it")
        jobs.append(
            JobSpec(
                name=str(name),
                command=text(spec["command"], "test_jobs", name, "command"),
                service=text(spec.get("service") or default_service, "test_jobs", name, "service"),
                services=texts(spec.get("services") or [], "test_jobs", name, "services"),
                coverage_regex=DEFAULT_COVERAGE_REGEX if coverage is True else str(coverage or ""),
            )
        )
    return tuple(jobs)


def prod_images(raw: object) -> tuple[ProdImage, ...]:
    """`prod_images: {name: {service}}` (a name with no settings is built by the service of that name)."""
    images = []
    for name, spec in mapping(raw or {}, "prod_images", example="{web: {service: web}}").items():
        spec = mapping(spec or {}, "prod_images", name, example="{service: web}")
        check_keys(spec, PROD_IMAGE_KEYS, "prod_images", name)
        service = text(spec.get("service") or name, "prod_images", name, "service")
        images.append(ProdImage(name=str(name), service=service))
    return tuple(images)


def deploy_targets(raw: object) -> tuple[DeployTarget, ...]:
    """`deploy_targets: [{deployment, container, image}]` (container and image default to the deployment)."""
    if not isinstance(raw, list | tuple):
        if raw is None:
            return ()
        raise ConfigError(f"{key('deploy_targets')} must be a list, not {_kind(raw)}", "write [{deployment: web}]")
    targets = []
    for index, spec in enumerate(raw):
        spec = mapping(spec, "deploy_targets", index, example="{deployment: web, container: web, image: web}")
        check_keys(spec, TARGET_KEYS, "deploy_targets", index)
        if not spec.get("deployment"):
            raise ConfigError(f"{key('deploy_targets', index)} names no deployment", "give it deployment: NAME")
        deployment = text(spec["deployment"], "deploy_targets", index, "deployment")
        targets.append(
            DeployTarget(
                deployment=deployment,
                container=text(spec.get("container") or deployment, "deploy_targets", index, "container"),
                image=text(spec.get("image") or deployment, "deploy_targets", index, "image"),
            )
        )
    return tuple(targets)


def check_file(path: Path, scalars: Iterable[str]) -> None:
    """Check a project's invoke.yaml before Invoke reads it: its YAML syntax, and its `conveyor:` section's
    keys and the types of its structured settings. Nothing when there is no such file."""
    if not path.is_file():
        return
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path.name} is not UTF-8 text (byte {error.start})", "save it as UTF-8") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path.name}: {_yaml_problem(error)}", "fix the YAML syntax") from None
    if document is None:
        return
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path.name} must be a mapping of settings, not {_kind(document)}", "see README")
    conveyor = section(document.get(SECTION))
    check_keys(conveyor, (*scalars, *STRUCTURED))
    test_jobs(conveyor.get("test_jobs"), "app")
    prod_images(conveyor.get("prod_images"))
    deploy_targets(conveyor.get("deploy_targets"))


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{type(value).__name__} {value!r}"
