"""Conveyor's job image: the image the generated GitLab CI jobs run in, `<registry image>/conveyor-job:<version>`,
with this very Conveyor, the Docker CLI and its compose v2 plugin, and git. `inv job-image` builds it
(conveyor.jobimage.build) from the Dockerfile shipped next to this module, without network inside the build
and without Docker Hub.

This module stays light (no docker, no settings import at run time): the settings and the GitLab CI file
name the image through `job_image_ref`."""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from conveyor.reference import ImageReference

if TYPE_CHECKING:
    from conveyor.config.settings import Settings

JOB_IMAGE_NAME = "conveyor-job"


def version_tag(text: str) -> str:
    """A package version as an image tag: a local version's `+` (not allowed in tags) becomes `-`."""
    return text.replace("+", "-")


def conveyor_version() -> str:
    """The version of the Conveyor that runs: the job image carries the same one."""
    return version("conveyor")


def job_image_ref(settings: Settings) -> ImageReference:
    """`<registry image>/conveyor-job:<Conveyor version>`: what `inv job-image` pushes and GitLab jobs run in."""
    return ImageReference.parse(f"{settings.registry_image}/{JOB_IMAGE_NAME}").with_tag(version_tag(conveyor_version()))
