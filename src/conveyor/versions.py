"""Conveyor's own version and the job image named after it (`conveyor-job:<version>`): what the settings'
default job image, the generated GitLab jobs and `inv job-image` all agree on."""

from __future__ import annotations

from importlib.metadata import version

from conveyor.reference import ImageReference

JOB_IMAGE_NAME = "conveyor-job"


def version_tag(text: str) -> str:
    """A package version as an image tag: a local version's `+` (not allowed in tags) becomes `-`."""
    return text.replace("+", "-")


def conveyor_version() -> str:
    """The version of the Conveyor that runs: the job image carries the same one."""
    return version("conveyor")


def job_image_name() -> str:
    """`conveyor-job:<Conveyor's version>`: the image GitLab runs is the one built from this Conveyor."""
    return f"{JOB_IMAGE_NAME}:{version_tag(conveyor_version())}"


def job_image_ref(registry_image: str) -> ImageReference:
    """`<registry image>/conveyor-job:<Conveyor version>`: what `inv job-image` pushes and GitLab jobs run in."""
    return ImageReference.parse(f"{registry_image}/{JOB_IMAGE_NAME}").with_tag(version_tag(conveyor_version()))
