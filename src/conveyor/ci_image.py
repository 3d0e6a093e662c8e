"""The build-ci stage: build the CI image through compose with the branch image as BuildKit cache, tag it
with the commit and the branch slug, push both explicitly, and prove both tags share one digest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from conveyor import compose
from conveyor.buildlog import BuildReport, parse_build_log
from conveyor.engine import Engine
from conveyor.errors import RegistryError, ToolError
from conveyor.reference import ImageReference
from conveyor.toolbox import Toolbox


@dataclass(frozen=True)
class BuildCiResult:
    digest: str
    report: BuildReport
    cache_digest: str | None


def build_ci(tools: Toolbox) -> BuildCiResult:
    settings, console = tools.settings, tools.console
    images = settings.images
    project = tools.ci_project()
    tools.check_compose(project, [settings.ci_service])
    engine = tools.engine()
    tools.login()
    with console.section("cache", f"Cache source {images.ci_branch}"):
        cache_digest = engine.registry_digest(images.ci_branch)
        console.line(
            f"cache: using {images.ci_branch} ({cache_digest})"
            if cache_digest
            else f"cache: {images.ci_branch} is not in the registry yet (first build of this branch): building without"
        )
    with console.section("build", f"Build {images.ci_commit}"):
        result = compose.run(project.build([settings.ci_service]), console.prefixed("  "))
        if not result.ok:
            raise ToolError(
                f"building the CI image failed (compose exit code {result.returncode}): {result.last_line()}",
                "see the build output above",
            )
        report = parse_build_log(result.lines)
        console.line(report.summary())
    with console.section("push", f"Push {images.ci_commit} and {images.ci_branch}"):
        engine.tag(images.ci_commit, images.ci_branch)
        pushed = {ref: engine.push(ref, console.prefixed("  ")) for ref in (images.ci_commit, images.ci_branch)}
        digest = verify_same_digest(engine, pushed)
        console.line(f"pushed {images.ci_commit} and {images.ci_branch}: both are {digest}")
    return BuildCiResult(digest=digest, report=report, cache_digest=cache_digest)


def verify_same_digest(engine: Engine, pushed: Mapping[ImageReference, str]) -> str:
    """Ask the registry for each pushed tag and require one digest, the one the pushes reported."""
    found = {ref: engine.registry_digest(ref) for ref in pushed}
    digests = set(found.values()) | set(pushed.values())
    if len(digests) != 1 or None in digests:
        listing = ", ".join(f"{ref} → {digest or 'absent'}" for ref, digest in found.items())
        raise RegistryError(
            f"the registry does not hold both tags at one digest after the push ({listing})",
            "another push may have raced this one: run inv build-ci again",
        )
    return str(digests.pop())
