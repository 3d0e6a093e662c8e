"""The job image's base: a Debian bookworm root made on this machine with debootstrap (from a Debian mirror,
no Docker Hub) and `docker import`ed, or an existing image the user names.

The debootstrapped base is tagged `<registry image>/conveyor-job-base:bookworm-<recipe hash>` and made once:
it is reused from the local engine, from the registry, or from the machine's local-only cache tag
`conveyor-job-base:bookworm-<recipe hash>` (which survives a change of registry); the hash changes with the
recipe (suite, packages, what is left out), so a changed recipe never reuses a stale base."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from conveyor.docker.engine import Engine
from conveyor.errors import ConfigError, ToolError
from conveyor.jobimage.tools import JobImageTools
from conveyor.process import Command, Completed, LineSink
from conveyor.reference import ImageReference

SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES = ("python3", "python3-venv", "docker.io", "git", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BASE_IMAGE_NAME = "conveyor-job-base"
# Left out of the imported root: apt's downloaded packages and lists, and the engine half of docker.io
# (dockerd, containerd, runc: a job talks to docker-in-docker with the CLI and never runs an engine), 200 MB.
LEFT_OUT = (
    "./var/cache/apt/archives/*.deb",
    "./var/lib/apt/lists/*",
    "./usr/sbin/dockerd",
    "./usr/sbin/docker-proxy",
    "./usr/sbin/runc",
    "./usr/sbin/ovrouter",
    "./usr/bin/dnet",
    "./usr/bin/containerd",
    "./usr/bin/containerd-shim*",
    "./usr/bin/ctr",
)
IMPORT_CHANGES = ("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 'CMD ["bash"]')


class Origin(Enum):
    """Where the base comes from in this run."""

    GIVEN = "given with --base"
    LOCAL = "in the local engine"
    REGISTRY = "in the registry: pull it"
    CACHE = "in this machine's cache"
    DEBOOTSTRAP = "not made yet: debootstrap"


@dataclass(frozen=True)
class Base:
    ref: ImageReference
    origin: Origin

    @property
    def ours(self) -> bool:
        """The debootstrapped base (pushed to the registry), not one the user named."""
        return self.origin is not Origin.GIVEN


def recipe_tag() -> str:
    """`bookworm-<hash of the recipe>`."""
    recipe = json.dumps([SUITE, VARIANT, PACKAGES, LEFT_OUT, IMPORT_CHANGES])
    return f"{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def base_ref(registry_image: str) -> ImageReference:
    return ImageReference.parse(f"{registry_image}/{BASE_IMAGE_NAME}").with_tag(recipe_tag())


def cache_ref() -> ImageReference:
    """The machine's local-only tag of the debootstrapped base (never pushed)."""
    return ImageReference.parse(BASE_IMAGE_NAME).with_tag(recipe_tag())


def check_mirror(mirror: str) -> str:
    if not mirror.startswith(("http://", "https://", "file:/")):
        raise ConfigError(f"--mirror {mirror!r} is not a URL", f"name a Debian mirror, like {DEFAULT_MIRROR}")
    return mirror


def local_image(tools: JobImageTools, ref: ImageReference) -> bool:
    return tools.run(Command(argv=("docker", "image", "inspect", "--format", "{{.Id}}", str(ref)))).ok


def choose_base(tools: JobImageTools, engine: Engine, given: str, refresh: bool) -> Base:
    """Which base this run uses and where it comes from (asks the engine and the registry; changes nothing)."""
    if given:
        return Base(ImageReference.parse(given), Origin.GIVEN)
    ref = base_ref(tools.registry_image)
    if refresh:
        origin = Origin.DEBOOTSTRAP
    elif local_image(tools, ref):
        origin = Origin.LOCAL
    elif engine.registry_digest(ref):
        origin = Origin.REGISTRY
    elif local_image(tools, cache_ref()):
        origin = Origin.CACHE
    else:
        origin = Origin.DEBOOTSTRAP
    if origin is Origin.DEBOOTSTRAP:
        check_debootstrap()
    return Base(ref, origin)


def check_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise ToolError(
            "debootstrap is not installed (it makes the job image's Debian base)",
            "apt-get install debootstrap, or name an existing base with --base IMAGE",
        )
    if os.geteuid() != 0:
        raise ToolError("debootstrap needs root", "run inv job-image as root once, or name a base with --base IMAGE")


def debootstrap_command(root: Path, mirror: str) -> Command:
    include = ",".join(PACKAGES)
    return Command(argv=("debootstrap", f"--variant={VARIANT}", f"--include={include}", SUITE, str(root), mirror))


def tar_command(root: Path, archive: Path) -> Command:
    excludes = tuple(f"--exclude={pattern}" for pattern in LEFT_OUT)
    return Command(argv=("tar", "--numeric-owner", *excludes, "-C", str(root), "-cf", str(archive), "."))


def import_command(archive: Path, ref: ImageReference) -> Command:
    changes = tuple(arg for change in IMPORT_CHANGES for arg in ("--change", change))
    return Command(argv=("docker", "import", *changes, str(archive), str(ref)))


def make_base(tools: JobImageTools, engine: Engine, ref: ImageReference, mirror: str) -> None:
    """debootstrap a bookworm root, import it as `ref` and tag it in the machine's cache."""
    console = tools.console
    with scratch_directory(tools, "conveyor-debootstrap-") as work:
        root = work / "root"
        console.line(f"debootstrap {SUITE} from {mirror} (a minute or more, once per machine)")
        must_succeed(tools.run(debootstrap_command(root, mirror), warnings(tools)), mirror)
        tools.stop.check("debootstrap ran; nothing was imported or pushed")
        archive = work / "root.tar"
        must_succeed(tools.run(tar_command(root, archive)), str(root))
        must_succeed(tools.run(import_command(archive, ref)), str(archive))
    engine.tag(ref, cache_ref())
    console.line(f"base: imported {ref} (also tagged {cache_ref()} on this machine)")


def warnings(tools: JobImageTools) -> LineSink:
    """debootstrap's warnings and errors as they come (its hundreds of `I:` progress lines are left out)."""
    show = tools.console.prefixed("  ")
    return lambda line: None if line.startswith("I: ") else show(line)


def must_succeed(result: Completed, subject: str) -> None:
    """A step of making the base worked, or the run ends with the step's last words."""
    if not result.ok:
        step = " ".join(result.command.argv[:2]) if result.command.argv[0] == "docker" else result.command.argv[0]
        raise ToolError(f"{step} failed ({subject}): {result.last_line()}", "see its output above")


@contextmanager
def scratch_directory(tools: JobImageTools, prefix: str) -> Iterator[Path]:
    """A temporary directory, removed afterwards once nothing is mounted inside it (debootstrap mounts /proc
    in the root it makes: left mounted after a failure, it is unmounted first, never deleted through)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        for mount in reversed(mounts_under(work)):
            tools.run(Command(argv=("umount", "--lazy", mount)))
        left = mounts_under(work)
        if left:
            raise ToolError(f"{left[0]} is still mounted", f"unmount it, then remove {work}")
        shutil.rmtree(work)


def mounts_under(directory: Path) -> list[str]:
    """Mount points inside `directory`, outermost first."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = f"{directory.resolve()}/"
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return sorted(point for point in points if point.startswith(prefix))
