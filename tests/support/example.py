"""A copy of the bundled example project, with its own git repository, image names and compose project,
driven with the real `inv`: used by the integration tests and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.integration import copy_files
from tests.support.registry import RegistryProcess

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("compose", "docker", "example", "tasks", "invoke.yaml", ".dockerignore")
SCRUBBED_PREFIXES = ("CI_", "GITLAB_", "CONVEYOR_", "DOCKER_CONFIG", "KUBECONFIG")


@dataclass
class Example:
    """A copy of the example project with its own git history, its own image names in the test registry
    and its own compose project name."""

    root: Path
    registry: RegistryProcess
    base_image: str
    name: str = field(default_factory=lambda: f"it{uuid.uuid4().hex[:8]}")

    @property
    def repository(self) -> str:
        return f"{self.name}/example/ci"

    def prod_repository(self, image: str = "web") -> str:
        """The registry path of one of the example's prod images."""
        return f"{self.name}/example/{image}"

    def prod_ref(self, tag: str, image: str = "web") -> str:
        return f"{self.registry.address}/{self.prod_repository(image)}:{tag}"

    @property
    def image(self) -> str:
        return f"{self.registry.address}/{self.repository}"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
        env.update(
            CI_REGISTRY=self.registry.address,
            CI_REGISTRY_IMAGE=f"{self.registry.address}/{self.name}/example",
            CONVEYOR_BASE_IMAGE=self.base_image,
            CONVEYOR_COMPOSE_PROJECT=f"conveyor-{self.name}",
            NO_COLOR="1",
        )
        env.update(overrides)
        return env

    def inv(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run `inv *args` in the example, with `env` over the example's environment."""
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.root,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
        return self.git("rev-parse", "HEAD")

    def fresh_runner(self) -> None:
        """Make the engine look like a fresh runner's: none of the example's images, no base image, no
        BuildKit cache (this prunes the whole engine's build cache: use a disposable engine)."""
        self.remove_local_images()
        subprocess.run(["docker", "image", "rm", "-f", self.base_image], capture_output=True, check=True)
        subprocess.run(["docker", "builder", "prune", "-af"], capture_output=True, check=True)

    def change_source(self, text: str) -> str:
        """A source-only change of the example, committed; answers the new commit."""
        source = self.root / "example" / "src" / "greeting.sh"
        source.write_text(source.read_text() + f"\n# {text}\n")
        return self.commit(text)

    def remove_local_images(self) -> None:
        """Forget every image this example made, as a fresh runner would not have them."""
        ids = subprocess.run(
            ["docker", "image", "ls", "-q", self.image], capture_output=True, text=True, check=True
        ).stdout.split()
        if ids:
            subprocess.run(["docker", "image", "rm", "-f", *sorted(set(ids))], capture_output=True, check=True)


def make_example(root: Path, registry: RegistryProcess, base_image: str, branch: str = "main") -> Example:
    copy_files(REPO, root, PROJECT_FILES)
    example = Example(root=root, registry=registry, base_image=base_image)
    example.git("init", "-q", "-b", branch)
    example.commit("example")
    return example
