"""The client against a real registry with token auth (auth.token) and the GitLab-like token server."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from registry_helpers import PASSWORD, fast_retry, maintainer_client, push_image

from conveyor.errors import ConveyorError
from conveyor.gitinfo import Branches
from conveyor.guard.decision import Facts, decide
from conveyor.redact import Redactor
from conveyor.registry import Credentials, RegistryClient, RegistryOptions, inventory
from conveyor.registry.errors import AuthenticationFailed, PermissionDenied
from conveyor.stages import deleting
from tests.support import deletions
from tests.support.registry import RegistryProcess
from tests.support.tokenserver import TokenServer

pytestmark = pytest.mark.integration
REPO = "group/app"
SHA = "0123456789abcdef0123456789abcdef01234567"


def client_for(registry: RegistryProcess, user: str, password: str, redactor: Redactor | None = None) -> RegistryClient:
    return RegistryClient(
        registry.address,
        Credentials(user, password, "test"),
        options=RegistryOptions(scheme="http", retry=fast_retry(), redactor=redactor or Redactor()),
    )


def test_token_auth_end_to_end(token_registry: RegistryProcess, token_server: TokenServer) -> None:
    client = maintainer_client(token_registry)
    digest = push_image(client, REPO, [SHA, "main"], "ci")
    report = deletions.delete_tag(client, REPO, SHA)
    assert report.deleted == [SHA]
    assert client.list_tags(REPO) == ["main"] and client.head_digest(REPO, "main") == digest
    scopes = [seen["scope"] for seen in token_server.requests_seen]
    assert [f"repository:{REPO}:pull,push,delete"] in scopes
    assert token_server.issued == 1  # one token for the repository scope, reused for every request


def test_anonymous_client_is_told_to_give_credentials(token_registry: RegistryProcess) -> None:
    client = RegistryClient(token_registry.address, options=RegistryOptions(scheme="http", retry=fast_retry()))
    with pytest.raises(PermissionDenied) as raised:
        client.list_tags(REPO)
    assert "\n" not in str(raised.value)


def test_wrong_credentials_one_line_nothing_deleted(token_registry: RegistryProcess) -> None:
    push_image(maintainer_client(token_registry), REPO, ["t"], "x")
    client = client_for(token_registry, "maintainer", "wrong-password-42")
    with pytest.raises(AuthenticationFailed) as raised:
        deletions.delete_tag(client, REPO, "t")
    message = str(raised.value)
    assert "\n" not in message and "refused the credentials of maintainer" in message
    assert "wrong-password-42" not in message
    assert maintainer_client(token_registry).list_tags(REPO) == ["t"]


def test_user_without_delete_right_changes_nothing(token_registry: RegistryProcess) -> None:
    digest = push_image(maintainer_client(token_registry), REPO, ["t", "u"], "x")
    client = client_for(token_registry, "developer", "dev-password-1")
    with pytest.raises(PermissionDenied) as raised:
        deletions.delete_tags(client, REPO, ["t"])
    assert "did not grant" in str(raised.value)
    with pytest.raises(PermissionDenied):
        deletions.delete_tag(client, REPO, "t")
    owner = maintainer_client(token_registry)
    assert sorted(owner.list_tags(REPO)) == ["t", "u"] and owner.head_digest(REPO, "t") == digest


def test_job_token_gets_delete_but_star_is_dropped(token_registry: RegistryProcess, token_server: TokenServer) -> None:
    push_image(maintainer_client(token_registry), REPO, ["t", "u"], "x")
    job = RegistryClient(
        token_registry.address,
        Credentials("gitlab-ci-token", "job-token-abcdef", "job token"),
        options=RegistryOptions(scheme="http", retry=fast_retry()),
    )
    assert deletions.delete_tag(job, REPO, "t").deleted == ["t"]
    starred = RegistryClient(
        token_registry.address,
        Credentials("gitlab-ci-token", "job-token-abcdef", "job token"),
        options=RegistryOptions(scheme="http", retry=fast_retry(), actions=("*",)),
    )
    with pytest.raises(PermissionDenied):
        deletions.delete_tag(starred, REPO, "u")
    assert token_server.requests_seen[-1]["access"][0]["actions"] == []


def test_token_expiring_mid_run_is_renewed(tmp_path: object, token_server: TokenServer) -> None:
    token_server.lifetime = 2
    registry = RegistryProcess(tmp_path / "short", extra_config=token_server.registry_auth_config()).start()  # type: ignore[operator]
    try:
        client = maintainer_client(registry)
        tags = [f"t{i}" for i in range(6)]
        push_image(client, REPO, tags, "x")
        for tag in tags:
            assert deletions.delete_tag(client, REPO, tag).deleted == [tag]
            time.sleep(0.7)
        assert client.list_tags(REPO) == []
        assert token_server.issued >= 3
    finally:
        registry.stop()


def test_token_refused_before_its_announced_expiry_is_renewed(tmp_path: object, token_server: TokenServer) -> None:
    token_server.lifetime = 1.5
    token_server.advertised_lifetime = 300  # the client trusts it 300 s, the registry refuses it after 1.5 s
    registry = RegistryProcess(tmp_path / "lying", extra_config=token_server.registry_auth_config()).start()  # type: ignore[operator]
    try:
        client = maintainer_client(registry)
        push_image(client, REPO, ["a", "b"], "x")
        issued = token_server.issued
        time.sleep(2.2)
        assert deletions.delete_tag(client, REPO, "a").deleted == ["a"]
        assert token_server.issued == issued + 1
        assert client.list_tags(REPO) == ["b"]
    finally:
        registry.stop()


def test_no_secret_appears_in_any_output(
    token_registry: RegistryProcess, token_server: TokenServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    redactor = Redactor()
    client = client_for(token_registry, "maintainer", PASSWORD, redactor)
    texts: list[str] = [repr(client), repr(client.credentials)]
    push_image(client, REPO, [SHA, "main", "prod", "prod-" + SHA], "x")
    tags = inventory.collect_tags(client, REPO, created_for=lambda _tag: True)
    facts = Facts(client.registry, REPO, tags, None, branches=Branches())
    reports = [
        deletions.delete_tag(client, REPO, SHA),
        deletions.delete_tag(client, REPO, "never"),
        deleting.carry_out(client, REPO, decide({t: "all" for t in tags}, facts), dry_run=True),
    ]
    texts += [line for report in reports for line in report.lines()]
    texts += [repr(report) for report in reports]
    for bad in (client_for(token_registry, "maintainer", PASSWORD + "-wrong", redactor),):
        with pytest.raises(ConveyorError) as raised:
            deletions.delete_tag(bad, REPO, "main")
        texts += [str(raised.value), repr(raised.value)]
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    secrets = [PASSWORD, PASSWORD + "-wrong", *token_server.tokens]
    forms = secrets + [base64.b64encode(s.encode()).decode() for s in secrets]
    forms += [base64.b64encode(f"maintainer:{s}".encode()).decode() for s in (PASSWORD, PASSWORD + "-wrong")]
    assert token_server.tokens
    output = "\n".join(texts)
    for form in forms:
        assert form not in output
    assert all(redactor.clean(form) == "[MASKED]" for form in forms)
