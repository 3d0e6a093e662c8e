"""inv job-image: build `<registry image>/conveyor-job:<Conveyor version>` from the Dockerfile shipped in this
package and push it.

Before anything changes: the engine and the registry answer, the host's docker CLI has a compose v2 plugin
to copy, and the base is known (given, local, in the registry, in the machine's cache, or to be made with
debootstrap, which must then be installed). Then the base is made or fetched (and pushed, when it is
Conveyor's own), asked for its Python, glibc and machine, the build context is prepared on the host, the
image is built with no network, pushed through the engine and its digest checked in the registry."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from conveyor.docker.engine import Engine
from conveyor.docker.pushing import stoppable, verify_same_digest
from conveyor.errors import ConfigError, DockerError, ToolError
from conveyor.jobimage.base import (
    DEFAULT_MIRROR,
    LEFT_OUT,
    Base,
    Origin,
    cache_ref,
    check_mirror,
    choose_base,
    debootstrap_command,
    local_image,
    make_base,
    scratch_directory,
)
from conveyor.jobimage.context import (
    BasePlatform,
    ComposePlugin,
    check_compose_binary,
    copy_compose,
    download_command,
    find_compose,
    probe,
    write_dockerfile,
)
from conveyor.jobimage.tools import JobImageTools
from conveyor.jobimage.wheels import conveyor_wheel
from conveyor.process import Command
from conveyor.reference import ImageReference
from conveyor.versions import conveyor_version, job_image_ref


@dataclass(frozen=True)
class Request:
    """The task's flags."""

    dry_run: bool = False
    base: str = ""  # an existing image to build on, instead of the debootstrapped one
    mirror: str = ""  # the Debian mirror for debootstrap (default DEFAULT_MIRROR)
    refresh_base: bool = False  # debootstrap again even when the base exists

    def checked(self) -> Request:
        if self.base and (self.mirror or self.refresh_base):
            flag = "--mirror" if self.mirror else "--refresh-base"
            raise ConfigError(f"{flag} is about the debootstrapped base, not --base {self.base}", "give one of them")
        return Request(self.dry_run, self.base, check_mirror(self.mirror or DEFAULT_MIRROR), self.refresh_base)


@dataclass(frozen=True)
class Built:
    ref: ImageReference
    digest: str
    base: ImageReference
    target: BasePlatform


def job_image(tools: JobImageTools, request: Request) -> Built | None:
    """Build and push the job image (or, dry, check everything and print the plan)."""
    request = request.checked()
    ref = job_image_ref(tools.registry_image)
    engine = tools.engine()
    compose, base = preflight(tools, engine, ref, request)
    if request.dry_run:
        for line in plan(ref, base, compose, request.mirror):
            tools.console.line(f"dry run: would {line}")
        return None
    target = ready_base(tools, engine, base, compose, request.mirror)
    with scratch_directory(tools, "conveyor-job-image-") as context:
        with tools.console.section("context", "Build context"):
            prepare_context(tools, context, compose, target)
        with tools.console.section("build", f"Build {ref}"):
            build(tools, context, ref, base.ref)
    digest = push(tools, engine, ref)
    tools.console.line(
        f"job image {ref}: {digest} (Conveyor {conveyor_version()}, compose {compose.version}, base {base.ref})"
    )
    return Built(ref, digest, base.ref, target)


def preflight(
    tools: JobImageTools, engine: Engine, ref: ImageReference, request: Request
) -> tuple[ComposePlugin, Base]:
    """Everything checked before anything changes: the registry answers, the compose plugin to copy, the base."""
    console = tools.console
    with console.section("job-image", f"Job image {ref}"):
        existing = engine.registry_digest(ref)
        console.line(f"{ref}: " + (f"in the registry ({existing}): to be replaced" if existing else "not pushed yet"))
        compose = find_compose(tools)
        check_compose_binary(compose, platform.machine())
        console.line(f"compose: {compose.version} from {compose.path}")
        base = choose_base(tools, engine, request.base, request.refresh_base)
        console.line(f"base: {base.ref} ({base.origin.value})")
    return compose, base


def ready_base(tools: JobImageTools, engine: Engine, base: Base, compose: ComposePlugin, mirror: str) -> BasePlatform:
    """The base in the engine (made, pulled or tagged; Conveyor's own also pushed), and what it runs."""
    with tools.console.section("base", f"Base {base.ref}"):
        ensure_base(tools, engine, base, mirror)
        target = probe(tools, base.ref)
        check_compose_binary(compose, target.machine)
        tools.console.line(f"base: {target.describe()}")
    return target


def push(tools: JobImageTools, engine: Engine, ref: ImageReference) -> str:
    """Push through the engine (with the registry credentials) and check the digest in the registry."""
    with tools.console.section("push", f"Push {ref}"):
        digest = engine.push(ref, stoppable(tools.console, tools.stop, ref, lambda: f"{ref} was built but not pushed"))
        return verify_same_digest(engine, {ref: digest})


def plan(ref: ImageReference, base: Base, compose: ComposePlugin, mirror: str) -> list[str]:
    """What a real run would do, step by step."""
    context = Path("<temporary directory>")
    steps = base_plan(base, mirror)
    steps.append(f"ask {base.ref} for its Python, glibc and machine (a throwaway container, no network)")
    steps.append(
        f"write the build context: the Dockerfile, docker-compose ({compose.version} from {compose.path}), "
        f"wheels/ (conveyor-{conveyor_version()} packed from the installed Conveyor; its dependencies with "
        "pip download for the base's Python and platform)"
    )
    steps.append(f"run (DOCKER_BUILDKIT=0): {build_command(context, ref, base.ref).display()}")
    steps.append(f"push {ref} and check its digest in the registry")
    return steps


def base_plan(base: Base, mirror: str) -> list[str]:
    ref = base.ref
    if base.origin is Origin.GIVEN:
        return [f"use {ref} as the base (pulled first when the engine lacks it)"]
    if base.origin is Origin.LOCAL:
        return [f"use {ref} from the local engine", f"push {ref}"]
    if base.origin is Origin.REGISTRY:
        return [f"pull {ref}"]
    if base.origin is Origin.CACHE:
        return [f"tag {cache_ref()} as {ref}", f"push {ref}"]
    root = Path("<temporary directory>/root")
    return [
        f"run: {debootstrap_command(root, mirror).display()}",
        f"import the root as {ref} (without {', '.join(p.removeprefix('./') for p in LEFT_OUT)}) "
        f"and tag it {cache_ref()}",
        f"push {ref}",
    ]


def ensure_base(tools: JobImageTools, engine: Engine, base: Base, mirror: str) -> None:
    """The base in the local engine; Conveyor's own base also in the registry, for other machines."""
    ref = base.ref
    if base.origin is Origin.GIVEN:
        if not local_image(tools, ref):
            pull_given(tools, engine, ref)
        return
    if base.origin is Origin.REGISTRY:
        engine.pull(ref, tools.console.transfer("pull", str(ref)))
        return
    if base.origin is Origin.CACHE:
        engine.tag(cache_ref(), ref)
    elif base.origin is Origin.DEBOOTSTRAP:
        make_base(tools, engine, ref, mirror)
    tools.stop.check(f"the base {ref} is ready; nothing was pushed")
    digest = engine.push(ref, stoppable(tools.console, tools.stop, ref, lambda: f"the base {ref} was not pushed"))
    tools.console.line(f"base: pushed {ref}: {digest}")


def pull_given(tools: JobImageTools, engine: Engine, ref: ImageReference) -> None:
    """Pull a base the user named: through the engine with Conveyor's credentials from its own registry,
    else with the docker CLI and the user's Docker config."""
    if ref.registry == tools.registry:
        engine.pull(ref, tools.console.transfer("pull", str(ref)))
        return
    pulled = tools.run(Command(argv=("docker", "pull", str(ref))), tools.console.prefixed("  "))
    if not pulled.ok:
        raise DockerError(
            f"cannot pull the base image {ref}: {pulled.last_line()}",
            "check its name, or log in to its registry (docker login)",
        )


def prepare_context(tools: JobImageTools, context: Path, compose: ComposePlugin, target: BasePlatform) -> None:
    """The Dockerfile, the compose plugin and every wheel the offline install needs."""
    console = tools.console
    write_dockerfile(context)
    copy_compose(context, compose)
    wheels = context / "wheels"
    wheels.mkdir()
    own = conveyor_wheel(wheels)
    console.line(f"wheels: {own.name} packed from the installed Conveyor")
    download = download_command(wheels, own, target)
    console.line(f"wheels: pip download of its dependencies for {target.describe()}")
    downloaded = tools.run(download)
    if not downloaded.ok:
        for line in downloaded.lines[-20:]:
            console.line(f"  {line}")
        raise ToolError(
            f"pip download of Conveyor's dependencies failed: {downloaded.last_line()}",
            f"every dependency needs a wheel for {target.describe()} on the index pip uses (see pip's output above)",
        )
    count = sum(1 for _ in wheels.glob("*.whl"))
    console.line(f"wheels: {count} (Conveyor and its dependencies)")


def build_command(context: Path, ref: ImageReference, base: ImageReference) -> Command:
    """The classic builder (present in every docker CLI and engine; no buildx needed), with no network."""
    return Command(
        argv=(
            *("docker", "build", "--network", "none", "--force-rm", "--tag", str(ref)),
            *("--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"CONVEYOR_VERSION={conveyor_version()}"),
            str(context),
        ),
        env={"DOCKER_BUILDKIT": "0"},
    )


def build(tools: JobImageTools, context: Path, ref: ImageReference, base: ImageReference) -> None:
    built = tools.run(build_command(context, ref, base), tools.console.prefixed("  "))
    if not built.ok:
        raise ToolError(
            f"the job image build failed (docker build exit code {built.returncode}): {built.last_line()}",
            "see the build output above",
        )
    tools.stop.check(f"{ref} was built; nothing was pushed")
