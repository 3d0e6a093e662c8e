"""The texts `conveyor init` writes: invoke.yaml with a starting `conveyor:` section (what it found, and
commented examples of what is left to fill in), the compose overrides of the CI and prod images (image names,
the cache to use, BuildKit's inline cache metadata) and a one-line tasks.py. Pure."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from conveyor.config.model import ProdImage
from conveyor.docker.compose import prod_variable_key
from conveyor.init.model import ORIGIN_HEAD_WHY, Guess, image_name

TASKS_TEXT = "from conveyor.tasks import ns\n"


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
    tag as cache (the variables conveyor.wiring.toolbox.Toolbox.prod_project sets)."""
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
