"""`conveyor init`'s plan, as a pure function of the project's files, its compose models and git's answers:
every file it would write (refusing to overwrite without --force, never a compose file of the user's),
what it guessed and why, what it kept, and what is left to fill in; and the lines it prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from conveyor.config.derived import COMPOSE_NAMES, OVERRIDE_NAMES, default_files, project_path
from conveyor.config.rendering import render_env_example
from conveyor.errors import ConfigError
from conveyor.init.model import (
    CI_IMAGE_NAME,
    AskGit,
    Guess,
    Options,
    ProdSetup,
    ReadModel,
    choose_ci_service,
    deployable_branch,
    image_name,
    job_services,
    override_path,
    prod_candidates,
    prod_setup,
    project_dir,
    show_path,
)
from conveyor.init.texts import (
    TASKS_TEXT,
    Section,
    ci_override_text,
    gitlab_jobs,
    invoke_yaml_text,
    prod_override_text,
)


@dataclass(frozen=True)
class Output:
    """One file init writes. `show`: its text is printed on a dry run (the rendered tables are summarised)."""

    path: Path
    text: str
    what: str
    show: bool = True


@dataclass(frozen=True)
class InitPlan:
    """Everything init would do: the files, what it guessed, what it kept, and what is left to the user."""

    root: Path
    outputs: tuple[Output, ...]
    guesses: tuple[Guess, ...]
    notes: tuple[str, ...] = ()
    todo: tuple[str, ...] = ()
    overwrites: tuple[Path, ...] = ()


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


def plan(options: Options, read: ReadModel, git: AskGit) -> InitPlan:
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
) -> InitPlan:
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
    return InitPlan(root, tuple(outputs), guesses, notes, _todo(section, root), overwrites)


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


def report(plan: InitPlan, dry_run: bool) -> list[str]:
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
