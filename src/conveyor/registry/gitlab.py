"""GitLab's container registry REST API, used to delete a tag where the registry itself cannot: `DELETE
/projects/:id/registry/repositories/:repository_id/tags/:tag`, after finding the repository's id in the
project's registry repositories. Its requests go through the registry's Transport (same deadline, retries
and redaction), with GitLab's token header instead of the registry's credentials."""

from __future__ import annotations

import threading
from typing import Literal
from urllib.parse import quote

import requests

from conveyor.registry.errors import GitLabApiError
from conveyor.registry.options import GitLabTagsApi
from conveyor.registry.transport import Transport


class GitLabTags:
    """Tag deletion through GitLab's API for one project. Thread-safe; caches repository ids."""

    def __init__(self, api: GitLabTagsApi, transport: Transport) -> None:
        self._api = api
        self._transport = transport
        self._project_url = f"{api.api_url.rstrip('/')}/projects/{quote(api.project_id, safe='')}"
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()
        transport.redactor.add(api.token)

    def delete_tag(self, repository: str, tag: str) -> Literal["gitlab-api", "absent", "protected"]:
        """Delete `tag` of `repository`: `gitlab-api` when deleted, `absent` when GitLab does not know it
        (404), `protected` when GitLab's tag protection refuses it (403 naming protected tags)."""
        repository_id = self._repository_id(repository)
        url = f"{self._project_url}/registry/repositories/{repository_id}/tags/{quote(tag, safe='')}"
        response = self._transport.request("DELETE", url, headers=self._headers())
        if response.status_code in (200, 202, 204):
            return "gitlab-api"
        if response.status_code == 404:
            return "absent"
        if response.status_code == 403 and "protected" in response.text.lower():
            return "protected"
        raise self._error(response, f"deleting tag {tag} of {repository}")

    def _repository_id(self, repository: str) -> int:
        """The id GitLab gives `repository` (a registry path), looked up page by page once."""
        with self._lock:
            if repository in self._ids:
                return self._ids[repository]
        page = 1
        while True:
            response = self._transport.request(
                "GET",
                f"{self._project_url}/registry/repositories",
                headers=self._headers(),
                params={"per_page": "100", "page": str(page)},
            )
            if response.status_code != 200:
                raise self._error(response, "listing the project's registry repositories")
            try:
                items = response.json()
            except ValueError:
                raise GitLabApiError(
                    f"GitLab API answered the list of registry repositories with something that is not JSON "
                    f"({response.headers.get('Content-Type', 'no content type')})",
                    "check the GitLab API URL (CI_API_V4_URL) and any proxy in front of it",
                ) from None
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and item.get("path") == repository:
                    with self._lock:
                        self._ids[repository] = int(item["id"])
                    return int(item["id"])
            if not response.headers.get("X-Next-Page"):
                raise GitLabApiError(
                    f"GitLab project {self._api.project_id} has no registry repository {repository}",
                    "check the project id setting and the image path",
                )
            page += 1

    def _headers(self) -> dict[str, str]:
        return {self._api.token_header: self._api.token}

    def _error(self, response: requests.Response, action: str) -> GitLabApiError:
        hint = (
            "the GitLab token needs the api scope and Maintainer role (job tokens may not use this endpoint)"
            if response.status_code in (401, 403)
            else "check the GitLab API URL and project id settings"
        )
        return GitLabApiError(self._transport.clean(f"GitLab API answered {response.status_code} when {action}"), hint)
