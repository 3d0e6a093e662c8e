"""What `conveyor init` reads in a project: the compose model's services (which are built, what depends on
what), its guesses (the CI service, the services a test job needs, the prod images of a prod compose file,
the deployable branch) with why, and where the overrides it writes go. Pure: the compose model and git's
answers are passed in."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.config.derived import OVERRIDE_NAMES
from conveyor.config.model import ProdImage
from conveyor.config.projectroot import MARKERS, find_root
from conveyor.errors import ConfigError

# compose-go's DefaultFileNames and DefaultOverrideFileNames, in compose's order of preference.
# Usual names of the application's own service, most telling first.
APP_NAMES = ("app", "php", "web", "api", "backend", "application", "server", "site", "node", "python", "ruby")
GENERATED_MARK = ".conveyor"  # compose.yaml -> compose.conveyor.yaml
CI_IMAGE_NAME = "ci"
_IMAGE_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$")
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
class ProdSetup:
    """The prod side: the prod compose files (with the base files they override, if any) and the images."""

    user_files: tuple[Path, ...]
    base_files: tuple[Path, ...]
    images: tuple[ProdImage, ...]
    guesses: tuple[Guess, ...]


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
