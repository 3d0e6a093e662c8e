"""The domain objects the stages work with, read from the settings: test jobs and their reports, prod images,
deploy targets, environments, cleanup policies, and the image names derived from them. Plain frozen values
with no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from conveyor import tagnames
from conveyor.reference import ImageReference

DEFAULT_COVERAGE_REGEX = r"^\s*Lines:\s*(\d+(?:\.\d+)?)%"


@dataclass(frozen=True)
class ReportSpec:
    """The report files a test job writes inside its container (paths as the job sees them, relative to its
    working directory or absolute), copied out after the run: a JUnit file, a coverage file and its format."""

    junit: str = ""
    coverage: str = ""
    coverage_format: str = ""

    def files(self) -> dict[str, str]:
        """kind -> the path inside the container, for the declared ones: `junit`, `coverage`."""
        return {kind: path for kind, path in (("junit", self.junit), ("coverage", self.coverage)) if path}


@dataclass(frozen=True)
class JobSpec:
    """A test job: a command run in a compose service of the CI image, and the reports it writes."""

    name: str
    command: str
    service: str
    services: tuple[str, ...] = ()
    coverage_regex: str = ""
    reports: ReportSpec = ReportSpec()

    @property
    def no_deps(self) -> bool:
        """Jobs that need no service run with `--no-deps`."""
        return not self.services


def report_file(reports_dir: Path, job: JobSpec, kind: str) -> Path:
    """Where a test job's report lands on the runner: `<reports>/<job>/junit.xml` or `coverage.xml` for the
    files it declares (copied out of its container), `<reports>/junit-<job>.xml` for the one-case JUnit
    report Conveyor writes for a job that declares none."""
    if kind == "junit" and not job.reports.junit:
        return reports_dir / f"junit-{job.name}.xml"
    return reports_dir / job.name / f"{kind}.xml"


@dataclass(frozen=True)
class ProdImage:
    """A prod image: its name under the registry image and the compose service that builds it."""

    name: str
    service: str


@dataclass(frozen=True)
class DeployTarget:
    """A Deployment container that runs a prod image."""

    deployment: str
    container: str
    image: str


@dataclass(frozen=True)
class Environment:
    """An environment Conveyor deploys to: how its deploy starts (`auto` on deployable branches, or
    `manual`), its kube context (empty: the kubeconfig's current one) and namespace (empty: the context's),
    its URL, and its deploy targets. `own_targets`: invoke.yaml gives it targets of its own (else it takes
    conveyor.deploy_targets). The deletion guard asks every environment before it deletes anything a
    cluster might run."""

    name: str
    when: str = "auto"
    context: str = ""
    namespace: str = ""
    url: str = ""
    targets: tuple[DeployTarget, ...] = ()
    own_targets: bool = False
    overrides: tuple[str, ...] = ()  # where a context or namespace other than its own came from, as said

    @property
    def promotion_tag(self) -> str:
        """The tag promoted here after a verified rollout: `prod` for production, `prod-<env>` elsewhere."""
        return tagnames.promotion_tag(self.name)

    @property
    def images(self) -> tuple[str, ...]:
        """The prod images the targets run, each once, in the targets' order."""
        return tuple(dict.fromkeys(target.image for target in self.targets))

    @property
    def deployments(self) -> tuple[str, ...]:
        """The Deployments of the targets, each once, in the targets' order."""
        return tuple(dict.fromkeys(target.deployment for target in self.targets))

    def describe(self) -> str:
        context = f"context {self.context}" if self.context else "the current context"
        namespace = f"namespace {self.namespace}" if self.namespace else "its namespace"
        overrides = "".join(f"; {override}" for override in self.overrides)
        return f"environment {self.name} ({context}, {namespace}{overrides})"


@dataclass(frozen=True)
class CleanupPolicy:
    """Cleanup rules for one image under the registry image (empty: the CI image), GitLab-style, from
    cleanup.policy's flags or conveyor.cleanup_policy: tags matching `keep_regex` stay; of those matching
    `delete_regex` (empty: none), the `keep_newest` newest stay and the rest go if older than `older_than`
    (or at once when no age is set); `gone_branches` also deletes the tags of branches origin no longer has.
    The one policy type from invoke.yaml to planning (conveyor.guard.policy)."""

    image: str = ""
    keep_regex: str = ""
    delete_regex: str = ""
    keep_newest: int | None = None
    older_than: timedelta | None = None
    gone_branches: bool = False
    older_than_text: str = field(default="", compare=False)  # as the user wrote it: `30d`

    @property
    def needs_ages(self) -> bool:
        """Whether planning reads creation times (a count or an age applies to the delete regex's tags)."""
        return bool(self.delete_regex) and (self.keep_newest is not None or self.older_than is not None)

    @property
    def has_rules(self) -> bool:
        """Whether any rule is set (the image alone is not a rule)."""
        return (
            self.keep_regex != ""
            or self.delete_regex != ""
            or self.keep_newest is not None
            or (self.older_than is not None or self.gone_branches)
        )


@dataclass(frozen=True)
class GuardSettings:
    """Where the deletion guard looks (invoke.yaml's `guard:`): `contexts` replaces the default contexts
    (every context of the kubeconfig in GitLab CI, the environments' elsewhere; `all_contexts`: every one
    everywhere); `namespaces` are listed where a cluster-wide list is forbidden, beside every environment's
    own; `ci_images`: the CI image's tags are weighed against the clusters too (review apps run them)."""

    contexts: tuple[str, ...] | None = None
    all_contexts: bool = False
    namespaces: tuple[str, ...] = ()
    ci_images: bool = False


@dataclass(frozen=True)
class ProdNames:
    """One prod image's tags: the release `prod-<sha>` of this commit and the build cache `prod`
    (production's promotion tag). An environment's promotion tag is `promotion(environment)`."""

    release: ImageReference
    cache: ImageReference

    def promotion(self, environment: Environment) -> ImageReference:
        """The tag `environment` promotes after a verified rollout."""
        return self.release.with_tag(environment.promotion_tag)


@dataclass(frozen=True)
class ImageNames:
    """Every image name Conveyor uses, derived in one place."""

    ci_commit: ImageReference
    ci_branch: ImageReference
    prod: Mapping[str, ProdNames]


def image_names(
    registry_image: str, ci_image_name: str, commit: str, slug: str, prods: tuple[ProdImage, ...]
) -> ImageNames:
    """The CI image's commit and branch tags and each prod image's release and cache tags."""
    ci = ImageReference.parse(f"{registry_image}/{ci_image_name}")
    prod = {}
    for image in prods:
        repository = ImageReference.parse(f"{registry_image}/{image.name}")
        prod[image.name] = ProdNames(
            release=repository.with_tag(tagnames.release_tag(commit)), cache=repository.with_tag(tagnames.GENERIC)
        )
    return ImageNames(ci_commit=ci.with_tag(commit), ci_branch=ci.with_tag(slug), prod=prod)
