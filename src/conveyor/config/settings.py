"""Settings: every value Conveyor reads, in one frozen object, read once (conveyor.config.loading) and checked
(conveyor.config.validation). The scalar settings are declared in conveyor.config.schema; the structured
ones (test jobs, prod images, deploy targets, environments, cleanup policies) are domain objects
(conveyor.config.model). Nothing here does I/O: what is derived (image names, environments with their
overrides, the deploy rules) is computed from the fields."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from conveyor import tagnames
from conveyor.config.model import (
    CleanupPolicy,
    DeployTarget,
    Environment,
    GuardSettings,
    ImageNames,
    JobSpec,
    ProdImage,
    image_names,
)
from conveyor.config.schema import BY_NAME
from conveyor.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """The settings of one run; each scalar field is the setting of that name in conveyor.config.schema."""

    project_dir: Path
    registry: str
    registry_image: str
    registry_user: str
    registry_password: str = field(repr=False)
    job_token: str = field(repr=False)
    registry_access_token: str = field(repr=False)
    registry_scheme: str
    registry_timeout: float
    gitlab_api_url: str
    gitlab_project_id: str
    commit_sha: str
    ref_name: str
    ref_slug: str
    commit_branch: str
    commit_tag: str
    default_branch: str
    pipeline_source: str
    pipeline_id: str
    compose_files: tuple[Path, ...]
    prod_compose_files: tuple[Path, ...]
    deployable_branches: tuple[str, ...]
    compose_project: str
    ci_image_name: str
    ci_service: str
    reports_dir: Path
    docker_host: str
    docker_tls_verify: str
    docker_cert_path: str
    docker_config: str
    kube_namespace: str
    kube_context: str
    kubeconfig: str
    kubernetes_service_host: str
    kubernetes_service_port: str
    environment_name: str
    rollback: str
    rollout_timeout: float
    keep_releases: int
    gitlab_ci: str
    job_image: str
    dind_image: str
    test_jobs: tuple[JobSpec, ...]
    prod_images: tuple[ProdImage, ...]
    deploy_targets: tuple[DeployTarget, ...]
    declared_environments: tuple[Environment, ...] = ()
    cleanup_policy: tuple[CleanupPolicy, ...] = ()
    guard: GuardSettings = field(default_factory=GuardSettings)
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)  # the process's

    def source(self, name: str) -> str:
        """Where a setting's value came from, as errors name it."""
        return self.sources.get(name) or BY_NAME[name].env

    @functools.cached_property
    def images(self) -> ImageNames:
        """Every image name, derived once from the settings."""
        return image_names(self.registry_image, self.ci_image_name, self.commit_sha, self.ref_slug, self.prod_images)

    @functools.cached_property
    def environments(self) -> tuple[Environment, ...]:
        """Every environment Conveyor deploys to, in deploy order, which the deletion guard asks. Without
        conveyor.environments: one (CI_ENVIRONMENT_NAME, default production), none without deploy targets.
        KUBE_CONTEXT and KUBE_NAMESPACE (and --context, --namespace) apply to the environment being deployed
        only; every other keeps its own."""
        if not self.declared_environments:
            if not self.deploy_targets:
                return ()
            declared = Environment(name=self.environment_name or tagnames.PRODUCTION, when="auto")
            return (self._resolved(declared, chosen=True),)
        chosen = self._chosen_environment()
        return tuple(self._resolved(declared, declared.name == chosen) for declared in self.declared_environments)

    def _resolved(self, declared: Environment, chosen: bool) -> Environment:
        context, namespace = declared.context, declared.namespace
        overrides: list[str] = []
        if chosen:
            context = self._overridden("kube_context", "context", declared.name, context, overrides)
            namespace = self._overridden("kube_namespace", "namespace", declared.name, namespace, overrides)
        return replace(
            declared,
            context=context,
            namespace=namespace,
            targets=declared.targets if declared.own_targets else self.deploy_targets,
            overrides=tuple(overrides),
        )

    def _overridden(self, name: str, what: str, environment: str, own: str, said: list[str]) -> str:
        """The environment's `what` (context or namespace): a value of setting `name` replaces its `own` when
        it comes from a flag, or in a GitLab job (GitLab scopes the variable to the job's environment); from
        the process or .env outside GitLab, a value contradicting its own is refused (issue: a staging
        namespace left in .env must not send production there). Where it replaces the own, it is `said`."""
        value = str(getattr(self, name))
        if not value or value == own:
            return own
        source = self.source(name)
        if own and not source.startswith("--") and self.gitlab_ci != "true":
            raise ConfigError(
                f"{source} sets {what} {value!r}, but environment {environment} has its own {what} {own!r} "
                f"in invoke.yaml",
                f"unset {BY_NAME[name].env} (in the shell or .env), or pass --{what} {value} to deploy there anyway",
            )
        said.append(f"{what} from {source}")
        return value

    def _chosen_environment(self) -> str:
        """The environment being deployed: CI_ENVIRONMENT_NAME (--environment), else the only one, else the
        first that starts automatically; empty when every one starts by hand and none is named."""
        declared = self.declared_environments
        if self.environment_name or len(declared) == 1:
            return self.environment_name or declared[0].name
        return next((environment.name for environment in declared if environment.when == "auto"), "")

    @property
    def deploy_environment(self) -> Environment:
        """The environment `inv deploy` deploys to (see `environments`)."""
        if not self.environments:
            raise ConfigError("no deploy targets configured", "add conveyor.deploy_targets to invoke.yaml")
        chosen = self._chosen_environment() if self.declared_environments else self.environments[0].name
        for environment in self.environments:
            if environment.name == chosen:
                return environment
        names = ", ".join(environment.name for environment in self.environments)
        raise ConfigError(
            f"every environment ({names}) is deployed by hand and none was named",
            "name one: inv deploy --environment NAME (GitLab sets CI_ENVIRONMENT_NAME)",
        )

    def for_environment(self, name: str) -> Settings:
        """These settings with `name` as the environment being deployed (a pipeline's deploy job)."""
        return replace(self, environment_name=name)

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

    def job(self, name: str) -> JobSpec:
        for job in self.test_jobs:
            if job.name == name:
                return job
        known = ", ".join(j.name for j in self.test_jobs) or "none"
        raise ConfigError(f"unknown test job {name!r}", f"configured jobs: {known} (conveyor.test_jobs in invoke.yaml)")
