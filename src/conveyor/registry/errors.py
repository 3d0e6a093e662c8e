"""Registry error classes. Each is one line: the problem, then what to do (ConveyorError's format)."""

from __future__ import annotations

from conveyor.errors import RegistryError


class RegistryUnreachable(RegistryError):
    """The registry (or its token realm) could not be reached, even after retries."""


class RegistryUnavailable(RegistryError):
    """The registry kept answering 429/5xx until the retry budget ran out."""


class AuthenticationFailed(RegistryError):
    """The registry or its token realm refused the credentials (or asked for some and none were given)."""


class PermissionDenied(RegistryError):
    """The credentials are valid but do not grant the action (e.g. no `delete` in the token)."""


class DeletesDisabled(RegistryError):
    """The registry refuses deletes (distribution: storage.delete.enabled is false)."""


class ManifestNotFound(RegistryError):
    """A tag or digest does not exist in the repository."""


class RegistryProtocolError(RegistryError):
    """The registry answered something the API does not allow (bad JSON, wrong digest, odd status)."""


class ReferenceOutsideRegistry(RegistryError):
    """An image reference names another registry than the configured one."""


class GitLabApiError(RegistryError):
    """GitLab's container registry API refused or failed a call."""


class NotARegistry(RegistryProtocolError):
    """The address answers, but not with the registry API (no Docker-Distribution-API-Version on /v2/)."""


class ReadAbandoned(RegistryError):
    """A stop was asked for (RegistryOptions.stopped): a read still waiting for the registry's answer was given
    up, or a request was not sent at all. Writes already sent are finished instead."""


class AnswerLost(RegistryUnavailable):
    """A PUT or DELETE got a 5xx, a cut connection or a read timeout: the registry may or may not have acted.
    Raised only to callers that read the registry's state before acting again (`replay=False`)."""

    def __init__(self, problem: str, hint: str, answer: str) -> None:
        super().__init__(problem, hint)
        self.answer = answer
