"""Unit tests of GitLab's tags API: a FAKE GitLab (no GitLab here); it checks the requests Conveyor sends."""

from __future__ import annotations

import pytest
from registry_fakes import DIGEST, Answer, Call, Handler, TagDeletionRegistry, make_client, response

from conveyor.registry import GitLabTagsApi
from conveyor.registry.errors import GitLabApiError
from tests.support.factories import permit


def gitlab_fake(tag_status: int = 200, message: str = "x") -> Handler:
    def handler(call: Call) -> Answer:
        if call.url.startswith("https://gitlab.test/api/v4/"):
            assert call.headers["PRIVATE-TOKEN"] == "glpat-secret-123"
            assert "Authorization" not in call.headers
            if call.method == "GET":
                assert call.path == "/api/v4/projects/group%2Fapp/registry/repositories"
                return response(200, [{"id": 7, "path": "group/app/other"}, {"id": 9, "path": "group/app"}])
            assert call.path == "/api/v4/projects/group%2Fapp/registry/repositories/9/tags/feature-1"
            return response(tag_status, {"message": message})
        return TagDeletionRegistry(response(400, {"errors": [{"code": "DIGEST_INVALID"}]}))(call)

    return handler


def test_gitlab_tags_api_used_when_configured_and_tag_delete_unsupported() -> None:
    api = GitLabTagsApi("https://gitlab.test/api/v4", "group/app", "glpat-secret-123")
    client, session, _ = make_client(gitlab_fake(), gitlab=api)
    assert client.deleter.delete(permit("group/app", "feature-1", DIGEST)).method == "gitlab-api"
    assert not [c for c in session.calls if c.method == "PUT"]  # no throwaway manifest
    assert "glpat-secret-123" not in repr(api)


def test_gitlab_tags_api_refusal_is_one_line_without_the_token() -> None:
    api = GitLabTagsApi("https://gitlab.test/api/v4", "group/app", "glpat-secret-123")
    client, _, _ = make_client(gitlab_fake(403), gitlab=api)
    with pytest.raises(GitLabApiError) as raised:
        client.deleter.delete(permit("group/app", "feature-1", DIGEST))
    assert "GitLab API answered 403" in str(raised.value) and "glpat" not in str(raised.value)


def test_a_tag_gitlab_protects_is_kept_not_a_failure() -> None:
    api = GitLabTagsApi("https://gitlab.test/api/v4", "group/app", "glpat-secret-123")
    client, _, _ = make_client(gitlab_fake(403, "403 Forbidden - cannot delete protected tag(s)"), gitlab=api)
    assert client.deleter.delete(permit("group/app", "feature-1", DIGEST)).method == "protected"
