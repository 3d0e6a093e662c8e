"""A thin typed wrapper over the `kubernetes` client's ApiClient: every API call Conveyor makes, each with a
client-side timeout, answering the API's JSON as plain dicts (where the configuration comes from is
conveyor.kube.kubeconfig's).

`kubernetes` is imported inside functions only: importing this module (as `inv --list` does) is cheap.
Every failure of the cluster becomes one ClusterError line."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conveyor.kube.errors import ClusterError, ContinueExpired, DeploymentNotFound, ListForbidden
from conveyor.kube.objects import match_labels_selector

Obj = dict[str, Any]
T = TypeVar("T")

DEPLOYMENTS = "/apis/apps/v1/namespaces/{namespace}/deployments"
DEPLOYMENT = DEPLOYMENTS + "/{name}"
FIELD_MANAGER = "conveyor"  # kubectl set image sends fieldManager=kubectl-set; managedFields then name Conveyor


@dataclass(frozen=True)
class Timeouts:
    """Client-side timeouts in seconds: to connect, and to wait for data on any request (watches add theirs)."""

    connect: float = 5.0
    read: float = 30.0


DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True)
class Connection:
    """Which cluster, context and namespace Conveyor talks to, and where that was configured."""

    context: str
    namespace: str
    server: str
    source: str

    def describe(self) -> str:
        return f"context {self.context or '(none)'}, namespace {self.namespace} ({self.server}, from {self.source})"


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    object: Obj


class WatchInterrupted(Exception):
    """The watch connection dropped or went silent: resume from the last resourceVersion."""


class WatchExpired(Exception):
    """410 Gone: the resourceVersion is too old: list again, then watch from the list's resourceVersion."""


def module(name: str) -> Any:
    """Import a module of the `kubernetes` client when it is needed (and as Any: it is untyped)."""
    return importlib.import_module(name)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# -- the API calls -----------------------------------------------------------------------------------------
@dataclass
class Cluster:
    """One namespace of one cluster. Methods answer the API's JSON (dicts) and raise ClusterError."""

    api_client: Any
    connection: Connection
    timeouts: Timeouts = field(default_factory=Timeouts)

    @property
    def namespace(self) -> str:
        return self.connection.namespace

    def close(self) -> None:
        """Release the client's connection pool."""
        self.api_client.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _timeout(self, read: float | None = None) -> tuple[float, float]:
        return (self.timeouts.connect, read if read is not None else self.timeouts.read)

    def send(
        self,
        method: str,
        path: str,
        path_params: Mapping[str, str],
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "",
        read_timeout: float | None = None,
    ) -> Any:
        """One API request through the `kubernetes` client's ApiClient (its configuration, authentication,
        TLS and connection pool) without its generated API classes, whose import costs ~0.8 s; answers the
        urllib3 response, unread (watches stream it). A status outside 2xx raises ApiException."""
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        method, url, headers, body, post = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            path_params=dict(path_params),
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api_client.call_api(
            method, url, headers, body, post, _request_timeout=self._timeout(read_timeout)
        )
        if not 200 <= response.status < 300:
            response.read()
            raise ApiException(http_resp=response)
        return response.response

    def call_json(
        self,
        what: str,
        call: Callable[[], Any],
        not_found: Callable[[], ClusterError] | None = None,
        forbidden_hint: str = "",
    ) -> Obj:
        """The one place API errors become ClusterErrors; answers the decoded JSON body."""
        response = self.request(what, call, not_found, forbidden_hint)
        try:
            data = json.loads(response.data)
        except ValueError:
            raise ClusterError(f"{what}: the API server answered something that is not JSON") from None
        return data if isinstance(data, dict) else {}

    def request(
        self,
        what: str,
        call: Callable[[], T],
        not_found: Callable[[], ClusterError] | None = None,
        forbidden_hint: str = "",
    ) -> T:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return call()
        except ApiException as exc:
            if exc.status == 404 and not_found is not None:
                raise not_found() from None
            hint = forbidden_hint if exc.status == 403 and forbidden_hint else _hint(exc.status)
            raise ClusterError(f"{what}: {_api_message(exc)}", hint) from None
        except HTTPError as exc:
            raise ClusterError(
                f"{what}: cannot reach the Kubernetes API at {self.connection.server} ({_network_reason(exc)})",
                f"check that the cluster is up and that {self.connection.source} points at it",
            ) from None

    def verify(self) -> None:
        self.call_json("contacting the cluster", lambda: self.send("GET", "/version/", {}))
        self._check_namespace()

    def _check_namespace(self) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.send("GET", "/api/v1/namespaces/{namespace}", {"namespace": self.namespace})
        except ApiException as exc:
            if exc.status == 404:
                raise ClusterError(
                    f'namespace "{self.namespace}" not found in context {self.connection.context or "(none)"}',
                    "set KUBE_NAMESPACE (or the context's namespace) to an existing namespace",
                ) from None
            if exc.status != 403:  # may not read namespaces (GitLab agent roles): the first real call will tell
                raise ClusterError(
                    f"checking namespace {self.namespace}: {_api_message(exc)}", _hint(exc.status)
                ) from None

    # Deployments ------------------------------------------------------------------------------------------
    def _missing(self, name: str) -> Callable[[], ClusterError]:
        return lambda: DeploymentNotFound(
            f'deployment "{name}" not found in namespace "{self.namespace}"',
            "check the deployment name and the namespace (KUBE_NAMESPACE)",
        )

    def get_deployment(self, name: str) -> Obj:
        return self.call_json(
            f"reading deployment {name}",
            lambda: self.send("GET", DEPLOYMENT, {"namespace": self.namespace, "name": name}),
            self._missing(name),
        )

    def list_deployment(self, name: str) -> tuple[Obj, str]:
        """The Deployment and the list's resourceVersion (where a watch must start); DeploymentNotFound."""
        listed = self.call_json(
            f"listing deployment {name}",
            lambda: self.send(
                "GET", DEPLOYMENTS, {"namespace": self.namespace}, [("fieldSelector", f"metadata.name={name}")]
            ),
        )
        items = listed.get("items") or []
        if not items:
            raise self._missing(name)()
        return items[0], str((listed.get("metadata") or {}).get("resourceVersion", ""))

    def patch_deployment(self, name: str, body: Any, content_type: str) -> Obj:
        return self.call_json(
            f"patching deployment {name}",
            lambda: self.send(
                "PATCH",
                DEPLOYMENT,
                {"namespace": self.namespace, "name": name},
                [("fieldManager", FIELD_MANAGER)],
                body=body,
                content_type=content_type,
            ),
            self._missing(name),
        )

    def watch_deployment(self, name: str, resource_version: str, seconds: int) -> Iterator[WatchEvent]:
        """Watch one Deployment from `resource_version` for at most `seconds` (server-side timeoutSeconds,
        plus a client-side read timeout a little longer). Raises WatchInterrupted when the connection drops
        and WatchExpired on 410 Gone; other ERROR events become ClusterError."""
        from urllib3.exceptions import HTTPError

        response = self.request(
            f"watching deployment {name}",
            lambda: self.send(
                "GET",
                DEPLOYMENTS,
                {"namespace": self.namespace},
                [
                    ("fieldSelector", f"metadata.name={name}"),
                    ("resourceVersion", resource_version),
                    ("allowWatchBookmarks", "true"),
                    ("timeoutSeconds", str(seconds)),
                    ("watch", "true"),
                ],
                read_timeout=seconds + 5.0,
            ),
        )
        try:
            for line in _lines(response):
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        raise WatchExpired(str(status.get("message", "")))
                    raise ClusterError(f"watching deployment {name}: {status.get('message', status)}")
                yield WatchEvent(str(event.get("type")), event.get("object") or {})
        except (HTTPError, OSError, ValueError) as exc:
            raise WatchInterrupted(one_line(exc)) from None
        finally:
            response.release_conn()

    def replicasets(self, deployment: Obj) -> list[Obj]:
        return self._list("replicasets", "/apis/apps/v1", ("labelSelector", match_labels_selector(deployment)))

    def pods(self, selector: str) -> list[Obj]:
        return self._list("pods", "/api/v1", ("labelSelector", selector))

    def pod_events(self, pod: str) -> list[Obj]:
        return self._list("events", "/api/v1", ("fieldSelector", f"involvedObject.kind=Pod,involvedObject.name={pod}"))

    def list_page(
        self, kind: str, group: str, namespace: str | None, limit: int, token: str = ""
    ) -> tuple[list[Obj], str]:
        """One chunk of every object of `kind` (plural) in `namespace`, or in every namespace when None, and
        the continue token of the next chunk ("" when this was the last). `group` is the API group's path
        ("/api/v1", "/apis/batch/v1"). A 403 raises ListForbidden (saying which RBAC rule is missing), a 410
        on `token` ContinueExpired; other failures name the kind, the scope and the context."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        scope = f'in namespace "{namespace}"' if namespace else "in every namespace"
        path = f"{group}/namespaces/{{namespace}}/{kind}" if namespace else f"{group}/{kind}"
        query = [("limit", str(limit))] + ([("continue", token)] if token else [])
        what = f"cannot list {kind} {scope} (context {self.connection.context or '(none)'})"
        try:
            response = self.send("GET", path, {"namespace": namespace} if namespace else {}, query)
        except ApiException as exc:
            if exc.status == 403:
                raise ListForbidden(f"{what}: {_api_message(exc)}", _rbac_hint(kind, group, namespace)) from None
            if exc.status == 410 and token:
                raise ContinueExpired(f"{what}: {_api_message(exc)}") from None
            raise ClusterError(f"{what}: {_api_message(exc)}", _hint(exc.status)) from None
        except HTTPError as exc:
            raise ClusterError(
                f"{what}: cannot reach the Kubernetes API at {self.connection.server} ({_network_reason(exc)})",
                f"check that the cluster is up and that {self.connection.source} points at it",
            ) from None
        listed = _json_object(response.data, what)
        metadata = listed.get("metadata") or {}
        return list(listed.get("items") or []), str(metadata.get("continue") or "")

    def _list(self, kind: str, group: str, selector: tuple[str, str]) -> list[Obj]:
        """The items of `kind` in the namespace that match one label or field selector."""
        listed = self.call_json(
            f"listing {kind}",
            lambda: self.send(
                "GET", f"{group}/namespaces/{{namespace}}/{kind}", {"namespace": self.namespace}, [selector]
            ),
        )
        return list(listed.get("items") or [])


def _lines(response: Any) -> Iterator[bytes]:
    """The JSON lines of a watch response, as they arrive."""
    buffer = b""
    for chunk in response.stream(None, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer


def _network_reason(exc: BaseException) -> str:
    """The root of a urllib3 error in a few words: "[Errno 111] Connection refused", "read timed out"..."""
    reason = getattr(exc, "reason", None) or exc
    text = one_line(reason)
    if "[Errno" in text:
        return text[text.index("[Errno") :].rstrip(")\"'")
    if "timed out" in text.lower():
        return "timed out"
    return text


def _api_message(exc: Any) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return " ".join(str(message or f"HTTP {exc.status} {exc.reason}").split())


def _json_object(data: bytes, what: str) -> Obj:
    try:
        decoded = json.loads(data)
    except ValueError:
        raise ClusterError(f"{what}: the API server answered something that is not JSON") from None
    return decoded if isinstance(decoded, dict) else {}


def _rbac_hint(kind: str, group: str, namespace: str | None) -> str:
    api_group = group.split("/")[2] if group.startswith("/apis/") else ""
    where = f'in namespace "{namespace}"' if namespace else "at the cluster scope (a ClusterRole)"
    return (
        f'the kubeconfig\'s user needs a rule allowing verbs get and list on resource "{kind}" in API group '
        f'"{api_group}" {where}'
    )


def _hint(status: int | None) -> str:
    if status in (401, 403):
        return "the cluster refused Conveyor's credentials or role: check the kubeconfig's user and its RBAC rights"
    return "see the message from the API server"
