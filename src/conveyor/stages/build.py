"""The build stages: build images through compose with a registry image as BuildKit cache (inline cache
metadata), push every tag explicitly, and prove each image's tags share one digest in the registry.

build-ci builds the CI image (cache: the branch tag; tags: commit and branch); build-prod builds each prod
image on deployable branches (cache: the generic `prod` tag; tag: `prod-<sha>`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.docker.buildlog import BuildReport, parse_build_log
from conveyor.docker.compose import ComposeProject
from conveyor.docker.engine import Engine, Observer
from conveyor.errors import RegistryError, ToolError
from conveyor.process import Command
from conveyor.reference import ImageReference
from conveyor.stages.toolbox import Toolbox


@dataclass(frozen=True)
class BuildTarget:
    """One compose service to build: the tag compose gives it, further tags for the same image, and the
    registry image whose inline cache metadata BuildKit may reuse."""

    service: str
    image: ImageReference
    cache: ImageReference
    also: tuple[ImageReference, ...] = ()

    @property
    def tags(self) -> tuple[ImageReference, ...]:
        return (self.image, *self.also)


@dataclass(frozen=True)
class BuildResult:
    target: BuildTarget
    digest: str
    report: BuildReport
    cache_digest: str | None


def build_ci(tools: Toolbox, dry_run: bool = False) -> BuildResult | None:
    """Build, tag (commit and branch), push and verify the CI image (or, dry, print the plan)."""
    images = tools.settings.images
    target = BuildTarget(
        service=tools.settings.ci_service, image=images.ci_commit, cache=images.ci_branch, also=(images.ci_branch,)
    )
    results = build_and_push(tools, tools.ci_project(), [target], dry_run)
    return results[0] if results else None


def build_prod(tools: Toolbox, dry_run: bool = False) -> list[BuildResult]:
    """On deployable branches, build, push and verify every prod image as `prod-<sha>`."""
    settings = tools.settings
    if not settings.deployable:
        tools.console.line(f"build-prod: skipped: {settings.why_not_deployable()}")
        return []
    targets = [
        BuildTarget(service=image.service, image=names.release, cache=names.cache)
        for image in settings.prod_images
        for names in (settings.images.prod[image.name],)
    ]
    if not targets:
        tools.console.line("build-prod: no prod images configured (conveyor.prod_images in invoke.yaml)")
        return []
    return build_and_push(tools, tools.prod_project(), targets, dry_run)


def build_and_push(
    tools: Toolbox, project: ComposeProject, targets: Sequence[BuildTarget], dry_run: bool = False
) -> list[BuildResult]:
    """Check, look up the caches, build, push and verify; with `dry_run`, stop after the look-ups and print
    the exact commands and pushes that would follow."""
    console = tools.console
    tools.check_compose(project, [t.service for t in targets])
    engine = tools.engine()
    with console.section("cache", "Cache sources"):
        cache_digests = {t.service: cache_lookup(tools, engine, t) for t in targets}
    build = project.build([t.service for t in targets])
    if dry_run:
        console.line(f"dry run: would run: {build.display()}")
        for target in targets:
            for tag in target.also:
                console.line(f"dry run: would tag {target.image} as {tag}")
            for tag in target.tags:
                console.line(f"dry run: would push {tag} and check its digest in the registry")
        return []
    with tools.logged_in() as session:
        return build_push_verify(session, engine, build, targets, cache_digests)


def build_push_verify(
    tools: Toolbox,
    engine: Engine,
    build: Command,
    targets: Sequence[BuildTarget],
    cache_digests: Mapping[str, str | None],
) -> list[BuildResult]:
    console = tools.console
    with console.section("build", "Build " + ", ".join(str(t.image) for t in targets)):
        built = tools.run(build, console.prefixed("  "))
        if not built.ok:
            raise ToolError(
                f"the build failed (compose exit code {built.returncode}): {built.last_line()}",
                "see the build output above",
            )
        tools.stop.check("the build ran; nothing was pushed")
        report = parse_build_log(built.lines)
        reports = {t.service: report.for_target(t.service) for t in targets}
        for target in targets:
            console.line(f"{target.image}: {reports[target.service].summary()}")
    results = []
    with console.section("push", "Push " + ", ".join(str(tag) for t in targets for tag in t.tags)):
        for target in targets:
            digest = push_all_tags(tools, engine, target)
            results.append(BuildResult(target, digest, reports[target.service], cache_digests[target.service]))
    return results


def cache_lookup(tools: Toolbox, engine: Engine, target: BuildTarget) -> str | None:
    """The cache image's digest, or None on its first build (a miss is fine; an unreachable registry is not)."""
    digest = engine.registry_digest(target.cache)
    tools.console.line(
        f"cache: using {target.cache} ({digest})"
        if digest
        else f"cache: {target.cache} is not in the registry yet (first build): building without"
    )
    return digest


def push_all_tags(tools: Toolbox, engine: Engine, target: BuildTarget) -> str:
    for tag in target.also:
        engine.tag(target.image, tag)
    pushed: dict[ImageReference, str] = {}
    for tag in target.tags:
        tools.stop.check(push_summary(target, pushed))
        pushed[tag] = engine.push(tag, stoppable(tools, tag, functools.partial(push_summary, target, pushed)))
    digest = verify_same_digest(engine, pushed)
    same = "same digest " if len(target.tags) > 1 else ""
    tools.console.line(f"pushed {' and '.join(str(tag) for tag in target.tags)}: {same}{digest}")
    return digest


def stoppable(tools: Toolbox, tag: ImageReference, summary: Callable[[], str]) -> Observer:
    """Push progress that gives up the push (closing its stream) once a stop was requested."""
    progress = tools.console.transfer("push", str(tag))

    def observe(chunk: Mapping[str, Any]) -> None:
        tools.stop.check(f"stopped pushing {tag}; {summary()}")
        progress(chunk)

    return observe


def push_summary(target: BuildTarget, pushed: Mapping[ImageReference, str]) -> str:
    done = ", ".join(str(tag) for tag in pushed) or "nothing"
    left = ", ".join(str(tag) for tag in target.tags if tag not in pushed) or "nothing"
    return f"pushed {done}; not pushed {left}"


def verify_same_digest(engine: Engine, pushed: Mapping[ImageReference, str]) -> str:
    """Ask the registry for each pushed tag and require one digest, the one the pushes reported."""
    found = {ref: engine.registry_digest(ref) for ref in pushed}
    digests = set(found.values()) | set(pushed.values())
    if len(digests) != 1 or None in digests:
        listing = ", ".join(f"{ref} → {digest or 'absent'}" for ref, digest in found.items())
        raise RegistryError(
            f"the registry does not hold the pushed tags at the pushed digest ({listing})",
            "another push may have raced this one: run the task again",
        )
    return str(digests.pop())
