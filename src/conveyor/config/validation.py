"""Checking loaded settings before any task uses them: a commit that is a commit, a usable ref slug and
compose project name, image names the reference grammar accepts and inside the configured registry, a
reports directory that is one, environments with promotion tags of their own and deploy targets, targets
that name configured prod images, and coverage regexes RE2 accepts. Each problem is one line naming the
setting (or the invoke.yaml key) it comes from."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from conveyor import tagnames
from conveyor.config import specs
from conveyor.config.model import DeployTarget
from conveyor.errors import BadReference, ConfigError
from conveyor.reference import ImageReference

if TYPE_CHECKING:
    from conveyor.config.settings import Settings

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def validate(settings: Settings) -> None:
    """Refuse settings that cannot work, before any task uses them: one line naming the setting."""
    source = settings.source
    if not tagnames.is_commit(settings.commit_sha):
        raise ConfigError(
            f"{source('commit_sha')} {settings.commit_sha!r} is not a commit SHA",
            "use 7 to 64 lower-case hex characters",
        )
    if not settings.ref_slug:
        raise ConfigError(f"ref {settings.ref_name!r} has an empty slug", "set CI_COMMIT_REF_NAME to a branch name")
    _check_environments(settings)
    if not _NAME.match(settings.compose_project):
        raise ConfigError(
            f"{source('compose_project')} {settings.compose_project!r} is not a compose project name",
            "use lower-case letters, digits, '-', '_' and '.'",
        )
    _check_image(source("registry_image"), settings.registry_image)
    _check_image(source("ci_image_name"), f"{settings.registry_image}/{settings.ci_image_name}")
    if settings.reports_dir.exists() and not settings.reports_dir.is_dir():
        raise ConfigError(
            f"{source('reports_dir')}: {settings.reports_dir} is a file, not a directory",
            "point it at a directory (or remove the file)",
        )
    _check_targets(settings)
    for prod in settings.prod_images:
        _check_image(specs.key("prod_images", prod.name), f"{settings.registry_image}/{prod.name}")
    images = settings.images
    if images.ci_commit.domain != settings.registry:
        raise ConfigError(
            f"{source('registry_image')} {settings.registry_image!r} is not in registry {settings.registry!r} "
            f"({source('registry')})",
            "make CI_REGISTRY_IMAGE start with CI_REGISTRY",
        )
    for job in settings.test_jobs:
        if job.coverage_regex:
            from conveyor.config.patterns import compile_pattern  # RE2: not for `inv --list`

            compile_pattern(job.coverage_regex, specs.key("test_jobs", job.name, "coverage"))


def _check_environments(settings: Settings) -> None:
    """Every environment's name gives a promotion tag of its own that is not a release; a named environment
    (CI_ENVIRONMENT_NAME, --environment) is one of them; each has deploy targets."""
    source = settings.source
    names = [declared.name for declared in settings.declared_environments]
    if settings.environment_name and names and settings.environment_name not in names:
        raise ConfigError(
            f"{source('environment_name')} {settings.environment_name!r} is not an environment of this project",
            f"use one of: {', '.join(names)} ({specs.key('environments')})",
        )
    promoted: dict[str, str] = {}
    for name in names or [settings.environment_name or tagnames.PRODUCTION]:
        where = specs.key("environments", name) if names else source("environment_name")
        promotion = tagnames.promotion_tag(name)
        if promotion == tagnames.RELEASE_PREFIX or tagnames.is_release(promotion):
            raise ConfigError(
                f"{where} {name!r} gives the promotion tag {promotion!r}, which is not a name or looks like a release",
                "name the environment with letters (production, staging, review-x)",
            )
        if promotion in promoted:
            raise ConfigError(
                f"{where}: environments {promoted[promotion]!r} and {name!r} share the promotion tag {promotion!r}",
                "give the environments names that differ in more than case and punctuation",
            )
        promoted[promotion] = name
    for declared in settings.declared_environments:
        if not (declared.targets if declared.own_targets else settings.deploy_targets):
            raise ConfigError(
                f"{specs.key('environments', declared.name)} has no deploy targets",
                f"set {specs.key('deploy_targets')} or its own deploy_targets",
            )


def _check_targets(settings: Settings) -> None:
    """Every deploy target (of every environment) runs a configured prod image."""
    prod_names = {image.name for image in settings.prod_images}
    lists: list[tuple[tuple[object, ...], tuple[DeployTarget, ...]]] = [(("deploy_targets",), settings.deploy_targets)]
    lists += [
        (("environments", e.name, "deploy_targets"), e.targets) for e in settings.declared_environments if e.targets
    ]
    for where, targets in lists:
        for index, target in enumerate(targets):
            if target.image not in prod_names:
                raise ConfigError(
                    f"{specs.key(*where, index, 'image')} {target.image!r} is not a prod image",
                    f"use one of: {', '.join(sorted(prod_names)) or 'none'} ({specs.key('prod_images')})",
                )


def _check_image(variable: str, text: str) -> None:
    try:
        ImageReference.parse(text)
    except BadReference as exc:
        raise ConfigError(f"{variable} gives a bad image name: {exc.problem}: {exc.hint}", f"fix {variable}") from None
