"""The build stages: build images through compose with a registry image as BuildKit cache (inline cache
metadata), push every tag explicitly, and prove each image's tags share one digest in the registry.

build-ci builds the CI image (cache: the branch tag; tags: commit and branch); build-prod builds each prod
image on deployable branches (cache: the generic `prod` tag; tag: `prod-<sha>`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from conveyor.console import Console
from conveyor.docker.buildlog import BuildReport, parse_build_log
from conveyor.docker.compose import ComposeProject
from conveyor.docker.engine import Engine
from conveyor.docker.pushing import push_tags
from conveyor.docker.session import DockerSession
from conveyor.errors import ToolError
from conveyor.interrupt import Stop
from conveyor.process import Command
from conveyor.reference import ImageReference


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


def build_ci(
    docker: DockerSession, project: ComposeProject, target: BuildTarget, console: Console, stop: Stop, dry_run: bool
) -> BuildResult | None:
    """Build, tag (commit and branch), push and verify the CI image (or, dry, print the plan)."""
    results = build_and_push(docker, project, [target], console, stop, dry_run)
    return results[0] if results else None


def build_prod(
    docker: DockerSession,
    project: ComposeProject,
    targets: Sequence[BuildTarget],
    console: Console,
    stop: Stop,
    dry_run: bool,
) -> list[BuildResult]:
    """Build, push and verify every prod image as `prod-<sha>` (the caller checked the branch deploys)."""
    if not targets:
        console.line("build-prod: no prod images configured (conveyor.prod_images in invoke.yaml)")
        return []
    return build_and_push(docker, project, targets, console, stop, dry_run)


def build_and_push(
    docker: DockerSession,
    project: ComposeProject,
    targets: Sequence[BuildTarget],
    console: Console,
    stop: Stop,
    dry_run: bool = False,
) -> list[BuildResult]:
    """Check, look up the caches, build, push and verify; with `dry_run`, stop after the look-ups and print
    the exact commands and pushes that would follow."""
    services = [t.service for t in targets]
    version = docker.check_compose(project, services)
    console.line(f"compose {version}, files: {' '.join(project.relative(p) for p in project.files)}")
    engine = docker.engine()
    with console.section("cache", "Cache sources"):
        cache_digests = {t.service: cache_lookup(engine, t, console) for t in targets}
    build = project.build(services)
    if dry_run:
        console.line(f"dry run: would run: {build.display()}")
        for target in targets:
            for tag in target.also:
                console.line(f"dry run: would tag {target.image} as {tag}")
            for tag in target.tags:
                console.line(f"dry run: would push {tag} and check its digest in the registry")
        return []
    with docker.logged_in() as session:
        return build_push_verify(session, engine, build, targets, cache_digests, console, stop)


def build_push_verify(
    docker: DockerSession,
    engine: Engine,
    build: Command,
    targets: Sequence[BuildTarget],
    cache_digests: Mapping[str, str | None],
    console: Console,
    stop: Stop,
) -> list[BuildResult]:
    with console.section("build", "Build " + ", ".join(str(t.image) for t in targets)):
        built = docker.runner.run(build, console.prefixed("  "))
        if not built.ok:
            raise ToolError(
                f"the build failed (compose exit code {built.returncode}): {built.last_line()}",
                "see the build output above",
            )
        stop.check("the build ran; nothing was pushed")
        report = parse_build_log(built.lines)
        reports = {t.service: report.for_target(t.service) for t in targets}
        for target in targets:
            console.line(f"{target.image}: {reports[target.service].summary()}")
    results = []
    with console.section("push", "Push " + ", ".join(str(tag) for t in targets for tag in t.tags)):
        for target in targets:
            digest = push_tags(engine, target.image, target.also, console, stop)
            results.append(BuildResult(target, digest, reports[target.service], cache_digests[target.service]))
    return results


def cache_lookup(engine: Engine, target: BuildTarget, console: Console) -> str | None:
    """The cache image's digest, or None on its first build (a miss is fine; an unreachable registry is not)."""
    digest = engine.registry_digest(target.cache)
    console.line(
        f"cache: using {target.cache} ({digest})"
        if digest
        else f"cache: {target.cache} is not in the registry yet (first build): building without"
    )
    return digest
