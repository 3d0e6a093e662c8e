"""How a registry client talks to its registry, given once (regclient's options, passed down instead of
copied argument lists): the scheme, the deadline of one operation and the socket timeouts of one attempt,
the retry policy and clocks, the stop, the token scope's actions, an injected HTTP session, the redactor
that learns every secret, and GitLab's tags API for registries that cannot delete a tag themselves."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from conveyor.redact import Redactor
from conveyor.registry.retry import RetryPolicy, never

DEFAULT_ACTIONS = ("pull", "push", "delete")


@dataclass(frozen=True)
class GitLabTagsApi:
    """GitLab's container registry API (`DELETE /projects/:id/registry/repositories/:repo_id/tags/:tag`).
    `token_header` is PRIVATE-TOKEN for personal/project access tokens, JOB-TOKEN for CI_JOB_TOKEN."""

    api_url: str
    project_id: str
    token: str = field(repr=False)
    token_header: str = "PRIVATE-TOKEN"


@dataclass(frozen=True)
class RegistryOptions:
    """`deadline`: seconds one operation may take, all of it (every attempt's headers and body, every page
    of a tags list, the waits between retries; CONVEYOR_REGISTRY_TIMEOUT); each attempt also gives up after
    `connect_timeout` without a connection and `read_timeout` without a byte. `clock` (wall time) dates
    tokens, `monotonic` measures deadlines, `sleep` waits between tries. `actions` are what tokens are asked
    for, per repository. `session`: an HTTP session to use (the caller's to close; only a session of
    conveyor.registry.watchdog's adapters, as the client's own, has its sockets cut at the deadline or stop).

    `stopped`: asked at least every 0.25 s, by the request loop, the waits between tries and a watch over
    every read waiting for its answer; wire it to the task's Ctrl-C/SIGTERM flag (wiring/toolbox.py passes
    `lambda: stop.requested`). Once it answers True, no new request of any kind is sent and a read (GET,
    HEAD, the token realm) still waiting for its answer is abandoned: both raise ReadAbandoned. A write
    already sent (PUT, DELETE, POST, PATCH) is finished, within the deadline, as without a stop."""

    scheme: str = "https"
    redactor: Redactor = field(default_factory=Redactor)
    session: requests.Session | None = None
    actions: tuple[str, ...] = DEFAULT_ACTIONS
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    deadline: float = 60.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    pool_size: int = 16
    stopped: Callable[[], bool] = never
    gitlab: GitLabTagsApi | None = None
