"""`conveyor init`: start Conveyor in a project that has compose files.

It reads the compose model as compose itself does (`docker compose config --format json`: every file with
-f, or compose's own default files), guesses the CI service, the prod images and the deployable branch, and
writes the files a project needs: invoke.yaml with a starting `conveyor:` section, a compose override per
compose file set (never an edit of the user's files), `.env.example`, a one-line tasks.py, and
.gitlab-ci.yml when there is none. It overwrites nothing without `force`, and never a compose file of the
user's.

The pure part turns compose models into file texts (`plan`, with the model reader and git passed in); the
edge (`read_compose`, `ask_git`, `check_compose_v2`, `write`) runs compose and git through conveyor.process.
Nothing here needs the settings: a project without any can be initialised."""

from __future__ import annotations

import functools
import json
import re
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conveyor import process
from conveyor.config.derived import COMPOSE_NAMES, OVERRIDE_NAMES, default_files, project_path
from conveyor.config.projectroot import MARKERS, find_root
from conveyor.config.settings import ProdImage, render_env_example
from conveyor.docker import compose
from conveyor.docker.compose import prod_variable_key
from conveyor.errors import ConfigError, ToolError
from conveyor.gitinfo import GitAnswer
from conveyor.process import Command

# compose-go's DefaultFileNames and DefaultOverrideFileNames, in compose's order of preference.
# Usual names of the application's own service, most telling first.
APP_NAMES = ("app", "php", "web", "api", "backend", "application", "server", "site", "node", "python", "ruby")
GENERATED_MARK = ".conveyor"  # compose.yaml -> compose.conveyor.yaml
CI_IMAGE_NAME = "ci"
TASKS_TEXT = "from conveyor.tasks import ns\n"
COMPOSE_TIMEOUT = 120.0
GIT_TIMEOUT = 10.0
_IMAGE_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$")
_LOG_LINE = re.compile(r'^time="[^"]*" level=\w+ msg="(?P<msg>.*)"$')
_QUIET = {"COMPOSE_ANSI": "never"}

ReadModel = Callable[[Sequence[Path], bool], Mapping[str, Any]]
"""Compose's model of some files (`docker compose -f … config --format json`); True: without compose's
consistency checks, to learn what an override file names on its own."""
AskGit = Callable[[Sequence[str]], str | None]
"""git's first output line for some arguments, in the project; None when git fails or is missing."""


@dataclass(frozen=True)
class Options:
    """What the user asked for: files as given on the command line (relative to `cwd`, as compose takes them)."""

    cwd: Path
    files: tuple[str, ...] = ()
    prod_files: tuple[str, ...] = ()
    ci_service: str = ""
    force: bool = False


@dataclass(frozen=True)
class Guess:
    """A value init chose for the user, and why."""

    name: str
    value: str
    why: str

    def line(self) -> str:
        return f"{self.name}: {self.value} ({self.why})"


@dataclass(frozen=True)
class Output:
    """One file init writes. `show`: its text is printed on a dry run (the rendered tables are summarised)."""

    path: Path
    text: str
    what: str
    show: bool = True


@dataclass(frozen=True)
class ProdSetup:
    """The prod side: the prod compose files (with the base files they override, if any) and the images."""

    user_files: tuple[Path, ...]
    base_files: tuple[Path, ...]
    images: tuple[ProdImage, ...]
    guesses: tuple[Guess, ...]


@dataclass(frozen=True)
class Section:
    """The starting `conveyor:` section, as init writes it into invoke.yaml."""

    sources: tuple[str, ...]
    compose_files: tuple[str, ...]
    compose_project: str  # compose's name: the overrides' local image names
    ci_service: Guess
    ci_image_name: str
    job_services: tuple[str, ...]
    prod_compose_files: tuple[str, ...]
    prod_images: tuple[ProdImage, ...]
    deployable_branch: Guess
    origin_url: str | None = None


@dataclass(frozen=True)
class Plan:
    """Everything init would do: the files, what it guessed, what it kept, and what is left to the user."""

    root: Path
    outputs: tuple[Output, ...]
    guesses: tuple[Guess, ...]
    notes: tuple[str, ...] = ()
    todo: tuple[str, ...] = ()
    overwrites: tuple[Path, ...] = ()


# --- the pure part -----------------------------------------------------------------------------------------


def project_dir(cwd: Path) -> Path:
    """The project init is about: the Invoke project `cwd` is in (as every task finds it), else `cwd`."""
    root = find_root(cwd)
    return root if any((root / marker).exists() for marker in MARKERS) else cwd.resolve()


def is_generated(path: Path) -> bool:
    """A compose override init writes (`*.conveyor.yml`, `*.conveyor.yaml`)."""
    return path.suffix in (".yml", ".yaml") and path.stem.endswith(GENERATED_MARK)


def prod_candidates(paths: Iterable[Path], taken: Iterable[Path]) -> list[Path]:
    """Compose files whose name says prod (`*prod*.yml`, `*prod*.yaml`), shortest name first (so
    `compose.prod.yaml` before `compose.preprod.yaml`), never one of `taken` nor a generated override."""
    skip = set(taken)
    found = {
        path for path in paths if path.suffix in (".yml", ".yaml") and "prod" in path.name.lower() and path not in skip
    }
    return sorted((p for p in found if not is_generated(p)), key=lambda p: (len(p.name), str(p)))


def override_path(user_file: Path, taken: Iterable[Path] = ()) -> Path:
    """The override init writes beside a user's compose file: compose.yaml -> compose.conveyor.yaml (with
    `.prod` added when that name is already taken by another override)."""
    suffix = user_file.suffix if user_file.suffix in (".yml", ".yaml") else ".yml"
    path = user_file.with_name(f"{user_file.stem}{GENERATED_MARK}{suffix}")
    if path in set(taken):
        path = user_file.with_name(f"{user_file.stem}.prod{GENERATED_MARK}{suffix}")
    return path


def services(model: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    found = model.get("services") or {}
    return found if isinstance(found, Mapping) else {}


def built(model: Mapping[str, Any]) -> list[str]:
    """The services with a `build:` section, in the model's order."""
    return [name for name, spec in services(model).items() if isinstance(spec, Mapping) and spec.get("build")]


def choose_ci_service(model: Mapping[str, Any], sources: str, wanted: str = "") -> Guess:
    """The compose service that builds the CI image: `wanted`, else a built service with the usual name of an
    application service, else the built service that depends on the most others."""
    candidates = built(model)
    if wanted:
        return _checked_ci_service(model, sources, wanted, candidates)
    if not candidates:
        raise ConfigError(
            f"no service in {sources} has a build: section",
            "Conveyor builds the CI image through compose: give your application's service a build: section",
        )
    if len(candidates) == 1:
        return Guess("ci_service", candidates[0], "the only service with a build: section")
    by_name = sorted((rank, name) for name in candidates if (rank := _app_rank(name)) is not None)
    if by_name:
        name = by_name[0][1]
        why = "it has a build: section and an application's name"
    else:
        name = max(candidates, key=lambda c: (len(_depends_on(model, c)), -candidates.index(c)))
        needs = _depends_on(model, name)
        why = f"it depends on the most services ({', '.join(needs)})" if needs else "the first with build:"
    others = ", ".join(c for c in candidates if c != name)
    return Guess("ci_service", name, f"{why}; also built: {others}; choose another with --ci-service")


def _checked_ci_service(model: Mapping[str, Any], sources: str, wanted: str, candidates: list[str]) -> Guess:
    if wanted not in services(model):
        known = ", ".join(services(model)) or "none"
        raise ConfigError(f"--ci-service {wanted!r} is not a service of {sources}", f"services: {known}")
    if wanted not in candidates:
        raise ConfigError(
            f"--ci-service {wanted!r} has no build: section in {sources}",
            "Conveyor builds the CI image through compose: give it a build: section",
        )
    return Guess("ci_service", wanted, "--ci-service")


def _app_rank(name: str) -> int | None:
    """How much a service's name says "the application": an exact usual name, else a usual word in it."""
    if name.lower() in APP_NAMES:
        return APP_NAMES.index(name.lower())
    words = re.split(r"[-_.]", name.lower())
    ranks = [APP_NAMES.index(word) for word in words if word in APP_NAMES]
    return len(APP_NAMES) + min(ranks) if ranks else None


def _depends_on(model: Mapping[str, Any], name: str) -> list[str]:
    needs = services(model).get(name, {}).get("depends_on") or {}
    return sorted(needs) if isinstance(needs, Mapping | list) else []


def job_services(model: Mapping[str, Any], ci_service: str) -> tuple[str, ...]:
    """Services a test job would need, for the commented example: what the CI service depends on, else the
    services that only run an image (databases, caches)."""
    needs = _depends_on(model, ci_service)
    if needs:
        return tuple(needs)
    return tuple(sorted(name for name in services(model) if name != ci_service and name not in built(model)))


def image_name(service: str) -> str:
    """A compose service's name as an image name component (lower case, separators the grammar allows)."""
    name = service.lower()
    if _IMAGE_COMPONENT.match(name):
        return name
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "image"


def prod_setup(
    ci_files: Sequence[Path], ci_model: Mapping[str, Any], prod_files: Sequence[Path], read: ReadModel, root: Path
) -> ProdSetup | None:
    """The prod images of `prod_files`: each service they name that has a build: section. A prod file that
    names services of the CI files is an override of them (`-f compose.yaml -f compose.prod.yaml`); one that
    does not stands alone."""
    if not prod_files:
        return None
    named = list(services(read(prod_files, True)))
    shared = sorted(set(named) & set(services(ci_model)))
    base = tuple(f for f in ci_files if f.name not in OVERRIDE_NAMES and f not in prod_files) if shared else ()
    model = read((*base, *prod_files), False)
    images = [(image_name(name), name) for name in named if name in built(model)]
    prod_names = ", ".join(show_path(p, root) for p in prod_files)
    if shared:
        over = ", ".join(show_path(p, root) for p in base)
        layout = Guess("prod_compose_files", prod_names, f"laid over {over}: it names its services {', '.join(shared)}")
    else:
        layout = Guess("prod_compose_files", prod_names, "stands alone: it names no service of the CI files")
    built_why = f"the services of {prod_names} with a build: section"
    chosen = Guess("prod_images", ", ".join(name for name, _ in images) or "none", built_why)
    return ProdSetup(
        user_files=tuple(prod_files),
        base_files=base,
        images=tuple(ProdImage(name=name, service=service) for name, service in images),
        guesses=(layout, chosen),
    )


ORIGIN_HEAD_WHY = "origin's default branch, origin/HEAD"


def deployable_branch(origin_head: str | None, current: str | None) -> Guess:
    """The branch that deploys: origin's default branch (the settings' default: not written), else the
    current branch, else `main`."""
    if origin_head and origin_head.startswith("origin/") and len(origin_head) > len("origin/"):
        return Guess("deployable_branches", origin_head.removeprefix("origin/"), ORIGIN_HEAD_WHY)
    if current:
        return Guess("deployable_branches", current, "the current branch; origin/HEAD is not known")
    return Guess("deployable_branches", "main", "no git branch found: GitLab's default")


def show_path(path: Path, root: str | Path) -> str:
    """`path` relative to the project, in the form invoke.yaml lists it."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def scalar(value: str) -> str:
    """`value` as a YAML scalar (quoted when YAML would read it as something else: `on`, `1`, `a: b`)."""
    return yaml.safe_dump(value, width=10_000).removesuffix("...\n").strip()


def ci_override_text(service: str, default_image: str, sources: str) -> str:
    """The CI override: the CI service gets the image name Conveyor tags and pushes, the branch image as
    cache, and BuildKit's inline cache metadata (compare compose/docker-compose.gitlab.yml)."""
    return "\n".join(
        [
            f"# Written by `conveyor init`: laid over {sources} by every Conveyor task (conveyor.compose_files).",
            "# The CI image gets the name Conveyor tags and pushes, is built with the branch image as cache, and",
            "# carries BuildKit's inline cache metadata, so that the next pipeline can use it as cache.",
            "services:",
            *_image_block(service, "CONVEYOR_CI_IMAGE", "CONVEYOR_CI_CACHE_IMAGE", default_image),
            "",
        ]
    )


def prod_override_text(images: Sequence[ProdImage], project: str, sources: str) -> str:
    """The prod override: each prod image gets the `prod-<sha>` name build-prod pushes and the generic `prod`
    tag as cache (the variables conveyor.stages.toolbox.Toolbox.prod_project sets)."""
    lines = [
        f"# Written by `conveyor init`: laid over {sources} by `inv build-prod` (conveyor.prod_compose_files).",
        "# Each prod image gets the name build-prod tags and pushes and is built with the `prod` tag as cache.",
        "services:",
    ]
    for image in images:
        key = prod_variable_key(image.name)
        default = f"{image_name(project)}/{image.name}:dev"
        lines += _image_block(image.service, f"CONVEYOR_PROD_IMAGE_{key}", f"CONVEYOR_PROD_CACHE_{key}", default)
    return "\n".join([*lines, ""])


def _image_block(service: str, image_variable: str, cache_variable: str, default: str) -> list[str]:
    return [
        f"  {scalar(service)}:",
        f"    image: {scalar('${' + image_variable + ':-' + default + '}')}",
        "    build:",
        "      cache_from:",
        f"        - {scalar('${' + cache_variable + ':-' + default + '}')}",
        "      args:",
        '        BUILDKIT_INLINE_CACHE: "1"',
    ]


def invoke_yaml_text(section: Section) -> str:
    """invoke.yaml with the starting `conveyor:` section: what init found, and commented examples of what is
    left to fill in (YAML comments, so the file loads as it is)."""
    lines = [
        f"# Conveyor's settings, written by `conveyor init` from {', '.join(section.sources)} (docker compose",
        '# config). Every scalar can be overridden by .env, the environment or task flags (README "Settings").',
        "conveyor:",
        "  # The registry: GitLab sets CI_REGISTRY and CI_REGISTRY_IMAGE. Elsewhere CI_REGISTRY is required (in .env,",
        "  # or here) and CI_REGISTRY_IMAGE defaults to <registry>/<origin's group/project>:",
        "  # registry: registry.example.com",
        "  # registry_image: registry.example.com/group/project",
        *_list("compose_files", section.compose_files),
        *_comment(f"The service that builds the CI image, guessed: {section.ci_service.why}."),
        f"  ci_service: {scalar(section.ci_service.value)}",
        f"  ci_image_name: {scalar(section.ci_image_name)}",
        *_test_jobs_example(section),
        *_prod_lines(section),
        *_deploy_example(section),
        *_deployable_lines(section.deployable_branch),
    ]
    return "\n".join([*lines, ""])


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=116, initial_indent="  # ", subsequent_indent="  # ")


def _deployable_lines(branch: Guess) -> list[str]:
    """The default branch is the settings' default (CI_DEFAULT_BRANCH in GitLab, origin's HEAD elsewhere):
    shown, not written; another guess is written."""
    if branch.why == ORIGIN_HEAD_WHY:
        return [
            "  # The branches that build prod images and deploy (globs). Default: the project's default branch",
            f"  # (CI_DEFAULT_BRANCH in GitLab, origin's HEAD here: {branch.value}). To deploy others too:",
            f"  # deployable_branches: [{scalar(branch.value)}, 'hotfix-*']",
        ]
    return _list("deployable_branches", (branch.value,), branch.why)


def _list(key: str, values: Sequence[str], comment: str = "") -> list[str]:
    after = f"  # {comment}" if comment else ""
    if not values:
        return [f"  {key}: []{after}"]
    return [f"  {key}:{after}", *(f"    - {scalar(value)}" for value in values)]


def _test_jobs_example(section: Section) -> list[str]:
    service = section.ci_service.value
    needs = "[" + ", ".join(scalar(s) for s in section.job_services[:3]) + "]"
    return [
        f"  # The test jobs, one GitLab job each, run in the CI image (service {service}). Uncomment, fill in the",
        "  # commands (run in the service's working directory), then run `inv gitlab-ci`:",
        "  # test_jobs:",
        "  #   unit:",
        "  #     command: sh tests/unit.sh",
        "  #     coverage: true  # the job prints 'Lines: NN.NN%' (as PHPUnit's --coverage-text): GitLab's coverage",
        "  #     services: []  # needs no other service: runs with --no-deps",
        "  #   functional:",
        "  #     command: sh tests/functional.sh",
        f"  #     services: {needs}  # the compose services it needs",
    ]


def _prod_lines(section: Section) -> list[str]:
    if not section.prod_images:
        return [
            "  # No prod compose file was found (*prod*.yml beside the compose files): no prod images. To add them",
            "  # (prod_compose_files default to compose_files; give each prod image an image: and cache_from: as",
            "  # init does for a prod file):",
            "  # prod_compose_files: [compose.prod.yaml]",
            "  # prod_images:",
            "  #   web: {service: web}",
        ]
    images = [
        f"    {scalar(image.name)}: {yaml.safe_dump({'service': image.service}, default_flow_style=True).strip()}"
        for image in section.prod_images
    ]
    return [*_list("prod_compose_files", section.prod_compose_files), "  prod_images:", *images]


def _deploy_example(section: Section) -> list[str]:
    if not section.prod_images:
        return ["  # deploy_targets: the Deployment containers that run each prod image (needs prod_images)"]
    examples = [
        f"  #   - {{deployment: {scalar(image.name)}, container: {scalar(image.name)}, image: {scalar(image.name)}}}"
        for image in section.prod_images
    ]
    return [
        "  # The Kubernetes Deployment containers that run each prod image. Uncomment, fill in, then run",
        "  # `inv gitlab-ci`:",
        "  # deploy_targets:",
        *examples,
    ]


def gitlab_jobs(rendered: str) -> list[str]:
    """The names of the jobs of a rendered Conveyor CI file (not its hidden jobs)."""
    document = yaml.safe_load(rendered)
    return [name for name, job in document.items() if isinstance(job, Mapping) and not name.startswith(".")]


def tasks_file_note(root: Path) -> tuple[Output | None, tuple[str, ...]]:
    """tasks.py when the project has no tasks file; otherwise a reminder when the one it has does not import
    Conveyor's collection."""
    existing = next((p for p in (root / "tasks.py", root / "tasks" / "__init__.py") if p.is_file()), None)
    if existing is None and not (root / "tasks").exists():
        return Output(root / "tasks.py", TASKS_TEXT, "Conveyor's tasks for `inv`"), ()
    text = existing.read_text(encoding="utf-8", errors="replace") if existing else ""
    if "conveyor.tasks" in text:
        return None, ()
    shown = show_path(existing, root) if existing else "tasks/"
    return None, (f"{shown} does not import Conveyor's tasks: add `from conveyor.tasks import ns` (or use `conveyor`)",)


def plan(options: Options, read: ReadModel, git: AskGit) -> Plan:
    """Everything `conveyor init` would write, from the compose models `read` gives and what `git` says."""
    root = project_dir(options.cwd)
    ci_files, found_why = compose_files(options, root)
    shown = [show_path(p, root) for p in ci_files]
    ci_model = read(ci_files, False)
    ci = choose_ci_service(ci_model, ", ".join(shown), options.ci_service)
    prod_files, prod_why = chosen_prod_files(options, root, ci_files)
    ci_override = override_path(ci_files[0])
    prod_override = override_path(prod_files[0], (ci_override,)) if prod_files else None
    _check_not_user_files([ci_override, *([prod_override] if prod_override else [])], [*ci_files, *prod_files], root)
    prod = prod_setup(ci_files, ci_model, prod_files, read, root)
    if prod is not None and not prod.images:
        prod = None
    project = str(ci_model.get("name") or image_name(root.name))
    branch = deployable_branch(
        git(("symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD")),
        git(("symbolic-ref", "--short", "-q", "HEAD")),
    )
    section = Section(
        sources=tuple(shown + [show_path(p, root) for p in prod_files]),
        compose_files=(*shown, show_path(ci_override, root)),
        compose_project=project,
        ci_service=ci,
        ci_image_name=_ci_image_name(prod),
        job_services=job_services(ci_model, ci.value),
        prod_compose_files=_prod_compose_files(prod, prod_override, root),
        prod_images=prod.images if prod else (),
        deployable_branch=branch,
        origin_url=git(("remote", "get-url", "origin")),
    )
    return _assemble(options, root, section, ci_override, prod, prod_override, (found_why, prod_why))


def _ci_image_name(prod: ProdSetup | None) -> str:
    names = {image.name for image in prod.images} if prod else set()
    return CI_IMAGE_NAME if CI_IMAGE_NAME not in names else f"{CI_IMAGE_NAME}-build"


def _prod_compose_files(prod: ProdSetup | None, prod_override: Path | None, root: Path) -> tuple[str, ...]:
    if prod is None or prod_override is None:
        return ()
    return tuple(show_path(p, root) for p in (*prod.base_files, *prod.user_files, prod_override))


def _assemble(
    options: Options,
    root: Path,
    section: Section,
    ci_override: Path,
    prod: ProdSetup | None,
    prod_override: Path | None,
    whys: tuple[str, str],
) -> Plan:
    from conveyor.pipeline.gitlab import CONVEYOR_FILE, TEAM_FILE, render_file, render_team_file
    from conveyor.pipeline.writing import team_file_note

    invoke_text = invoke_yaml_text(section)
    rendered, job_count = render_file(root, yaml.safe_load(invoke_text)["conveyor"])  # also checks the section
    ci_sources = ", ".join(section.compose_files[:-1])
    outputs = [
        Output(root / "invoke.yaml", invoke_text, "the conveyor: section"),
        Output(
            ci_override,
            ci_override_text(section.ci_service.value, _default_ci(section), ci_sources),
            f"override of {ci_sources} for the CI image",
        ),
    ]
    if prod is not None and prod_override is not None:
        prod_sources = ", ".join(show_path(p, root) for p in (*prod.base_files, *prod.user_files))
        text = prod_override_text(prod.images, section.compose_project, prod_sources)
        outputs.append(Output(prod_override, text, f"override of {prod_sources} for the prod images"))
    outputs.append(Output(root / ".env.example", render_env_example(), "every setting, commented out", show=False))
    tasks_output, notes = tasks_file_note(root)
    if tasks_output is not None:
        outputs.append(tasks_output)
    names = ", ".join(gitlab_jobs(rendered))
    outputs.append(Output(root / CONVEYOR_FILE, rendered, f"Conveyor's {job_count} GitLab jobs: {names}", show=False))
    team = root / TEAM_FILE
    if not team.exists():
        outputs.append(Output(team, render_team_file(), f"yours, includes {CONVEYOR_FILE}", show=False))
    elif note := team_file_note(team.read_text()):
        notes += (f"{TEAM_FILE} exists, kept; {note.removeprefix('note: ')}",)
    overwrites = _existing(outputs, options.force, root)
    guesses = (
        Guess("compose_files", ci_sources, whys[0]),
        section.ci_service,
        *(prod.guesses if prod else (Guess("prod_images", "none", whys[1]),)),
        section.deployable_branch,
    )
    return Plan(root, tuple(outputs), guesses, notes, _todo(section, root), overwrites)


def _default_ci(section: Section) -> str:
    return f"{image_name(section.compose_project)}/{section.ci_image_name}:dev"


def _existing(outputs: Sequence[Output], force: bool, root: Path) -> tuple[Path, ...]:
    """The files init would overwrite; an error naming them unless `force`."""
    existing = tuple(output.path for output in outputs if output.path.exists())
    if existing and not force:
        names = ", ".join(show_path(p, root) for p in existing)
        raise ConfigError(
            f"{names} already exist{'s' if len(existing) == 1 else ''}: conveyor init overwrites nothing",
            "move them away, or run conveyor init --force to replace them (your compose files are never touched)",
        )
    return existing


def _check_not_user_files(generated: Sequence[Path], user_files: Sequence[Path], root: Path) -> None:
    for path in generated:
        if path in user_files:
            raise ConfigError(
                f"{show_path(path, root)} is one of your compose files, and conveyor init writes its override there",
                "rename that file, or leave it out of --file/--prod-file",
            )


def _todo(section: Section, root: Path) -> tuple[str, ...]:
    todo = [
        _registry_todo(section.origin_url),
        "the test jobs: conveyor.test_jobs in invoke.yaml (a commented example is there), then `inv gitlab-ci`",
    ]
    if section.prod_images:
        todo.append(
            "the deploy targets: conveyor.deploy_targets in invoke.yaml (commented example), then `inv gitlab-ci`"
        )
    else:
        todo.append("prod images: a prod compose file and conveyor.prod_images, then deploy_targets (see invoke.yaml)")
    dev = [f for f in section.compose_files if Path(f).name in OVERRIDE_NAMES]
    if dev:
        todo.append(
            f"{dev[0]} is in conveyor.compose_files because compose reads it by default: "
            "remove it there if it is for local development only"
        )
    todo.append(
        'the image the GitLab jobs run in (CONVEYOR_JOB_IMAGE, see README "GitLab CI"): Python with Conveyor, '
        "the Docker CLI with compose, and kubectl"
    )
    return tuple(todo)


def _registry_todo(origin_url: str | None) -> str:
    """What is left of the registry: GitLab sets both variables; elsewhere CI_REGISTRY is required and
    CI_REGISTRY_IMAGE comes from origin's project path when origin is a GitLab URL."""
    path = project_path(origin_url or "")
    image = (
        f"(CI_REGISTRY_IMAGE defaults to <registry>/{path}, origin's project path)"
        if path
        else "and CI_REGISTRY_IMAGE (origin gives no group/project path)"
    )
    return (
        f"the registry outside GitLab (GitLab sets it): CI_REGISTRY {image}, "
        "in .env (see .env.example), the environment, or conveyor.registry and registry_image in invoke.yaml"
    )


def compose_files(options: Options, root: Path) -> tuple[tuple[Path, ...], str]:
    """The user's compose files (as given with --file, relative to where init runs), else compose's own."""
    if options.files:
        return tuple(_given_file(options.cwd, name, root, "--file") for name in options.files), "--file"
    names = default_files(entry.name for entry in root.iterdir() if entry.is_file())
    if not names:
        raise ConfigError(f"no compose file in {root} ({', '.join(COMPOSE_NAMES)})", _no_compose_hint(root))
    why = "compose's default files here" + (f" ({names[1]} too, as compose reads it)" if len(names) > 1 else "")
    return tuple(root / name for name in names), why


def _no_compose_hint(root: Path) -> str:
    nested = sorted(
        show_path(path, root)
        for directory in root.iterdir()
        if directory.is_dir() and not directory.name.startswith(".")
        for path in (directory / name for name in COMPOSE_NAMES)
        if path.is_file()
    )
    if nested:
        return f"name them with --file, e.g. conveyor init --file {nested[0]}"
    return "run conveyor init in the project with your compose file, or name it with --file PATH"


def chosen_prod_files(options: Options, root: Path, ci_files: Sequence[Path]) -> tuple[tuple[Path, ...], str]:
    """The prod compose files: as given with --prod-file, else the first `*prod*.yml` beside the compose files."""
    if options.prod_files:
        return tuple(_given_file(options.cwd, name, root, "--prod-file") for name in options.prod_files), ""
    directories = dict.fromkeys((ci_files[0].parent, root))
    candidates = prod_candidates((p for d in directories for p in d.iterdir() if p.is_file()), ci_files)
    if not candidates:
        return (), f"no *prod*.yml beside {show_path(ci_files[0], root)}"
    return (candidates[0],), ""


def _given_file(cwd: Path, name: str, root: Path, flag: str) -> Path:
    path = (cwd / name).resolve()
    if not path.is_file():
        raise ConfigError(f"{flag} {name}: no such file", f"give the compose file's path (relative to {cwd})")
    if not path.is_relative_to(root):
        raise ConfigError(f"{flag} {name} is outside the project {root}", "Conveyor lists compose files relative to it")
    return path


def clean_compose_error(lines: Sequence[str], root: Path) -> str:
    """compose's own error, one line: its last line, without logrus' `time=… level=… msg=` wrapping and with
    paths shown relative to the project."""
    line = next((text.strip() for text in reversed(lines) if text.strip()), "")
    if match := _LOG_LINE.match(line):
        line = match.group("msg").replace('\\"', '"')
    return line.replace(f"{root}/", "") or "no output"


def report(plan: Plan, dry_run: bool) -> list[str]:
    """What init prints: what it guessed and why, what it wrote (on a dry run, what it would write), what it
    kept, and what is left to fill in."""
    lines = [f"conveyor init in {plan.root}" + (" (dry run: nothing is written)" if dry_run else ""), "guessed:"]
    lines += [f"  {guess.line()}" for guess in plan.guesses]
    for output in plan.outputs:
        name = show_path(output.path, plan.root)
        verb = (
            ("would overwrite" if dry_run else "overwrote")
            if output.path in plan.overwrites
            else ("would write" if dry_run else "wrote")
        )
        lines.append(f"{verb} {name}: {output.what}")
        if dry_run and output.show:
            lines += [f"    {text}".rstrip() for text in output.text.splitlines()]
    lines += list(plan.notes)
    lines += ["left to fill in:", *(f"  - {item}" for item in plan.todo)]
    return lines


# --- the edge: compose, git, files -------------------------------------------------------------------------


def check_compose_v2() -> str:
    """Compose v2's version, or ToolError when it (or docker) is missing."""
    return compose.check_version(process.run(compose.version_command()))


def read_compose(root: Path) -> ReadModel:
    """Compose's model of some files, by `docker compose -f … config --format json` (written to a temporary
    file, so that compose's warnings never mix with it)."""

    def read(files: Sequence[Path], lenient: bool) -> Mapping[str, Any]:
        with tempfile.TemporaryDirectory(prefix="conveyor-init-") as directory:
            target = Path(directory) / "model.json"
            flags = [part for path in files for part in ("-f", str(path))]
            extra = ["--no-consistency"] if lenient else []
            argv = process.argv(
                "docker", "compose", flags, "config", "--format", "json", "--output", str(target), extra
            )
            result = process.run(Command(argv=argv, env=_QUIET, cwd=str(root), timeout=COMPOSE_TIMEOUT))
            if not result.ok or not target.is_file():
                names = ", ".join(show_path(p, root) for p in files)
                problem = "timed out" if result.timed_out else clean_compose_error(result.lines, root)
                raise ConfigError(f"docker compose cannot read {names}: {problem}", f"fix {names} and run init again")
            return _model(target.read_text(encoding="utf-8"))

    return read


def _model(text: str) -> Mapping[str, Any]:
    try:
        model = json.loads(text)
    except json.JSONDecodeError as error:
        raise ToolError(f"docker compose config gave no JSON ({error})", "check the compose plugin") from None
    if not isinstance(model, Mapping):
        raise ToolError("docker compose config gave no JSON object", "check the compose plugin")
    return model


def ask_git(root: Path) -> AskGit:
    """git's first output line in the project, or None (not a repository, no answer, git missing)."""
    return functools.partial(GitAnswer(root).first_line, timeout=GIT_TIMEOUT)


def write(plan: Plan) -> None:
    for output in plan.outputs:
        output.path.parent.mkdir(parents=True, exist_ok=True)
        output.path.write_text(output.text, encoding="utf-8")


def init_project(options: Options, dry_run: bool) -> list[str]:
    """Check compose v2, plan from the real compose models and git, write (unless `dry_run`), and answer the
    lines to print. Any problem is one ConveyorError before anything is written."""
    check_compose_v2()
    root = project_dir(options.cwd)
    planned = plan(options, read_compose(root), ask_git(root))
    if not dry_run:
        write(planned)
    return report(planned, dry_run)
