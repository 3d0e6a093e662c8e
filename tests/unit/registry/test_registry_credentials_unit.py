"""Unit tests: where credentials come from, and that no secret form leaks into errors, logs or reprs."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from registry_fakes import Answer, Call, make_client, response

from conveyor.redact import Redactor
from conveyor.registry import Credentials, resolve_credentials
from conveyor.registry.credentials import JOB_TOKEN_USER
from conveyor.registry.errors import AuthenticationFailed


def write_config(directory: Path, config: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def test_precedence() -> None:
    assert resolve_credentials("r.test", "u", "p", "job", "pat") == Credentials("u", "pat", "access token")
    assert resolve_credentials("r.test", "", "", "", "pat") == Credentials("oauth2", "pat", "access token")
    assert resolve_credentials("r.test", "me", "", "", "pat").user == "me"  # type: ignore[union-attr]
    assert resolve_credentials("r.test", JOB_TOKEN_USER, "job", "", "pat").user == "oauth2"  # type: ignore[union-attr]
    assert resolve_credentials("r.test", "u", "p", "job") == Credentials("u", "p", "user and password")
    assert resolve_credentials("r.test", "", "", "job") == Credentials(JOB_TOKEN_USER, "job", "job token")
    assert resolve_credentials("r.test") is None


def test_docker_config_auths(tmp_path: Path) -> None:
    auth = base64.b64encode(b"dockeruser:docker-pass").decode()
    directory = write_config(
        tmp_path,
        {
            "auths": {
                "https://r.test:5000/v1/": {"auth": auth},
                "other.test": {"auth": base64.b64encode(b"o:op").decode()},
            }
        },
    )
    found = resolve_credentials("r.test:5000", docker_config_dir=directory)
    assert found is not None and (found.user, found.password) == ("dockeruser", "docker-pass")
    assert resolve_credentials("other.test", docker_config_dir=directory) == Credentials(
        "o", "op", f"Docker config {directory / 'config.json'}"
    )
    assert resolve_credentials("third.test", docker_config_dir=directory) is None
    assert resolve_credentials("r.test:5000", "u", "p", docker_config_dir=directory).user == "u"  # type: ignore[union-attr]


def test_docker_config_broken_or_missing(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    assert resolve_credentials("r.test", docker_config_dir=tmp_path) is None
    assert resolve_credentials("r.test", docker_config_dir=tmp_path / "nowhere") is None
    write_config(tmp_path / "bad", {"auths": {"r.test": {"auth": "!!notbase64"}}})
    assert resolve_credentials("r.test", docker_config_dir=tmp_path / "bad") is None


def fake_helper(directory: Path, body: str) -> None:
    """`docker-credential-fake` on PATH: the Docker SDK runs it with `get` and the server on stdin."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "docker-credential-fake"
    script.write_text(f"#!/bin/sh\nread server\n{body}\n")
    script.chmod(0o755)


def test_credential_helpers_run_through_the_docker_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_helper(tmp_path / "bin", 'echo "{\\"Username\\": \\"helper-user\\", \\"Secret\\": \\"helper-$server\\"}"')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    directory = write_config(tmp_path / "helpers", {"credHelpers": {"r.test": "fake"}})
    found = resolve_credentials("r.test", docker_config_dir=directory)
    assert found is not None and (found.user, found.password) == ("helper-user", "helper-r.test")
    store = write_config(tmp_path / "store", {"credsStore": "fake", "auths": {"r.test": {}}})
    assert resolve_credentials("r.test", docker_config_dir=store) == Credentials(
        "helper-user", "helper-r.test", f"Docker config {store / 'config.json'}"
    )


def test_a_failing_credential_helper_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_helper(tmp_path / "bin", "echo 'keychain locked' >&2; exit 1")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    directory = write_config(tmp_path, {"credHelpers": {"r.test": "fake"}})
    with pytest.raises(AuthenticationFailed) as caught:
        resolve_credentials("r.test", docker_config_dir=directory)
    assert "credential helper" in str(caught.value) and "\n" not in str(caught.value)


def test_password_not_in_repr() -> None:
    assert "hunter2-xyz" not in repr(Credentials("u", "hunter2-xyz"))


def test_no_secret_in_errors_logs_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password, token = "Distinct-Pa55-91ab", "tok-Distinct-77cd"

    def handler(call: Call) -> Answer:
        if "jwt" in call.url:
            return response(200, {"token": token, "expires_in": 60})
        if call.headers.get("Authorization") != f"Bearer {token}":
            return response(401, b"", {"WWW-Authenticate": 'Bearer realm="https://r.test/jwt",service="s"'})
        return response(500, {"errors": [{"code": "UNKNOWN", "message": f"echo {token} {password}"}]})

    redactor = Redactor()
    client, _, _ = make_client(handler, Credentials("bob", password, "test"), redactor=redactor)
    with pytest.raises(Exception) as raised:
        client.list_tags("g/a")
    outputs = [str(raised.value), repr(raised.value), repr(client), caplog.text]
    forms = [
        password,
        token,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"bob:{password}".encode()).decode(),
        base64.b64encode(token.encode()).decode(),
    ]
    for form in forms:
        assert all(form not in output for output in outputs)
        assert redactor.clean(f"x {form} y") == "x [MASKED] y"
