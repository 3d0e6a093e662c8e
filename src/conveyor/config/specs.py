"""The `conveyor:` section of a project's invoke.yaml, checked once: only known keys (an unknown one gets a
"did you mean"), each of the right type, with one-line errors naming the file and the key. Also the YAML
syntax of the file itself, which Invoke would otherwise report with a traceback (even for `inv --list`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from conveyor.config.model import (
    DEFAULT_COVERAGE_REGEX,
    CleanupPolicy,
    DeployTarget,
    Environment,
    GuardSettings,
    JobSpec,
    ProdImage,
    ReportSpec,
)
from conveyor.errors import ConfigError

FILE = "invoke.yaml"
SECTION = "conveyor"
JOB_KEYS = ("command", "service", "services", "coverage", "reports")
REPORT_KEYS = ("junit", "coverage")
COVERAGE_REPORT_KEYS = ("format", "path")
COVERAGE_FORMATS = ("cobertura", "jacoco")  # what GitLab's artifacts:reports:coverage_report accepts
PROD_IMAGE_KEYS = ("service",)
TARGET_KEYS = ("deployment", "container", "image")
ENVIRONMENT_KEYS = ("when", "context", "namespace", "url", "deploy_targets")
POLICY_KEYS = ("image", "keep", "delete", "keep_newest", "older_than", "gone_branches")
GUARD_KEYS = ("contexts", "namespaces", "ci_images")
WHEN = ("auto", "manual")
STRUCTURED = ("test_jobs", "prod_images", "deploy_targets", "environments", "cleanup_policy", "guard")


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
                reports=report_spec(spec.get("reports"), "test_jobs", name, "reports"),
            )
        )
    return tuple(jobs)


def report_spec(raw: object, *where: object) -> ReportSpec:
    """`reports: {junit: var/junit.xml, coverage: {format: cobertura, path: var/coverage.xml}}`."""
    if raw is None:
        return ReportSpec()
    spec = mapping(raw, *where, example="{junit: var/junit.xml}")
    check_keys(spec, REPORT_KEYS, *where)
    junit = _report_path(spec.get("junit"), *where, "junit")
    coverage_format = ""
    coverage = ""
    if spec.get("coverage") is not None:
        example = "{format: cobertura, path: var/coverage.xml}"
        report = mapping(spec["coverage"], *where, "coverage", example=example)
        check_keys(report, COVERAGE_REPORT_KEYS, *where, "coverage")
        coverage_format = text(report.get("format") or "cobertura", *where, "coverage", "format")
        if coverage_format not in COVERAGE_FORMATS:
            raise ConfigError(
                f"{key(*where, 'coverage', 'format')} {coverage_format!r} is not a coverage format GitLab reads",
                f"use one of: {', '.join(COVERAGE_FORMATS)}",
            )
        coverage = _report_path(report.get("path"), *where, "coverage", "path")
        if not coverage:
            raise ConfigError(f"{key(*where, 'coverage')} has no path", f"set {key(*where, 'coverage', 'path')}")
    return ReportSpec(junit=junit, coverage=coverage, coverage_format=coverage_format)


def _report_path(raw: object, *where: object) -> str:
    if raw is None:
        return ""
    path = text(raw, *where).strip()
    if not path or "\n" in path or path.endswith("/"):
        raise ConfigError(f"{key(*where)} {path!r} is not a file path", "name the file the job writes: var/junit.xml")
    return path


def prod_images(raw: object) -> tuple[ProdImage, ...]:
    """`prod_images: {name: {service}}` (a name with no settings is built by the service of that name)."""
    images = []
    for name, spec in mapping(raw or {}, "prod_images", example="{web: {service: web}}").items():
        spec = mapping(spec or {}, "prod_images", name, example="{service: web}")
        check_keys(spec, PROD_IMAGE_KEYS, "prod_images", name)
        service = text(spec.get("service") or name, "prod_images", name, "service")
        images.append(ProdImage(name=str(name), service=service))
    return tuple(images)


def deploy_targets(raw: object, *where: object) -> tuple[DeployTarget, ...]:
    """`deploy_targets: [{deployment, container, image}]` (container and image default to the deployment)."""
    where = where or ("deploy_targets",)
    if not isinstance(raw, list | tuple):
        if raw is None:
            return ()
        raise ConfigError(f"{key(*where)} must be a list, not {_kind(raw)}", "write [{deployment: web}]")
    targets = []
    for index, spec in enumerate(raw):
        spec = mapping(spec, *where, index, example="{deployment: web, container: web, image: web}")
        check_keys(spec, TARGET_KEYS, *where, index)
        if not spec.get("deployment"):
            raise ConfigError(f"{key(*where, index)} names no deployment", "give it deployment: NAME")
        deployment = text(spec["deployment"], *where, index, "deployment")
        targets.append(
            DeployTarget(
                deployment=deployment,
                container=text(spec.get("container") or deployment, *where, index, "container"),
                image=text(spec.get("image") or deployment, *where, index, "image"),
            )
        )
    return tuple(targets)


def environments(raw: object) -> tuple[Environment, ...]:
    """`environments: {staging: {when, context, namespace, url, deploy_targets}, production: {...}}`, in
    deploy order. `when` defaults to `auto` for the first environment and `manual` for the later ones."""
    example = "{staging: {namespace: shop-staging}, production: {when: manual}}"
    found = []
    for index, (name, spec) in enumerate(mapping(raw or {}, "environments", example=example).items()):
        where = ("environments", name)
        spec = mapping(spec or {}, *where, example="{when: manual, namespace: shop}")
        check_keys(spec, ENVIRONMENT_KEYS, *where)
        when = text(spec.get("when") or ("auto" if index == 0 else "manual"), *where, "when")
        if when not in WHEN:
            raise ConfigError(f"{key(*where, 'when')} {when!r} is not one of {', '.join(WHEN)}", "fix it")
        raw_targets = spec.get("deploy_targets")
        found.append(
            Environment(
                name=str(name),
                when=when,
                context=text(spec.get("context") or "", *where, "context"),
                namespace=text(spec.get("namespace") or "", *where, "namespace"),
                url=text(spec.get("url") or "", *where, "url"),
                targets=() if raw_targets is None else deploy_targets(raw_targets, *where, "deploy_targets"),
                own_targets=raw_targets is not None,
            )
        )
    return tuple(found)


def cleanup_policy(raw: object) -> tuple[CleanupPolicy, ...]:
    """`cleanup_policy: [{image, keep, delete, keep_newest, older_than, gone_branches}]`: the rules the
    scheduled cleanup (`inv cleanup.policy --execute` without rule flags) applies, one entry per image."""
    from conveyor.config.durations import AGE_MAX, parse_duration
    from conveyor.config.patterns import compile_pattern  # RE2: imported only when a policy is configured

    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise ConfigError(f"{key('cleanup_policy')} must be a list, not {_kind(raw)}", "write [{delete: '.*'}]")
    rules = []
    for index, spec in enumerate(raw):
        where = ("cleanup_policy", index)
        spec = mapping(spec, *where, example="{image: ci, delete: '.*', keep_newest: 10, older_than: 30d}")
        check_keys(spec, POLICY_KEYS, *where)
        regexes = {name: text(spec.get(name) or "", *where, name) for name in ("keep", "delete")}
        for name, pattern in regexes.items():
            if pattern:
                compile_pattern(pattern, key(*where, name))
        newest, age, gone = spec.get("keep_newest"), spec.get("older_than"), spec.get("gone_branches", False)
        if newest is not None and (isinstance(newest, bool) or not isinstance(newest, int) or newest < 0):
            raise ConfigError(f"{key(*where, 'keep_newest')} must be a whole number of 0 or more", "fix it")
        if not isinstance(gone, bool):
            raise ConfigError(f"{key(*where, 'gone_branches')} must be true or false", "fix it")
        rules.append(
            CleanupPolicy(
                image=text(spec.get("image") or "", *where, "image"),
                keep_regex=regexes["keep"],
                delete_regex=regexes["delete"],
                keep_newest=newest,
                older_than=parse_duration(age, key(*where, "older_than"), AGE_MAX) if age is not None else None,
                gone_branches=gone,
                older_than_text=str(age) if age is not None else "",
            )
        )
    return tuple(rules)


def guard(raw: object) -> GuardSettings:
    """`guard: {contexts: [a, b] | all, namespaces: [x, y], ci_images: true}`: where the deletion guard looks."""
    if raw is None:
        return GuardSettings()
    spec = mapping(raw, "guard", example="{contexts: all, namespaces: [workers]}")
    check_keys(spec, GUARD_KEYS, "guard")
    contexts, everywhere = spec.get("contexts"), False
    if contexts == "all":
        contexts, everywhere = None, True
    elif contexts is not None:
        contexts = texts(contexts, "guard", "contexts")
    ci_images = spec.get("ci_images", False)
    if not isinstance(ci_images, bool):
        raise ConfigError(f"{key('guard', 'ci_images')} must be true or false", "fix it")
    return GuardSettings(
        contexts=contexts,
        all_contexts=everywhere,
        namespaces=texts(spec.get("namespaces") or [], "guard", "namespaces"),
        ci_images=ci_images,
    )


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
    environments(conveyor.get("environments"))
    cleanup_policy(conveyor.get("cleanup_policy"))
    guard(conveyor.get("guard"))


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
