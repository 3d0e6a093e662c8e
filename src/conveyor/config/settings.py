"""Settings: read once, in one place, into one frozen object.

Precedence, highest first: task flags > process environment > `.env` > `invoke.yaml` (`conveyor:`) >
defaults. GitLab's predefined variables are used where they exist; outside GitLab the commit and ref come
from git and the ref slug is computed by GitLab's rule. No other module reads `os.environ`."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from conveyor import tagnames
from conveyor.config import derived
from conveyor.config import specs as projectconfig
from conveyor.config.durations import ROLLOUT_MAX, parse_duration
from conveyor.config.specs import (
    DEFAULT_COVERAGE_REGEX,
    DeployTarget,
    EnvironmentSpec,
    JobSpec,
    PolicyRules,
    ProdImage,
    ReportSpec,
)
from conveyor.errors import BadReference, ConfigError
from conveyor.reference import ImageReference
from conveyor.slug import ref_slug

__all__ = [
    "DEFAULT_COVERAGE_REGEX",
    "SETTINGS",
    "DeployTarget",
    "EnvironmentSpec",
    "Given",
    "JobSpec",
    "Place",
    "ProdImage",
    "ReportSpec",
    "Settings",
]

GitLookup = Callable[[str], str | None]
"""Answers a git question ("commit", "branch", "origin" or "default_branch") for the project, or None outside
a git repository or when git does not know."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
Kind = Literal["text", "list", "duration", "count", "choice"]
REGISTRY_TIMEOUT_MAX = timedelta(hours=1)
_BOOLEAN = {"yes": "true", "true": "true", "on": "true", "1": "true", "no": "false", "false": "false", "off": "false"}
_BOOLEAN |= {"0": "false"}


@dataclass(frozen=True)
class Given:
    """A raw value and where it came from, as an error names it: `--timeout`, `CONVEYOR_ROLLOUT_TIMEOUT`,
    `.env line 3 (CONVEYOR_ROLLOUT_TIMEOUT)`, `invoke.yaml: conveyor.rollout_timeout`."""

    value: object
    source: str


@dataclass(frozen=True)
class Setting:
    """One scalar setting: its attribute name, environment variable, default and help text. Each is declared
    once, as a field of Settings (`setting(...)`); SETTINGS lists them in that order."""

    name: str
    env: str
    default: str
    help: str
    secret: bool = False
    kind: Kind = "text"
    choices: tuple[str, ...] = ()


def setting(
    env: str, default: str, help: str, secret: bool = False, kind: Kind = "text", choices: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A Settings field's metadata that makes it a setting: where it is read from, its default, help and
    type (`field(metadata=setting(...))`)."""
    return {
        "setting": {"env": env, "default": default, "help": help, "secret": secret, "kind": kind, "choices": choices}
    }


@dataclass(frozen=True)
class Place:
    """An environment Conveyor deploys to: its kube context (empty: the kubeconfig's current one),
    namespace (empty: the context's), Deployment containers, the tag promoted there after a rollout, how
    its deploy starts (`auto` on deployable branches, or `manual`) and its URL. The deletion guard asks
    every place before it deletes anything a cluster might run."""

    environment: str
    context: str
    namespace: str
    targets: tuple[DeployTarget, ...]
    promotion_tag: str
    when: str = "auto"
    url: str = ""

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
        return f"environment {self.environment} ({context}, {namespace})"


@dataclass(frozen=True)
class ProdNames:
    """One prod image's tags: the release `prod-<sha>` of this commit and the build cache `prod`
    (production's promotion tag). An environment's promotion tag is `promotion(place)`."""

    release: ImageReference
    cache: ImageReference

    def promotion(self, place: Place) -> ImageReference:
        """The tag `place` promotes after a verified rollout (`prod` for production, `prod-<env>` elsewhere)."""
        return self.release.with_tag(place.promotion_tag)


@dataclass(frozen=True)
class ImageNames:
    """Every image name Conveyor uses, derived in one place."""

    ci_commit: ImageReference
    ci_branch: ImageReference
    prod: Mapping[str, ProdNames]


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    registry: str = field(
        metadata=setting("CI_REGISTRY", "", "Registry host[:port] images are pushed to (required outside GitLab).")
    )
    registry_image: str = field(
        metadata=setting(
            "CI_REGISTRY_IMAGE",
            "",
            "Repository prefix of the project's images (default: <registry>/<origin's group/project>).",
        )
    )
    registry_user: str = field(
        metadata=setting("CI_REGISTRY_USER", "", "Registry user name (GitLab sets gitlab-ci-token).")
    )
    registry_password: str = field(
        repr=False, metadata=setting("CI_REGISTRY_PASSWORD", "", "Registry password or token.", secret=True)
    )
    job_token: str = field(
        repr=False,
        metadata=setting("CI_JOB_TOKEN", "", "GitLab job token (used as the registry password if none).", secret=True),
    )
    registry_access_token: str = field(
        repr=False,
        metadata=setting(
            "CONVEYOR_REGISTRY_ACCESS_TOKEN",
            "",
            "Personal/project access token for registry deletes (what a job token may not do).",
            secret=True,
        ),
    )
    registry_scheme: str = field(
        metadata=setting(
            "CONVEYOR_REGISTRY_SCHEME",
            "auto",
            "http or https for registry API calls; auto = http on loopback (as Docker does), else https.",
            kind="choice",
            choices=("auto", "http", "https"),
        )
    )
    registry_timeout: float = field(
        metadata=setting(
            "CONVEYOR_REGISTRY_TIMEOUT",
            "60",
            "Deadline for one registry operation, retries included (seconds, or 90s, 5m).",
            kind="duration",
        )
    )
    gitlab_api_url: str = field(
        metadata=setting("CI_API_V4_URL", "", "GitLab API (tag deletes through GitLab's tags API).")
    )
    gitlab_project_id: str = field(metadata=setting("CI_PROJECT_ID", "", "GitLab project id (for GitLab's tags API)."))
    commit_sha: str = field(metadata=setting("CI_COMMIT_SHA", "", "Commit being built (default: git rev-parse HEAD)."))
    ref_name: str = field(
        metadata=setting("CI_COMMIT_REF_NAME", "", "Branch or tag being built (default: the git branch).")
    )
    ref_slug: str = field(
        metadata=setting("CI_COMMIT_REF_SLUG", "", "URL-safe ref (default: computed by GitLab's rule).")
    )
    commit_branch: str = field(
        metadata=setting(
            "CI_COMMIT_BRANCH",
            "",
            "Branch being built; GitLab leaves it unset in tag pipelines (default outside GitLab: the git branch).",
        )
    )
    commit_tag: str = field(
        metadata=setting("CI_COMMIT_TAG", "", "Tag being built (GitLab sets it in tag pipelines, which never deploy).")
    )
    default_branch: str = field(
        metadata=setting(
            "CI_DEFAULT_BRANCH", "", "The project's default branch (default outside GitLab: origin's HEAD)."
        )
    )
    pipeline_source: str = field(
        metadata=setting(
            "CI_PIPELINE_SOURCE", "push", "What started the pipeline (GitLab's; `schedule` runs only the cleanup)."
        )
    )
    pipeline_id: str = field(
        metadata=setting("CI_PIPELINE_ID", "local", "Pipeline id, recorded in deploy change causes.")
    )
    compose_files: tuple[Path, ...] = field(
        metadata=setting(
            "CONVEYOR_COMPOSE_FILES",
            "",
            "Compose files for the CI image and test jobs, ':'-separated, relative to the project "
            "(default: compose's own, compose.yaml or docker-compose.yml and its override).",
            kind="list",
        )
    )
    prod_compose_files: tuple[Path, ...] = field(
        metadata=setting(
            "CONVEYOR_PROD_COMPOSE_FILES",
            "",
            "Compose files that build the prod images, ':'-separated, relative to the project "
            "(default: the compose files).",
            kind="list",
        )
    )
    deployable_branches: tuple[str, ...] = field(
        metadata=setting(
            "CONVEYOR_DEPLOYABLE_BRANCHES",
            "",
            "Branches (glob patterns, ':'-separated) whose pipelines build prod images and deploy "
            "(default: the project's default branch).",
            kind="list",
        )
    )
    compose_project: str = field(
        metadata=setting(
            "CONVEYOR_COMPOSE_PROJECT",
            "",
            "Compose project name (default: the compose files' name:, else the project directory's name).",
        )
    )
    ci_image_name: str = field(
        metadata=setting("CONVEYOR_CI_IMAGE_NAME", "ci", "Name of the CI image under the registry image.")
    )
    ci_service: str = field(metadata=setting("CONVEYOR_CI_SERVICE", "app", "Compose service that builds the CI image."))
    reports_dir: Path = field(metadata=setting("CONVEYOR_REPORTS_DIR", "reports", "Where JUnit reports are written."))
    docker_host: str = field(metadata=setting("DOCKER_HOST", "", "Docker engine address (default: the local socket)."))
    docker_tls_verify: str = field(
        metadata=setting("DOCKER_TLS_VERIFY", "", "Verify the engine's TLS certificate (dind).")
    )
    docker_cert_path: str = field(
        metadata=setting("DOCKER_CERT_PATH", "", "Client certificates for the engine (dind).")
    )
    docker_config: str = field(metadata=setting("DOCKER_CONFIG", "", "Docker client configuration directory."))
    kube_namespace: str = field(
        metadata=setting(
            "KUBE_NAMESPACE",
            "",
            "Kubernetes namespace of the environment being deployed (default: its own, else the context's).",
        )
    )
    kube_context: str = field(
        metadata=setting(
            "KUBE_CONTEXT",
            "",
            "Kubeconfig context of the environment being deployed, as GitLab's agent names it "
            "(default: its own, else the current context).",
        )
    )
    kubeconfig: str = field(
        metadata=setting("KUBECONFIG", "", "Kubeconfig file (GitLab's agent sets it; default ~/.kube/config).")
    )
    kubernetes_service_host: str = field(
        metadata=setting("KUBERNETES_SERVICE_HOST", "", "Set inside a pod: the in-cluster API server.")
    )
    kubernetes_service_port: str = field(
        metadata=setting("KUBERNETES_SERVICE_PORT", "", "Set inside a pod: the in-cluster API port.")
    )
    environment_name: str = field(
        metadata=setting(
            "CI_ENVIRONMENT_NAME",
            "",
            "Environment to deploy (GitLab sets it in a deploy job; default: the only environment, or the first "
            "automatic one; without conveyor.environments it names the one environment, `production`).",
        )
    )
    rollback: str = field(
        metadata=setting(
            "CONVEYOR_ROLLBACK",
            "auto",
            "Roll back a failed deploy: true, false, or auto (on in GitLab CI, off elsewhere).",
            kind="choice",
            choices=("auto", "true", "false"),
        )
    )
    rollout_timeout: float = field(
        metadata=setting(
            "CONVEYOR_ROLLOUT_TIMEOUT",
            "600",
            "How long to wait for a rollout (seconds, or 90s, 5m, 1h).",
            kind="duration",
        )
    )
    keep_releases: int = field(
        metadata=setting(
            "CONVEYOR_KEEP_RELEASES",
            "3",
            "The newest prod-<sha> releases of each prod image always kept, for rollback (at least 1).",
            kind="count",
        )
    )
    gitlab_ci: str = field(metadata=setting("GITLAB_CI", "", "Set to true by GitLab: log sections, rollback default."))
    job_image: str = field(
        metadata=setting(
            "CONVEYOR_JOB_IMAGE", "", "Image the generated GitLab jobs run in (default: <registry image>/job:latest)."
        )
    )
    dind_image: str = field(
        metadata=setting("CONVEYOR_DIND_IMAGE", "docker:28-dind", "Docker-in-Docker service of the GitLab jobs.")
    )
    test_jobs: tuple[JobSpec, ...]
    prod_images: tuple[ProdImage, ...]
    deploy_targets: tuple[DeployTarget, ...]
    environments: tuple[EnvironmentSpec, ...] = ()
    cleanup_policy: tuple[PolicyRules, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)  # the process's

    def source(self, name: str) -> str:
        """Where a setting's value came from, as errors name it."""
        return self.sources.get(name) or next(s.env for s in SETTINGS if s.name == name)

    @functools.cached_property
    def images(self) -> ImageNames:
        """Every image name, derived once from the settings."""
        ci = ImageReference.parse(f"{self.registry_image}/{self.ci_image_name}")
        prod = {}
        for image in self.prod_images:
            repository = ImageReference.parse(f"{self.registry_image}/{image.name}")
            prod[image.name] = ProdNames(
                release=repository.with_tag(tagnames.release_tag(self.commit_sha)),
                cache=repository.with_tag(tagnames.GENERIC),
            )
        return ImageNames(ci_commit=ci.with_tag(self.commit_sha), ci_branch=ci.with_tag(self.ref_slug), prod=prod)

    @functools.cached_property
    def places(self) -> tuple[Place, ...]:
        """Every environment Conveyor deploys to, in deploy order, which the deletion guard asks. Without
        conveyor.environments: one (CI_ENVIRONMENT_NAME, default production), none without deploy targets.
        KUBE_CONTEXT and KUBE_NAMESPACE (and --context, --namespace) apply to the environment being deployed
        only; every other keeps its own."""
        if not self.environments:
            if not self.deploy_targets:
                return ()
            name = self.environment_name or tagnames.PRODUCTION
            spec = EnvironmentSpec(name=name, when="auto")
            return (self._place(spec, chosen=True),)
        chosen = self._chosen_environment()
        return tuple(self._place(spec, chosen=spec.name == chosen) for spec in self.environments)

    def _place(self, spec: EnvironmentSpec, chosen: bool) -> Place:
        return Place(
            environment=spec.name,
            context=(self.kube_context if chosen else "") or spec.context,
            namespace=(self.kube_namespace if chosen else "") or spec.namespace,
            targets=self.deploy_targets if spec.targets is None else spec.targets,
            promotion_tag=tagnames.promotion_tag(spec.name),
            when=spec.when,
            url=spec.url,
        )

    def _chosen_environment(self) -> str:
        """The environment being deployed: CI_ENVIRONMENT_NAME (--environment), else the only one, else the
        first that starts automatically; empty when every one starts by hand and none is named."""
        if self.environment_name or len(self.environments) == 1:
            return self.environment_name or self.environments[0].name
        return next((spec.name for spec in self.environments if spec.when == "auto"), "")

    @property
    def deploy_place(self) -> Place:
        """The environment `inv deploy` deploys to (see `places`)."""
        if not self.places:
            raise ConfigError("no deploy targets configured", "add conveyor.deploy_targets to invoke.yaml")
        chosen = self._chosen_environment() if self.environments else self.places[0].environment
        for place in self.places:
            if place.environment == chosen:
                return place
        names = ", ".join(place.environment for place in self.places)
        raise ConfigError(
            f"every environment ({names}) is deployed by hand and none was named",
            "name one: inv deploy --environment NAME (GitLab sets CI_ENVIRONMENT_NAME)",
        )

    @property
    def deploy_patterns(self) -> tuple[str, ...]:
        """The deployable branch patterns: conveyor.deployable_branches, else the default branch (none when
        it is unknown)."""
        return self.deployable_branches or ((self.default_branch,) if self.default_branch else ())

    @property
    def in_gitlab(self) -> bool:
        return self.gitlab_ci == "true"

    @property
    def rollback_enabled(self) -> bool:
        return self.rollback == "true" or (self.rollback == "auto" and self.in_gitlab)

    @property
    def timeout_seconds(self) -> float:
        return self.rollout_timeout

    @property
    def deployable(self) -> bool:
        """Whether this pipeline may build prod images and deploy: its branch (CI_COMMIT_BRANCH, the
        variable the generated rules test; tag pipelines have none) matches a deployable branch glob."""
        return bool(self.commit_branch) and any(
            fnmatch.fnmatchcase(self.commit_branch, pattern) for pattern in self.deploy_patterns
        )

    def why_not_deployable(self) -> str:
        """Why this pipeline does not deploy, in one phrase."""
        if self.commit_tag:
            return f"{self.ref_name!r} is a tag, not a branch: tag pipelines do not deploy"
        if not self.commit_branch:
            return f"{self.source('commit_branch')} is not set: only branch pipelines deploy (GitLab sets it in those)"
        if not self.deploy_patterns:
            return (
                f"the default branch is unknown, so no branch is deployable ({self.source('default_branch')} "
                "is not set and origin's HEAD is not known)"
            )
        return f"{self.commit_branch!r} is not a deployable branch ({', '.join(self.deploy_patterns)})"

    @property
    def scheduled(self) -> bool:
        """A scheduled pipeline (CI_PIPELINE_SOURCE=schedule) runs only the scheduled cleanup."""
        return self.pipeline_source == "schedule"

    @property
    def password(self) -> str:
        """The registry secret: CI_REGISTRY_PASSWORD, else the job token."""
        return self.registry_password or self.job_token

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.registry_password, self.job_token, self.registry_access_token) if s)

    @property
    def scheme(self) -> str:
        """http for loopback registries (Docker's own default), https elsewhere, unless set."""
        if self.registry_scheme != "auto":
            return self.registry_scheme
        host = self.registry.rsplit(":", 1)[0] if not self.registry.startswith("[") else self.registry
        loopback = host in ("localhost", "[::1]") or host.startswith("[::1]") or host.startswith("127.")
        return "http" if loopback else "https"

    @property
    def docker_environment(self) -> dict[str, str]:
        """DOCKER_* variables as the settings give them (from the environment, .env or invoke.yaml), for the
        docker SDK (its from_env reads only what it is given) and every subprocess."""
        pairs = {
            "DOCKER_HOST": self.docker_host,
            "DOCKER_TLS_VERIFY": self.docker_tls_verify,
            "DOCKER_CERT_PATH": self.docker_cert_path,
            "DOCKER_CONFIG": self.docker_config,
        }
        return {key: value for key, value in pairs.items() if value}

    @property
    def docker_config_dir(self) -> Path:
        """The user's Docker client configuration: DOCKER_CONFIG, else ~/.docker (as the Docker CLI)."""
        return Path(self.docker_config) if self.docker_config else Path.home() / ".docker"

    def report_file(self, job: JobSpec, kind: str) -> Path:
        """Where a test job's report lands on the runner: `<reports>/<job>/junit.xml` or `coverage.xml` for the
        files it declares (copied out of its container), `<reports>/junit-<job>.xml` for the one-case JUnit
        report Conveyor writes for a job that declares none."""
        if kind == "junit" and not job.reports.junit:
            return self.reports_dir / f"junit-{job.name}.xml"
        return self.reports_dir / job.name / f"{kind}.xml"

    def job(self, name: str) -> JobSpec:
        for job in self.test_jobs:
            if job.name == name:
                return job
        known = ", ".join(j.name for j in self.test_jobs) or "none"
        raise ConfigError(f"unknown test job {name!r}", f"configured jobs: {known} (conveyor.test_jobs in invoke.yaml)")


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(name=f.name, **f.metadata["setting"]) for f in fields(Settings) if "setting" in f.metadata
)


def load_settings(
    project_dir: Path,
    yaml_config: Mapping[str, Any],
    environ: Mapping[str, str],
    dotenv: Mapping[str, Given | str | None],
    git: GitLookup,
    flags: Mapping[str, Given | str | None] | None = None,
) -> Settings:
    """Build the Settings from every source, highest precedence first, typed and validated; every error is
    one line naming where the value came from (the flag, the variable, or the file and key)."""
    section = projectconfig.section(yaml_config)
    projectconfig.check_keys(section, (*(s.name for s in SETTINGS), *projectconfig.STRUCTURED))
    chosen = {setting.name: _choose(setting, section, environ, dotenv, flags or {}) for setting in SETTINGS}
    values = {name: _typed(setting, chosen[name]) for name, setting in zip(chosen, SETTINGS, strict=True)}
    values["registry_image"] = values["registry_image"] or derived.registry_image(values["registry"], git("origin"))
    values["job_image"] = values["job_image"] or f"{values['registry_image']}/{_job_image()}"
    values["compose_files"] = values["compose_files"] or derived.compose_files(project_dir)
    values["prod_compose_files"] = values["prod_compose_files"] or values["compose_files"]
    files = tuple(project_dir / p for p in values["compose_files"])
    values["compose_project"] = values["compose_project"] or derived.compose_project(files, project_dir)
    values["commit_sha"] = values["commit_sha"] or _from_git(git, "commit")
    values["ref_name"] = values["ref_name"] or _from_git(git, "branch")
    values["ref_slug"] = values["ref_slug"] or ref_slug(values["ref_name"])
    in_gitlab = values["gitlab_ci"] == "true"
    if not (in_gitlab or values["commit_tag"]):
        values["commit_branch"] = values["commit_branch"] or values["ref_name"]
    values["default_branch"] = values["default_branch"] or (git("default_branch") or "").removeprefix("origin/")
    settings = Settings(
        project_dir=project_dir,
        compose_files=tuple(project_dir / p for p in values.pop("compose_files")),
        prod_compose_files=tuple(project_dir / p for p in values.pop("prod_compose_files")),
        prod_images=projectconfig.prod_images(section.get("prod_images")),
        deploy_targets=projectconfig.deploy_targets(section.get("deploy_targets")),
        environments=projectconfig.environments(section.get("environments")),
        cleanup_policy=projectconfig.cleanup_policy(section.get("cleanup_policy")),
        reports_dir=project_dir / values.pop("reports_dir"),
        test_jobs=projectconfig.test_jobs(section.get("test_jobs"), values["ci_service"]),
        sources={name: given.source for name, given in chosen.items()},
        environ=dict(environ),
        **values,
    )
    _validate(settings)
    return settings


def _choose(
    setting: Setting,
    section: Mapping[str, Any],
    environ: Mapping[str, str],
    dotenv: Mapping[str, Given | str | None],
    flags: Mapping[str, Given | str | None],
) -> Given:
    """The value that wins by precedence (flags > environment > .env > invoke.yaml > default)."""
    candidates = (
        _given(flags.get(setting.name), f"--{setting.name.replace('_', '-')}"),
        _given(environ.get(setting.env), setting.env),
        _given(dotenv.get(setting.env), f".env ({setting.env})"),
        _given(section.get(setting.name), projectconfig.key(setting.name)),
    )
    return next((c for c in candidates if c is not None), Given(setting.default, f"{setting.env} (default)"))


def _given(value: Given | object, source: str) -> Given | None:
    if isinstance(value, Given):
        return value if value.value not in (None, "") else None
    return None if value in (None, "") else Given(value, source)


def _typed(setting: Setting, given: Given) -> Any:
    """The value as the setting's kind: text, a list, seconds, a count, or one of its choices."""
    value, source = given.value, given.source
    if setting.kind == "list":
        if isinstance(value, list | tuple):
            return projectconfig.texts(value, setting.name)
        return tuple(part for part in _text(value, source).split(":") if part)
    if setting.kind == "duration":
        maximum = ROLLOUT_MAX if setting.name == "rollout_timeout" else REGISTRY_TIMEOUT_MAX
        return parse_duration(value, source, maximum).total_seconds()
    if setting.kind == "count":
        text = _text(value, source)
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"{source} {value!r} is not a whole number of at least 1", f"fix {source}")
        return int(text)
    if setting.kind == "choice":
        text = _text(value, source).lower()
        text = _BOOLEAN.get(text, text) if "true" in setting.choices else text
        if text not in setting.choices:
            raise ConfigError(f"{source} {value!r} is not one of {', '.join(setting.choices)}", f"fix {source}")
        return text
    return _text(value, source)


def _text(value: object, source: str) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if not isinstance(value, str | int | float):
        raise ConfigError(f"{source} must be a single value, not {type(value).__name__}", f"fix {source}")
    return str(value)


def _job_image() -> str:
    """`conveyor-job:<Conveyor's version>`: the image GitLab runs is the one built from this Conveyor."""
    from conveyor.jobimage import JOB_IMAGE_NAME, conveyor_version, version_tag

    return f"{JOB_IMAGE_NAME}:{version_tag(conveyor_version())}"


def _from_git(git: GitLookup, what: str) -> str:
    value = git(what)
    if not value:
        variable = "CI_COMMIT_SHA" if what == "commit" else "CI_COMMIT_REF_NAME"
        raise ConfigError(
            f"cannot tell the {what}: this is not a git repository (or HEAD is detached) and {variable} is not set",
            f"run inside a git checkout on a branch, or set {variable}",
        )
    return value


def _validate(settings: Settings) -> None:
    source = settings.source
    if not tagnames.is_commit(settings.commit_sha):
        raise ConfigError(
            f"{source('commit_sha')} {settings.commit_sha!r} is not a commit SHA",
            "use 7 to 64 lower-case hex characters",
        )
    if not settings.ref_slug:
        raise ConfigError(f"ref {settings.ref_name!r} has an empty slug", "set CI_COMMIT_REF_NAME to a branch name")
    _check_environments(settings)
    if not _NAME.match(settings.compose_project):
        raise ConfigError(
            f"{source('compose_project')} {settings.compose_project!r} is not a compose project name",
            "use lower-case letters, digits, '-', '_' and '.'",
        )
    _check_image(source("registry_image"), settings.registry_image)
    _check_image(source("ci_image_name"), f"{settings.registry_image}/{settings.ci_image_name}")
    if settings.reports_dir.exists() and not settings.reports_dir.is_dir():
        raise ConfigError(
            f"{source('reports_dir')}: {settings.reports_dir} is a file, not a directory",
            "point it at a directory (or remove the file)",
        )
    _check_targets(settings)
    for prod in settings.prod_images:
        _check_image(projectconfig.key("prod_images", prod.name), f"{settings.registry_image}/{prod.name}")
    images = settings.images
    if images.ci_commit.domain != settings.registry:
        raise ConfigError(
            f"{source('registry_image')} {settings.registry_image!r} is not in registry {settings.registry!r} "
            f"({source('registry')})",
            "make CI_REGISTRY_IMAGE start with CI_REGISTRY",
        )
    for job in settings.test_jobs:
        if job.coverage_regex:
            from conveyor.config.patterns import compile_pattern  # RE2: not for `inv --list`

            compile_pattern(job.coverage_regex, projectconfig.key("test_jobs", job.name, "coverage"))


def _check_environments(settings: Settings) -> None:
    """Every environment's name gives a promotion tag of its own that is not a release; a named environment
    (CI_ENVIRONMENT_NAME, --environment) is one of them; each has deploy targets."""
    source = settings.source
    names = [spec.name for spec in settings.environments]
    if settings.environment_name and names and settings.environment_name not in names:
        raise ConfigError(
            f"{source('environment_name')} {settings.environment_name!r} is not an environment of this project",
            f"use one of: {', '.join(names)} ({projectconfig.key('environments')})",
        )
    promoted: dict[str, str] = {}
    for name in names or [settings.environment_name or tagnames.PRODUCTION]:
        where = projectconfig.key("environments", name) if names else source("environment_name")
        promotion = tagnames.promotion_tag(name)
        if promotion == tagnames.RELEASE_PREFIX or tagnames.is_release(promotion):
            raise ConfigError(
                f"{where} {name!r} gives the promotion tag {promotion!r}, which is not a name or looks like a release",
                "name the environment with letters (production, staging, review-x)",
            )
        if promotion in promoted:
            raise ConfigError(
                f"{where}: environments {promoted[promotion]!r} and {name!r} share the promotion tag {promotion!r}",
                "give the environments names that differ in more than case and punctuation",
            )
        promoted[promotion] = name
    for spec in settings.environments:
        if not (settings.deploy_targets if spec.targets is None else spec.targets):
            raise ConfigError(
                f"{projectconfig.key('environments', spec.name)} has no deploy targets",
                f"set {projectconfig.key('deploy_targets')} or its own deploy_targets",
            )


def _check_targets(settings: Settings) -> None:
    """Every deploy target (of every environment) runs a configured prod image."""
    prod_names = {image.name for image in settings.prod_images}
    lists: list[tuple[tuple[object, ...], tuple[DeployTarget, ...]]] = [(("deploy_targets",), settings.deploy_targets)]
    lists += [(("environments", s.name, "deploy_targets"), s.targets) for s in settings.environments if s.targets]
    for where, targets in lists:
        for index, target in enumerate(targets):
            if target.image not in prod_names:
                raise ConfigError(
                    f"{projectconfig.key(*where, index, 'image')} {target.image!r} is not a prod image",
                    f"use one of: {', '.join(sorted(prod_names)) or 'none'} ({projectconfig.key('prod_images')})",
                )


def _check_image(variable: str, text: str) -> None:
    try:
        ImageReference.parse(text)
    except BadReference as exc:
        raise ConfigError(f"{variable} gives a bad image name: {exc.problem}: {exc.hint}", f"fix {variable}") from None


def render_env_example() -> str:
    """The text of `.env.example`, from the settings table (a unit test keeps the file in step)."""
    lines = [
        "# Conveyor's settings. Copy to .env (git-ignored) for local runs; in GitLab CI the CI_* variables are",
        "# predefined. Precedence: task flags > process environment > .env > invoke.yaml (conveyor:) > defaults.",
        "# Every line is commented out: the value shown is the default (empty = derived, see the comment).",
        "",
    ]
    for setting in SETTINGS:
        lines.append(f"# {setting.help}" + (" Secret: never printed." if setting.secret else ""))
        lines += [f"# {setting.env}={setting.default}", ""]
    return "\n".join(lines)
