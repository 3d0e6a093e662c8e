"""Helpers for the registry integration tests (imported by name: this directory has no __init__.py)."""

from __future__ import annotations

from conveyor.redact import Redactor
from conveyor.registry import Credentials, RegistryClient, RegistryOptions, RetryPolicy
from tests.support.images import push_image
from tests.support.integration import unavailable
from tests.support.registry import RegistryProcess, registry_available

__all__ = ["push_image"]

PASSWORD = "Pw-5ecret-Zq9!x"
ALL = {"pull", "push", "delete"}


def require_registry() -> None:
    """Skip loudly without docker-registry; fail instead when CONVEYOR_REQUIRE_INTEGRATION=1."""
    if reason := registry_available():
        unavailable(reason)


def fast_retry() -> RetryPolicy:
    return RetryPolicy(base_delay=0.02, max_delay=1.0)


def maintainer_client(registry: RegistryProcess, redactor: Redactor | None = None) -> RegistryClient:
    return RegistryClient(
        registry.address,
        Credentials("maintainer", PASSWORD, "test"),
        options=RegistryOptions(scheme="http", retry=fast_retry(), redactor=redactor or Redactor()),
    )
