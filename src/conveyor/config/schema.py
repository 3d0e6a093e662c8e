"""The settings Conveyor reads, declared once: each one's attribute name, environment variable, default, kind,
whether it is a secret, and its documentation (a help line for `.env.example`, and the README's settings
table: how the default is described and what the setting means). Loading (conveyor.config.loading) reads
them by precedence; `.env.example` and the README's table are rendered from this table
(conveyor.config.rendering), and a unit test keeps both files in step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "list", "duration", "count", "choice"]


@dataclass(frozen=True)
class Setting:
    """One scalar setting. `default` is the raw default ("" = derived: `default_doc` says how); `help` is
    its line in `.env.example`; `meaning` (default: `help`) its README column."""

    name: str
    env: str
    default: str
    help: str
    secret: bool = False
    kind: Kind = "text"
    choices: tuple[str, ...] = ()
    default_doc: str = ""
    meaning: str = ""

    @property
    def key(self) -> str:
        """The setting's key in invoke.yaml's `conveyor:` section."""
        return self.name

    @property
    def documented_default(self) -> str:
        return self.default_doc or (f"`{self.default}`" if self.default else "—")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "registry",
        "CI_REGISTRY",
        "",
        "Registry host[:port] images are pushed to (required outside GitLab).",
        default_doc="— (required outside GitLab)",
        meaning="registry host[:port]",
    ),
    Setting(
        "registry_image",
        "CI_REGISTRY_IMAGE",
        "",
        "Repository prefix of the project's images (default: <registry>/<origin's group/project>).",
        default_doc="`<registry>/<group/project of origin's URL>`",
        meaning="repository prefix of the project's images; must be inside `CI_REGISTRY`",
    ),
    Setting(
        "registry_user",
        "CI_REGISTRY_USER",
        "",
        "Registry user name (GitLab sets gitlab-ci-token).",
        meaning="registry user (`gitlab-ci-token` in GitLab)",
    ),
    Setting(
        "registry_password",
        "CI_REGISTRY_PASSWORD",
        "",
        "Registry password or token.",
        secret=True,
        meaning="registry password or token; secret",
    ),
    Setting(
        "job_token",
        "CI_JOB_TOKEN",
        "",
        "GitLab job token (used as the registry password if none).",
        secret=True,
        meaning="GitLab job token, used as the password when no password is set; secret",
    ),
    Setting(
        "registry_access_token",
        "CONVEYOR_REGISTRY_ACCESS_TOKEN",
        "",
        "Personal/project access token for registry deletes (what a job token may not do).",
        secret=True,
        meaning="personal/project access token, for deletes a job token may not do; secret",
    ),
    Setting(
        "registry_timeout",
        "CONVEYOR_REGISTRY_TIMEOUT",
        "60",
        "Deadline for one registry operation, retries included (seconds, or 90s, 5m).",
        kind="duration",
        meaning="deadline for one registry operation, retries included (a duration)",
    ),
    Setting(
        "registry_scheme",
        "CONVEYOR_REGISTRY_SCHEME",
        "auto",
        "http or https for registry API calls; auto = http on loopback (as Docker does), else https.",
        kind="choice",
        choices=("auto", "http", "https"),
        meaning="`http`/`https` for registry API calls; `auto`: http on loopback (as Docker does), else https",
    ),
    Setting(
        "gitlab_api_url",
        "CI_API_V4_URL",
        "",
        "GitLab API (tag deletes through GitLab's tags API).",
        meaning="GitLab's API: tag deletes through GitLab's tags API when the registry has no tag delete",
    ),
    Setting(
        "gitlab_project_id",
        "CI_PROJECT_ID",
        "",
        "GitLab project id (for GitLab's tags API).",
        meaning="GitLab's project id, for its tags API",
    ),
    Setting(
        "commit_sha",
        "CI_COMMIT_SHA",
        "",
        "Commit being built (default: git rev-parse HEAD).",
        default_doc="`git rev-parse HEAD`",
        meaning="commit being built (7 to 64 hex characters)",
    ),
    Setting(
        "ref_name",
        "CI_COMMIT_REF_NAME",
        "",
        "Branch or tag being built (default: the git branch).",
        default_doc="current git branch",
        meaning="branch or tag",
    ),
    Setting(
        "ref_slug",
        "CI_COMMIT_REF_SLUG",
        "",
        "URL-safe ref (default: computed by GitLab's rule).",
        default_doc="computed",
        meaning="the branch tag of the CI image",
    ),
    Setting(
        "commit_branch",
        "CI_COMMIT_BRANCH",
        "",
        "Branch being built; GitLab leaves it unset in tag pipelines (default outside GitLab: the git branch).",
        default_doc="the git branch (outside GitLab)",
        meaning="the branch the deploy rules test; GitLab leaves it unset in tag pipelines, which never deploy",
    ),
    Setting(
        "commit_tag",
        "CI_COMMIT_TAG",
        "",
        "Tag being built (GitLab sets it in tag pipelines, which never deploy).",
        meaning="set in tag pipelines: build-ci and the tests run, nothing is deployed",
    ),
    Setting(
        "default_branch",
        "CI_DEFAULT_BRANCH",
        "",
        "The project's default branch (default outside GitLab: origin's HEAD).",
        default_doc="origin's HEAD (`git symbolic-ref refs/remotes/origin/HEAD`)",
        meaning="the project's default branch: the deployable branch unless `deployable_branches` says otherwise",
    ),
    Setting(
        "pipeline_source",
        "CI_PIPELINE_SOURCE",
        "push",
        "What started the pipeline (GitLab's; `schedule` runs only the cleanup).",
        meaning="`schedule` runs only the scheduled cleanup (see *GitLab CI*)",
    ),
    Setting(
        "pipeline_id",
        "CI_PIPELINE_ID",
        "local",
        "Pipeline id, recorded in deploy change causes.",
        meaning="recorded in deploy change causes",
    ),
    Setting(
        "compose_files",
        "CONVEYOR_COMPOSE_FILES",
        "",
        "Compose files for the CI image and test jobs, ':'-separated, relative to the project "
        "(default: compose's own, compose.yaml or docker-compose.yml and its override).",
        kind="list",
        default_doc="compose's own: `compose.yaml` (or `docker-compose.yml`) and its override",
        meaning="every compose file, `:`-separated, relative to the project",
    ),
    Setting(
        "prod_compose_files",
        "CONVEYOR_PROD_COMPOSE_FILES",
        "",
        "Compose files that build the prod images, ':'-separated, relative to the project "
        "(default: the compose files).",
        kind="list",
        default_doc="the compose files",
        meaning="compose files that build the prod images",
    ),
    Setting(
        "deployable_branches",
        "CONVEYOR_DEPLOYABLE_BRANCHES",
        "",
        "Branches (glob patterns, ':'-separated) whose pipelines build prod images and deploy "
        "(default: the project's default branch).",
        kind="list",
        default_doc="the default branch",
        meaning="branches (glob patterns, `:`-separated) whose pipelines build prod images and deploy",
    ),
    Setting(
        "compose_project",
        "CONVEYOR_COMPOSE_PROJECT",
        "",
        "Compose project name (default: the compose files' name:, else the project directory's name).",
        default_doc="the compose files' `name:`, else the project directory's name",
        meaning="compose project name; test job `X` runs as project `<name>-X`",
    ),
    Setting(
        "ci_image_name",
        "CONVEYOR_CI_IMAGE_NAME",
        "ci",
        "Name of the CI image under the registry image.",
        meaning="CI image name under the registry image",
    ),
    Setting(
        "ci_service",
        "CONVEYOR_CI_SERVICE",
        "app",
        "Compose service that builds the CI image.",
        meaning="compose service that builds the CI image",
    ),
    Setting(
        "reports_dir",
        "CONVEYOR_REPORTS_DIR",
        "reports",
        "Where JUnit reports are written.",
        meaning="where JUnit files go",
    ),
    Setting(
        "docker_host",
        "DOCKER_HOST",
        "",
        "Docker engine address (default: the local socket).",
        default_doc="local socket",
        meaning="the Docker engine (docker-in-docker in GitLab)",
    ),
    Setting(
        "docker_tls_verify",
        "DOCKER_TLS_VERIFY",
        "",
        "Verify the engine's TLS certificate (dind).",
        meaning="verify the engine's TLS certificate (docker-in-docker)",
    ),
    Setting(
        "docker_cert_path",
        "DOCKER_CERT_PATH",
        "",
        "Client certificates for the engine (dind).",
        meaning="client certificates for the engine (docker-in-docker)",
    ),
    Setting(
        "docker_config",
        "DOCKER_CONFIG",
        "",
        "Docker client configuration directory.",
        default_doc="`~/.docker`",
        meaning="Docker client configuration (credentials, CLI plugins)",
    ),
    Setting(
        "kube_namespace",
        "KUBE_NAMESPACE",
        "",
        "Kubernetes namespace of the environment being deployed (default: its own, else the context's).",
        default_doc="the environment's own, else the context's",
        meaning="namespace of the environment being deployed (never of the others); flag `--namespace`",
    ),
    Setting(
        "kube_context",
        "KUBE_CONTEXT",
        "",
        "Kubeconfig context of the environment being deployed, as GitLab's agent names it "
        "(default: its own, else the current context).",
        default_doc="the environment's own, else the current context",
        meaning="kubeconfig context of the environment being deployed, as GitLab's agent names it "
        "(`group/project:agent`); flag `--context`",
    ),
    Setting(
        "kubeconfig",
        "KUBECONFIG",
        "",
        "Kubeconfig file (GitLab's agent sets it; default ~/.kube/config).",
        default_doc="`~/.kube/config`, then in-cluster",
        meaning="the cluster to deploy to (GitLab's agent sets it); flag `--kubeconfig`",
    ),
    Setting(
        "kubernetes_service_host",
        "KUBERNETES_SERVICE_HOST",
        "",
        "Set inside a pod: the in-cluster API server.",
        meaning="set inside a pod: in-cluster access when no kubeconfig is found",
    ),
    Setting(
        "kubernetes_service_port",
        "KUBERNETES_SERVICE_PORT",
        "",
        "Set inside a pod: the in-cluster API port.",
        meaning="set inside a pod: in-cluster access when no kubeconfig is found",
    ),
    Setting(
        "environment_name",
        "CI_ENVIRONMENT_NAME",
        "",
        "Environment to deploy (GitLab sets it in a deploy job; default: the only environment, or the first "
        "automatic one; without conveyor.environments it names the one environment, `production`).",
        default_doc="the only environment, else the first automatic one",
        meaning="the environment to deploy (GitLab sets it in a deploy job); without `environments:` it names "
        "the one environment (`production`); flag `--environment`",
    ),
    Setting(
        "rollback",
        "CONVEYOR_ROLLBACK",
        "auto",
        "Roll back a failed deploy: true, false, or auto (on in GitLab CI, off elsewhere).",
        kind="choice",
        choices=("auto", "true", "false"),
        meaning="roll back a failed deploy: `true`, `false`, `auto` (on in GitLab CI); flag `--rollback`",
    ),
    Setting(
        "rollout_timeout",
        "CONVEYOR_ROLLOUT_TIMEOUT",
        "600",
        "How long to wait for a rollout (seconds, or 90s, 5m, 1h).",
        kind="duration",
        meaning="how long to wait for a rollout (a duration, at most 24h); flag `--timeout`",
    ),
    Setting(
        "keep_releases",
        "CONVEYOR_KEEP_RELEASES",
        "3",
        "The newest prod-<sha> releases of each prod image always kept, for rollback (at least 1).",
        kind="count",
        meaning="the newest `prod-<sha>` releases of each prod image that are always kept, for rollback (at least 1)",
    ),
    Setting(
        "gitlab_ci",
        "GITLAB_CI",
        "",
        "Set to true by GitLab: log sections, rollback default.",
        meaning="set by GitLab: collapsible log sections, rollback on by default",
    ),
    Setting(
        "job_image",
        "CONVEYOR_JOB_IMAGE",
        "",
        "Image the generated GitLab jobs run in (default: <registry image>/conveyor-job:<Conveyor's version>).",
        default_doc="`<registry image>/conveyor-job:<Conveyor's version>`",
        meaning="image the generated GitLab jobs run in",
    ),
    Setting(
        "dind_image",
        "CONVEYOR_DIND_IMAGE",
        "docker:28-dind",
        "Docker-in-Docker service of the GitLab jobs.",
        meaning="Docker-in-Docker service of the generated GitLab jobs",
    ),
)

BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
SECRETS: tuple[str, ...] = tuple(setting.env for setting in SETTINGS if setting.secret)


@dataclass(frozen=True)
class Given:
    """A raw value and where it came from, as an error names it: `--timeout`, `CONVEYOR_ROLLOUT_TIMEOUT`,
    `.env line 3 (CONVEYOR_ROLLOUT_TIMEOUT)`, `invoke.yaml: conveyor.rollout_timeout`."""

    value: object
    source: str
