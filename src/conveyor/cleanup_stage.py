"""The cleanup stage: what the cleanup tasks do with the settings, the registry client and the cleanup
engine (conveyor.cleanup), and how their reports are printed."""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.cleanup import (
    CleanupReport,
    Policy,
    cleanup_ci_image,
    cleanup_policy,
    delete_tag,
    parse_duration,
    parse_target,
    promote_and_delete_old_prod,
)
from conveyor.errors import ConfigError, RegistryError
from conveyor.reference import ImageReference
from conveyor.registry import GitLabTagsApi, RegistryClient, resolve_credentials
from conveyor.slug import ref_slug
from conveyor.toolbox import Toolbox


def registry_client(tools: Toolbox) -> RegistryClient:
    """A client for the configured registry with the first credentials that apply (access token, user and
    password, job token, the Docker config) and GitLab's tags API where GitLab's variables say so."""
    settings = tools.settings
    credentials = resolve_credentials(
        settings.registry,
        user=settings.registry_user,
        password=settings.registry_password,
        job_token=settings.job_token,
        access_token=settings.registry_access_token,
        docker_config_dir=settings.docker_config or None,
    )
    return RegistryClient(
        settings.registry,
        credentials,
        scheme=settings.scheme,
        redactor=tools.console.redactor,
        gitlab=gitlab_api(tools),
    )


def gitlab_api(tools: Toolbox) -> GitLabTagsApi | None:
    settings = tools.settings
    if not (settings.gitlab_api_url and settings.gitlab_project_id):
        return None
    if settings.registry_access_token:
        return GitLabTagsApi(settings.gitlab_api_url, settings.gitlab_project_id, settings.registry_access_token)
    if settings.job_token:
        return GitLabTagsApi(settings.gitlab_api_url, settings.gitlab_project_id, settings.job_token, "JOB-TOKEN")
    return None


def show(tools: Toolbox, reports: Sequence[CleanupReport]) -> None:
    """Print every report; fail (after printing all) when a tag could not be cleaned up."""
    for report in reports:
        for line in report.lines():
            tools.console.line(line)
    failed = [f"{report.repository}:{tag}" for report in reports for tag in report.failed]
    if failed:
        raise RegistryError(f"cleanup failed for {', '.join(failed)}", "see the lines above; run the task again")


def repository_of(tools: Toolbox, name: str) -> str:
    """The registry path of the image `name` under the project's registry image."""
    return ImageReference.parse(f"{tools.settings.registry_image}/{name}").repository


def cleanup_one_tag(tools: Toolbox, tag: str, dry_run: bool) -> None:
    target = parse_target(tag, tools.settings.registry)
    with registry_client(tools) as client:
        show(tools, [delete_tag(client, target.repository, target.tag, dry_run)])


def cleanup_this_ci_image(tools: Toolbox, dry_run: bool = False) -> None:
    """Delete this commit's CI image tag; the branch tag (same digest) stays."""
    images = tools.settings.images
    with registry_client(tools) as client:
        report = cleanup_ci_image(
            client, images.ci_commit.repository, images.ci_commit.tag, images.ci_branch.tag, dry_run
        )
        show(tools, [report])


def cleanup_old_prod(tools: Toolbox, dry_run: bool = False) -> None:
    """For every prod image: move `prod` to `prod-<sha>`, delete the image `prod` pointed at before unless
    it is the same or another tag that must survive still uses it."""
    prod = tools.settings.images.prod
    if not prod:
        tools.console.line("cleanup.old-prod: no prod images configured")
        return
    with registry_client(tools) as client:
        reports = [
            promote_and_delete_old_prod(client, names.commit.repository, names.commit.tag, dry_run=dry_run)
            for names in prod.values()
        ]
        show(tools, reports)


def cleanup_by_policy(
    tools: Toolbox,
    image: str,
    keep_regex: str,
    delete_regex: str,
    keep_newest: int | None,
    older_than: str,
    gone_branches: bool,
    live_branches: frozenset[str] | None,
    dry_run: bool,
) -> None:
    if gone_branches and live_branches is None:
        raise ConfigError("cannot tell which branches exist (git failed)", "run in the project's git checkout")
    policy = Policy(
        keep_regex=keep_regex,
        delete_regex=delete_regex,
        keep_newest=keep_newest,
        older_than=parse_duration(older_than) if older_than else None,
        live_branches=frozenset(ref_slug(b) for b in live_branches or ()) if gone_branches else None,
    )
    with registry_client(tools) as client:
        _plan, report = cleanup_policy(client, repository_of(tools, image), policy, dry_run=dry_run)
        show(tools, [report])
