"""Fixtures for the registry integration tests: real docker-registry processes (no auth, token auth) and a
token server. Images are synthetic, pushed through the API (no Docker daemon needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_helpers import ALL, PASSWORD, fast_retry, require_registry

from conveyor.registry import RegistryClient, RegistryOptions
from tests.support.registry import RegistryProcess
from tests.support.tokenserver import TokenServer, User


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryProcess]:
    require_registry()
    process = RegistryProcess(tmp_path / "registry").start()
    yield process
    process.stop()


@pytest.fixture
def client(registry: RegistryProcess) -> RegistryClient:
    return RegistryClient(registry.address, options=RegistryOptions(scheme="http", retry=fast_retry()))


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[TokenServer]:
    require_registry()
    users = {
        "maintainer": User(PASSWORD, {"*": set(ALL)}),
        "developer": User("dev-password-1", {"*": {"pull", "push"}}),
        "gitlab-ci-token": User("job-token-abcdef", {"*": set(ALL) | {"*"}}, job_token=True),
        "admin": User("admin-password-1", {"*": set(ALL)}, admin=True),
    }
    server = TokenServer(tmp_path / "tokens", users=users, lifetime=30).start()
    yield server
    server.stop()


@pytest.fixture
def token_registry(tmp_path: Path, token_server: TokenServer) -> Iterator[RegistryProcess]:
    process = RegistryProcess(tmp_path / "registry", extra_config=token_server.registry_auth_config()).start()
    yield process
    process.stop()
