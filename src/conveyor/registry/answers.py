"""Registry answers as Conveyor's one-line errors: how a status is said (`404 MANIFEST_UNKNOWN`, `502 and a
text/html body`), the registry error code of a body, a JSON object or a protocol error, and the errors for
an answer an operation cannot use, a registry that refuses deletes, a request that never got a usable
answer, an answer that was lost, and one no longer waited for (a stop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import requests

from conveyor.registry.errors import (
    AnswerLost,
    DeletesDisabled,
    ManifestNotFound,
    ReadAbandoned,
    RegistryProtocolError,
    RegistryUnavailable,
    RegistryUnreachable,
)
from conveyor.registry.retry import Failure

Clean = Callable[[str], str]


def describe(response: requests.Response) -> str:
    """A status for messages: `404 MANIFEST_UNKNOWN` for a registry error, `502 and a text/html body` for a
    body that is not one, else the bare status."""
    code = error_code(response)
    if code:
        return f"{response.status_code} {code}"
    kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "untyped"
    return f"{response.status_code} and a {kind} body" if response.content else str(response.status_code)


def error_code(response: requests.Response) -> str:
    """The first `errors[].code` of a registry error body ("" when there is none)."""
    if not response.content or "json" not in response.headers.get("Content-Type", "json"):
        return ""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return ""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code", ""))
    return ""


def json_object(response: requests.Response, what: str) -> dict[str, Any]:
    """The body as a JSON object; RegistryProtocolError, naming `what`, when it is not one."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RegistryProtocolError(
            f"{what} got {describe(response)}, not a JSON object", "check the address and any proxy in front of it"
        )
    return data


def fail(registry: str, response: requests.Response, action: str, clean: Clean) -> NoReturn:
    """Raise the one-line error for an answer `action` cannot use: ManifestNotFound for a 404, else
    RegistryProtocolError."""
    detail = describe(response)
    if response.status_code == 404:
        raise ManifestNotFound(
            clean(f"registry {registry}: {action} failed ({detail})"), "check the repository and tag names"
        )
    raise RegistryProtocolError(
        clean(f"registry {registry} answered {detail} when {action}"), "check the registry's logs"
    )


def raise_if_deletes_refused(registry: str, response: requests.Response) -> None:
    """Raise DeletesDisabled when `response` to a DELETE says the registry does not delete at all."""
    code = error_code(response)
    if response.status_code == 405 or code == "UNSUPPORTED":
        raise DeletesDisabled(
            f"registry {registry} refused deletes ({response.status_code} {code or 'Method Not Allowed'})",
            "enable storage.delete.enabled in the registry config",
        )


def answer_lost(host: str, what: str, answer: str, clean: Clean) -> AnswerLost:
    return AnswerLost(
        clean(f"registry {host} lost its answer to {what} ({answer})"),
        "run the cleanup again (it reads the state and goes on), or check the registry's health and logs",
        answer,
    )


def abandoned(host: str, what: str, seconds: float, sent: bool, clean: Clean) -> ReadAbandoned:
    """A stop came: a read `sent` and still waiting for its answer was given up, or a request was not sent.
    `seconds`: how long the operation had been going."""
    return ReadAbandoned(
        clean(f"stopped waiting for {host}'s answer to {what}"),
        f"after {seconds:.1f} s" + ("" if sent else ", before it was sent"),
    )


def gave_up(
    host: str, what: str, failure: Failure | None, answer: str, attempts: int, seconds: float, clean: Clean
) -> RegistryUnreachable | RegistryUnavailable:
    """The one-line error for a request that never got a usable answer: the registry, what was tried, how
    often and for how long, and what to do."""
    tried = f"{attempts} attempt{'s' if attempts != 1 else ''} in {seconds:.1f} s"
    if failure == "busy":
        return RegistryUnavailable(
            clean(f"registry {host} kept answering {what} with {answer} ({tried})"),
            "retry later, or check the registry's health and logs (CONVEYOR_REGISTRY_TIMEOUT sets how long to try)",
        )
    if failure in ("refused", "unresolved", "unconnected"):
        return RegistryUnreachable(
            clean(f"cannot reach {host}: {answer} ({what}, {tried})"),
            "check the registry address (CI_REGISTRY) and that it is running",
        )
    return RegistryUnreachable(
        clean(f"registry {host} did not answer {what} ({answer or 'no time left'}; {tried})"),
        "check that the registry is up and reachable, or raise CONVEYOR_REGISTRY_TIMEOUT",
    )
