"""A simulated Kubernetes API server on 127.0.0.1 that the real `kubernetes` Python client and real
`kubectl` talk to: discovery, namespaces, nodes, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs,
CronJobs, ControllerRevisions, Pods (and pods/log) and Events: get, list (with limit/continue pagination),
create (POST), patch, delete (with propagationPolicy) and watch, with the real watch protocol (chunked JSON
lines, resourceVersion, timeoutSeconds, fieldSelector, 410 Gone as an ERROR event), and RBAC's 403 Forbidden
for the kinds a test forbids: everywhere, only at the cluster scope, or only in some namespaces. Every
request is recorded with its body."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from devtools.k8s_sim.cluster import Cluster
from devtools.k8s_sim.defaults import Invalid
from devtools.k8s_sim.kubelet import LogError
from devtools.k8s_sim.paging import INCONSISTENT_CONTINUE, InvalidContinue, decode_continue, encode_continue, paginate
from devtools.k8s_sim.patch import PatchError, field_match, json_patch, label_match, merge_patch, strategic_merge
from devtools.k8s_sim.scenarios import Scenario
from devtools.k8s_sim.store import Gone, Obj, Store, now_iso

# kind in the store -> (group/version, Kind, namespaced, short names)
RESOURCES: dict[str, tuple[str, str, bool, list[str]]] = {
    "namespaces": ("v1", "Namespace", False, ["ns"]),
    "nodes": ("v1", "Node", False, ["no"]),
    "pods": ("v1", "Pod", True, ["po"]),
    "events": ("v1", "Event", True, ["ev"]),
    "deployments": ("apps/v1", "Deployment", True, ["deploy"]),
    "replicasets": ("apps/v1", "ReplicaSet", True, ["rs"]),
    "statefulsets": ("apps/v1", "StatefulSet", True, ["sts"]),
    "daemonsets": ("apps/v1", "DaemonSet", True, ["ds"]),
    "jobs": ("batch/v1", "Job", True, []),
    "cronjobs": ("batch/v1", "CronJob", True, ["cj"]),
    "controllerrevisions": ("apps/v1", "ControllerRevision", True, []),
}
NOT_IN_ALL = ("events", "controllerrevisions")  # namespaced kinds outside `kubectl get all`
# DELETE without a propagationPolicy: batch/v1 Jobs still orphan their pods (and the server says so)
DEFAULT_PROPAGATION = {"jobs": "Orphan"}
JOB_ORPHAN_WARNING = (
    '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to '
    'remove them or set propagationPolicy=Orphan to suppress this warning"'
)
GROUPS = ("apps", "batch")  # the API groups served, each at version v1
WITH_STATUS = ("deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs")  # a /status too
WITH_SCALE = ("deployments", "replicasets", "statefulsets")  # a /scale subresource (kubectl scale)
DEFAULT_USER = "system:serviceaccount:conveyor:deployer"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: bytes
    user_agent: str = ""

    @property
    def client(self) -> str:
        """Which client sent the request, from the User-Agent: "kubectl" or "python" (the kubernetes client)."""
        return "kubectl" if self.user_agent.startswith("kubectl") else "python"


@dataclass
class SimState:
    store: Store
    cluster: Cluster
    scenario: Scenario
    address: str = ""
    requests: list[Recorded] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)  # "gone:<client>" 410 events, "dropped:<client>" cuts
    forbidden: set[str] = field(default_factory=set)  # plural kinds RBAC denies to every verb (403 Forbidden)
    forbidden_cluster_wide: set[str] = field(default_factory=set)  # kinds denied only at the cluster scope
    forbidden_namespaces: dict[str, set[str]] = field(default_factory=dict)  # kind -> namespaces where denied
    expiring_continues: int = 0  # the next this many continue requests answer 410 Expired
    user: str = DEFAULT_USER  # who RBAC names in a 403
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def record(self, entry: Recorded) -> None:
        with self.lock:
            self.requests.append(entry)

    def count(self, name: str) -> None:
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + 1

    def recorded(self, method: str = "", path_part: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if (not method or r.method == method) and path_part in r.path]

    def forbid(self, kind: str, namespaces: tuple[str, ...] = (), cluster_wide: bool = False) -> None:
        """RBAC denies `kind` (plural): in these `namespaces`, and/or (`cluster_wide`) across all
        namespaces (a request without a namespace: `kubectl get KIND -A`) while namespaced requests work.
        With neither, everywhere (as adding to `forbidden`)."""
        with self.lock:
            if not namespaces and not cluster_wide:
                self.forbidden.add(kind)
            if cluster_wide:
                self.forbidden_cluster_wide.add(kind)
            if namespaces:
                self.forbidden_namespaces.setdefault(kind, set()).update(namespaces)

    def denies(self, kind: str, namespace: str | None) -> bool:
        """Whether RBAC refuses a request for `kind` in `namespace` (None: at the cluster scope)."""
        with self.lock:
            if kind in self.forbidden:
                return True
            if namespace is None:
                return kind in self.forbidden_cluster_wide and RESOURCES[kind][2]
            return namespace in self.forbidden_namespaces.get(kind, set())

    def expire_next_continue(self, count: int = 1) -> None:
        """The next `count` list requests that carry a continue token answer 410 Expired, as after an etcd
        compaction (kubectl's second chunk fails; client-go's pager falls back to a full list)."""
        with self.lock:
            self.expiring_continues += count

    def expire_continue_tokens(self) -> None:
        """Compact the store now: every continue token handed out so far has expired (and watches from an
        older resourceVersion get 410 Gone)."""
        self.store.compact_now()

    def take_expiry(self) -> bool:
        with self.lock:
            if self.expiring_continues > 0:
                self.expiring_continues -= 1
                return True
            return False


def status_body(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        body["details"] = details
    body["code"] = code  # the real server's field order
    return body


def forbidden_body(user: str, verb: str, kind: str, namespace: str | None, name: str, subresource: str = "") -> Obj:
    """RBAC's denial, word for word as the API server builds it (forbiddenMessage + NewForbidden)."""
    group = _group(kind)
    qualified = f"{kind}.{group}" if group else kind
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    resource = f"{kind}/{subresource}" if subresource else kind
    reason = f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" {scope}'
    subject = f'{qualified} "{name}"' if name else qualified
    details = {k: v for k, v in (("name", name), ("group", group), ("kind", kind)) if v}
    return status_body(403, "Forbidden", f"{subject} is forbidden: {reason}", details)


def resource_list(group_version: str) -> Obj:
    resources = []
    for plural, (gv, kind, namespaced, short) in RESOURCES.items():
        if gv != group_version:
            continue
        resource: Obj = {
            "name": plural,
            "singularName": kind.lower(),
            "namespaced": namespaced,
            "kind": kind,
            "verbs": VERBS,
        }
        if short:  # omitempty, as the real server
            resource["shortNames"] = short
        if namespaced and plural not in NOT_IN_ALL:
            resource["categories"] = ["all"]
        resources.append(resource)
        if plural == "pods":
            resources.append(
                {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]}
            )
        if plural in WITH_SCALE:
            resources.append(
                {
                    "name": f"{plural}/scale",
                    "singularName": "",
                    "namespaced": True,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        if plural in WITH_STATUS:
            resources.append(
                {
                    "name": f"{plural}/status",
                    "singularName": "",
                    "namespaced": True,
                    "kind": kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def sim(self) -> SimState:
        return self.server.sim

    # -- plumbing ----------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, body: Obj, headers: dict[str, str] | None = None) -> None:
        # compact, as the real server: kubectl compares a ControllerRevision's raw `data` byte for byte
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        self._send(code, status_body(code, reason, message, details))

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        body = self._body() if method in ("PATCH", "PUT", "POST", "DELETE") else b""
        agent = self.headers.get("User-Agent", "")
        self.sim.record(Recorded(method, url.path, query, self.headers.get("Content-Type", ""), body, agent))
        try:
            self._route(method, url.path.rstrip("/") or "/", query, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _client(self) -> str:
        return "kubectl" if self.headers.get("User-Agent", "").startswith("kubectl") else "python"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_POST(self) -> None:
        self._handle("POST")

    # -- routing -----------------------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/version":
            return self._send(
                200,
                {
                    "major": "1",
                    "minor": "32",
                    "gitVersion": "v1.32.0-sim",
                    "platform": "linux/amd64",
                    "goVersion": "go1.23",
                    "compiler": "gc",
                    "gitCommit": "sim",
                    "buildDate": "",
                },
            )
        if method == "GET" and path == "/api":
            return self._send(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.sim.address}],
                },
            )
        if method == "GET" and path == "/apis":
            groups = []
            for group in GROUPS:
                version = {"groupVersion": f"{group}/v1", "version": "v1"}
                groups.append({"name": group, "versions": [version], "preferredVersion": version})
            return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if method == "GET" and (path == "/openapi/v3" or path.startswith("/openapi/v3/")):
            return self._openapi(path)
        if method == "GET" and path == "/api/v1":
            return self._send(200, resource_list("v1"))
        if parts[:2] == ["api", "v1"]:
            return self._resource(method, parts[2:], "v1", query, body)
        if len(parts) >= 3 and parts[0] == "apis" and parts[1] in GROUPS and parts[2] == "v1":
            if method == "GET" and len(parts) == 3:
                return self._send(200, resource_list(f"{parts[1]}/v1"))
            return self._resource(method, parts[3:], f"{parts[1]}/v1", query, body)
        return self._error(404, "NotFound", "the server could not find the requested resource")

    def _openapi(self, path: str) -> None:
        """Just enough OpenAPI v3 for kubectl to see that the server validates fields itself (each PATCH
        operation takes fieldValidation), so `kubectl create -f` sends fieldValidation=Strict instead of
        downloading schemas to validate with."""
        versions = ["api/v1", *(f"apis/{group}/v1" for group in GROUPS)]
        if path == "/openapi/v3":
            index = {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash=sim"} for gv in versions}
            return self._send(200, {"paths": index})
        gv_path = path.removeprefix("/openapi/v3/")
        if gv_path not in versions:
            return self._error(404, "NotFound", "the server could not find the requested resource")
        group_version = "v1" if gv_path == "api/v1" else gv_path.removeprefix("apis/")
        group, _, version = group_version.rpartition("/")
        paths: Obj = {}
        for plural, (gv, kind, namespaced, _) in RESOURCES.items():
            if gv != group_version:
                continue
            prefix = f"/{gv_path}/namespaces/{{namespace}}" if namespaced else f"/{gv_path}"
            operation = {
                "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}},
            }
            paths[f"{prefix}/{plural}/{{name}}"] = {"patch": operation}
        info = {"title": "Kubernetes", "version": "v1.32.0"}
        return self._send(200, {"openapi": "3.0.0", "info": info, "paths": paths, "components": {"schemas": {}}})

    def _resource(self, method: str, rest: list[str], gv: str, query: dict[str, list[str]], body: bytes) -> None:
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        elif len(rest) == 2 and rest[0] == "namespaces":  # a namespace itself
            return self._namespace(method, rest[1])
        if not rest or rest[0] not in RESOURCES or RESOURCES[rest[0]][0] != gv:
            return self._error(404, "NotFound", "the server could not find the requested resource")
        kind = rest[0]
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if self.sim.denies(kind, namespace):
            verb = _verb(method, name, query)
            return self._send(403, forbidden_body(self.sim.user, verb, kind, namespace, name, subresource))
        if not name and method == "GET":
            if _flag(query, "watch"):
                return self._watch(kind, namespace, query)
            return self._list(kind, namespace, query)
        if not name and method == "POST":
            return self._create(kind, namespace, query, body)
        if method == "GET" and kind == "pods" and subresource == "log":
            return self._log(namespace or "", name, query)
        if subresource == "scale" and kind in WITH_SCALE and method in ("GET", "PATCH", "PUT"):
            return self._scale(method, kind, namespace or "", name, body)
        if method == "GET":
            return self._get(kind, namespace or "", name)
        if method == "PATCH" and len(rest) == 2:
            return self._patch(kind, namespace or "", name, body)
        if method == "DELETE" and len(rest) == 2:
            return self._delete(kind, namespace or "", name, query, body)
        return self._error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _create(self, kind: str, namespace: str | None, query: dict[str, list[str]], body: bytes) -> None:
        """POST to a collection: defaulted, stored, 201 Created (409 AlreadyExists, 422 Invalid). JSON or
        YAML bodies only: kubectl's typed clients (`kubectl create deployment`) send protobuf, refused 415."""
        content_type = self.headers.get("Content-Type", "application/json").split(";")[0].strip()
        if content_type not in ("application/json", "application/yaml", ""):
            return self._error(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"application/json, application/yaml (the simulator cannot decode {content_type})",
            )
        try:
            obj = yaml.safe_load(body) if content_type == "application/yaml" else json.loads(body or b"null")
        except (ValueError, yaml.YAMLError) as exc:
            return self._error(400, "BadRequest", f"error decoding body: {exc}")
        if not isinstance(obj, dict):
            return self._error(400, "BadRequest", "the body of the request is not an object")
        meta = obj.setdefault("metadata", {})
        namespaced = RESOURCES[kind][2]
        if namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                mismatch = "the namespace of the provided object does not match the namespace sent on the request"
                return self._error(400, "BadRequest", mismatch)
            if namespace is None:
                return self._error(405, "MethodNotAllowed", "the server does not allow this method on this resource")
            meta["namespace"] = namespace
            if self.sim.store.get("namespaces", "", namespace) is None:
                return self._error(
                    404,
                    "NotFound",
                    f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"},
                )
        try:
            created = self.sim.cluster.create(kind, obj)
        except Invalid as exc:
            return self._error(422, "Invalid", exc.message, exc.details)
        except FileExistsError:
            group = _group(kind)
            qualified = f"{kind}.{group}" if group else kind
            name = str(meta.get("name", ""))
            details = {k: v for k, v in (("name", name), ("group", group), ("kind", kind)) if v}
            return self._error(409, "AlreadyExists", f'{qualified} "{name}" already exists', details)
        if query.get("dryRun"):
            self.sim.store.delete(kind, created["metadata"].get("namespace", ""), created["metadata"]["name"])
        return self._send(201, _typed(kind, created))

    def _delete(self, kind: str, namespace: str, name: str, query: dict[str, list[str]], body: bytes) -> None:
        """DELETE honouring propagationPolicy (query or DeleteOptions body; orphanDependents too)."""
        options: Obj = {}
        if body.strip():
            try:
                decoded = json.loads(body)
            except json.JSONDecodeError as exc:
                return self._error(400, "BadRequest", f"error decoding DeleteOptions: {exc}")
            options = decoded if isinstance(decoded, dict) else {}
        policy = query.get("propagationPolicy", [""])[0] or str(options.get("propagationPolicy") or "")
        if not policy and isinstance(options.get("orphanDependents"), bool):
            policy = "Orphan" if options["orphanDependents"] else "Background"
        headers = {}
        if not policy:
            policy = DEFAULT_PROPAGATION.get(kind, "Background")
            if kind == "jobs":
                headers["Warning"] = JOB_ORPHAN_WARNING
        if policy not in ("Orphan", "Background", "Foreground"):
            return self._error(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}": '
                'supported values: "Foreground", "Background", "Orphan", "nil"',
            )
        deleted = self.sim.cluster.delete_cascading(kind, namespace, name, policy)
        if deleted is None:
            return self._not_found(kind, name)
        return self._send(200, _typed(kind, deleted), headers)

    def _scale(self, method: str, kind: str, namespace: str, name: str, body: bytes) -> None:
        """The autoscaling/v1 Scale subresource: read, or set spec.replicas through a patch or an update."""
        obj = self.sim.store.get(kind, namespace, name)
        if obj is None:
            return self._not_found(kind, name)
        if method != "GET":
            try:
                change = json.loads(body or b"{}")
            except json.JSONDecodeError as exc:
                return self._error(400, "BadRequest", f"error decoding body: {exc}")
            current = _scale_of(obj)
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
            try:
                wanted = json_patch(current, change) if content_type == "application/json-patch+json" else None
            except (PatchError, KeyError, IndexError, ValueError, TypeError) as exc:
                return self._error(422, "Invalid", str(exc))
            if wanted is None:
                wanted = change if method == "PUT" else merge_patch(current, change)
            replicas = int(wanted.get("spec", {}).get("replicas", current["spec"]["replicas"]))
            obj = (
                self.sim.store.update(kind, namespace, name, lambda o: o["spec"].__setitem__("replicas", replicas))
                or obj
            )
        return self._send(200, _scale_of(obj))

    def _log(self, namespace: str, name: str, query: dict[str, list[str]]) -> None:
        """GET pods/{name}/log: what the simulated containers printed, as text/plain."""
        pod = self.sim.store.get("pods", namespace, name)
        if pod is None:
            return self._not_found("pods", name)
        tail_lines = query.get("tailLines", [""])[0]
        try:
            text = self.sim.cluster.kubelet.log(
                pod,
                query.get("container", [""])[0],
                int(tail_lines) if tail_lines else None,
                _flag(query, "timestamps"),
                _flag(query, "previous"),
            )
        except LogError as exc:
            return self._error(400, "BadRequest", str(exc))
        return self._send_text(200, text)

    def _not_found(self, kind: str, name: str) -> None:
        group = _group(kind)
        qualified = f"{kind}.{group}" if group else kind
        self._error(404, "NotFound", f'{qualified} "{name}" not found', {"name": name, "group": group, "kind": kind})

    def _namespace(self, method: str, name: str) -> None:
        obj = self.sim.store.get("namespaces", "", name)
        if method != "GET":
            return self._error(405, "MethodNotAllowed", "the server does not allow this method")
        if obj is None:
            return self._not_found("namespaces", name)
        return self._send(200, _typed("namespaces", obj))

    def _get(self, kind: str, namespace: str, name: str) -> None:
        obj = self.sim.store.get(kind, namespace, name)
        if obj is None:
            return self._not_found(kind, name)
        self._send(200, _typed(kind, obj))

    def _list(self, kind: str, namespace: str | None, query: dict[str, list[str]]) -> None:
        store = self.sim.store
        try:
            limit = max(0, int(query.get("limit", ["0"])[0] or 0))
        except ValueError:
            return self._error(400, "BadRequest", f"invalid limit: {query['limit'][0]}")
        token = query.get("continue", [""])[0]
        start = ""
        if token:
            try:
                start, rv = decode_continue(token)
            except InvalidContinue as exc:
                return self._error(400, "BadRequest", f"invalid continue token: {exc}")
            try:
                if self.sim.take_expiry():
                    raise Gone("expired on request")
                if rv == -1:  # continue from the newest data
                    items, rv = store.list(kind, namespace)
                else:
                    items = store.list_at(kind, namespace, rv)
            except Gone:
                body = status_body(410, "Expired", INCONSISTENT_CONTINUE)
                body["metadata"] = {"continue": encode_continue(start, -1)}
                return self._send(410, body)
        else:
            items, rv = store.list(kind, namespace)
        items = [i for i in items if _selected(i, query)]
        selectors = bool(query.get("labelSelector", [""])[0] or query.get("fieldSelector", [""])[0])
        cluster_wide = namespace is None and RESOURCES[kind][2]
        page = paginate(items, cluster_wide, limit, start, rv, counted=not selectors)
        gv, kind_name, _, _ = RESOURCES[kind]
        for item in page.items:
            item.pop("apiVersion", None)
            item.pop("kind", None)
        metadata: Obj = {"resourceVersion": str(rv)}
        if page.token:
            metadata["continue"] = page.token
        if page.remaining is not None:
            metadata["remainingItemCount"] = page.remaining
        self._send(200, {"kind": f"{kind_name}List", "apiVersion": gv, "metadata": metadata, "items": page.items})

    def _patch(self, kind: str, namespace: str, name: str, body: bytes) -> None:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            patch = json.loads(body or b"null")
        except json.JSONDecodeError as exc:
            return self._error(400, "BadRequest", f"error decoding patch: {exc}")
        apply = {
            "application/strategic-merge-patch+json": strategic_merge,
            "application/merge-patch+json": merge_patch,
            "application/json-patch+json": json_patch,
        }.get(content_type)
        if apply is None:
            return self._error(
                415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}"
            )
        failure: list[str] = []

        def mutate(obj: Obj) -> None:
            try:
                patched = apply(obj, patch)
            except (PatchError, KeyError, IndexError, ValueError, TypeError) as exc:
                failure.append(str(exc))
                return
            for key in ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp"):
                if key in obj["metadata"]:
                    patched.setdefault("metadata", {})[key] = obj["metadata"][key]
            patched["status"] = obj.get("status", {})
            patched["spec"] = _without_nulls(patched.get("spec", {}))  # a typed server drops them on decoding
            obj.clear()
            obj.update(patched)

        updated = self.sim.store.update(kind, namespace, name, mutate)
        if updated is None:
            return self._not_found(kind, name)
        if failure:
            return self._error(422, "Invalid", failure[0])
        self._send(200, _typed(kind, updated))

    # -- watch -------------------------------------------------------------------------------------------
    def _watch(self, kind: str, namespace: str | None, query: dict[str, list[str]]) -> None:
        timeout = float(query.get("timeoutSeconds", [str(random.randint(1800, 3600))])[0])
        drop_after = self.sim.scenario.drop_watches_after
        started = time.monotonic()
        deadline = started + timeout
        drop_at = started + drop_after if drop_after else None
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in self._watch_lines(kind, namespace, query, deadline, drop_at):
            if line is None:  # drop the connection without ending the chunked body
                self.sim.count(f"dropped:{self._client()}")
                self.close_connection = True
                return
            data = line.encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _watch_lines(
        self, kind: str, namespace: str | None, query: dict[str, list[str]], deadline: float, drop_at: float | None
    ) -> Iterator[str | None]:
        store = self.sim.store
        requested = query.get("resourceVersion", [""])[0]
        if requested in ("", "0"):
            items, last = store.list(kind, namespace)
            for item in items:
                if _selected(item, query):
                    yield json.dumps({"type": "ADDED", "object": _typed(kind, item)})
        else:
            last = int(requested)
        while not self.sim.stopping.is_set():
            now = time.monotonic()
            if drop_at is not None and now >= drop_at:
                yield None
                return
            if now >= deadline:
                return
            try:
                events = store.events_after(last, kind, namespace)
            except Gone as exc:
                self.sim.count(f"gone:{self._client()}")
                yield json.dumps({"type": "ERROR", "object": status_body(410, "Expired", str(exc))})
                return
            for event in events:
                last = event.rv
                if _selected(event.obj, query):
                    yield json.dumps({"type": event.type, "object": _typed(kind, event.obj)})
            wait_until = min(deadline, drop_at or deadline)
            store.wait_for_change(last, max(0.0, min(0.5, wait_until - time.monotonic())))


def _scale_of(obj: Obj) -> Obj:
    """The autoscaling/v1 Scale of a Deployment, ReplicaSet or StatefulSet."""
    keys = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    selector = obj["spec"].get("selector", {}).get("matchLabels", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: obj["metadata"][k] for k in keys if k in obj["metadata"]},
        "spec": {"replicas": int(obj["spec"].get("replicas", 1))},
        "status": {
            "replicas": int(obj.get("status", {}).get("replicas", 0)),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        },
    }


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _group(kind: str) -> str:
    """The API group of a plural kind: "" for the core group."""
    gv = RESOURCES[kind][0]
    return gv.split("/")[0] if "/" in gv else ""


def _verb(method: str, name: str, query: dict[str, list[str]]) -> str:
    """The RBAC verb of a request, as the API server's RequestInfo resolves it."""
    if method == "GET":
        return "watch" if _flag(query, "watch") else "get" if name else "list"
    return {"PATCH": "patch", "PUT": "update", "POST": "create"}.get(method, "delete" if name else "deletecollection")


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[0].lower() in ("1", "true")


def _selected(obj: Obj, query: dict[str, list[str]]) -> bool:
    fields = query.get("fieldSelector", [""])[0]
    labels = query.get("labelSelector", [""])[0]
    return field_match(fields, obj) and label_match(labels, obj.get("metadata", {}).get("labels") or {})


def _typed(kind: str, obj: Obj) -> Obj:
    gv, kind_name, _, _ = RESOURCES[kind]
    return {"apiVersion": gv, "kind": kind_name, **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}}


def node(name: str, number: int) -> Obj:
    """A Ready simulated node, as its kubelet registers it."""
    stamp = now_iso()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"podCIDR": f"10.244.{number}.0/24", "podCIDRs": [f"10.244.{number}.0/24"]},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
            "addresses": [{"type": "InternalIP", "address": f"10.0.0.{number}"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0-sim",
                "containerRuntimeVersion": "containerd://1.7.24",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "Simulated Linux",
                "kernelVersion": "6.1.0",
            },
        },
    }


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    sim: SimState

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients drop keep-alive connections at will (kubectl on exit): not worth a traceback."""


@dataclass
class KubeSim:
    """The whole simulated cluster: API server, store and controller. Use as a context manager."""

    scenario: Scenario
    registry: str | None = None  # host:port of the real test registry the kubelet pulls from
    namespaces: tuple[str, ...] = ("default", "conveyor")
    state: SimState | None = None
    _server: SimServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def sim(self) -> SimState:
        assert self.state is not None
        return self.state

    @property
    def store(self) -> Store:
        return self.sim.store

    @property
    def cluster(self) -> Cluster:
        return self.sim.cluster

    def start(self) -> KubeSim:
        store = Store(keep_history=not self.scenario.compact_history)
        for namespace in self.namespaces:
            store.create(
                "namespaces",
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": namespace},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )
        for number in range(1, self.scenario.nodes + 1):
            store.create("nodes", node(f"sim-node-{number}", number))
        cluster = Cluster(store=store, scenario=self.scenario, registry=self.registry)
        self.state = SimState(store=store, cluster=cluster, scenario=self.scenario)
        self._server = SimServer(("127.0.0.1", 0), Handler)
        self._server.sim = self.state
        self.state.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="k8s-sim-api", daemon=True)
        self._thread.start()
        cluster.start()
        return self

    def stop(self) -> None:
        if self.state is not None:
            self.state.stopping.set()
            self.state.cluster.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._server = None

    def __enter__(self) -> KubeSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: Path, namespace: str = "conveyor", context: str = "sim") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sim-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": "sim-user", "user": {"token": "sim-token"}}],
            "contexts": [
                {"name": context, "context": {"cluster": "sim-cluster", "user": "sim-user", "namespace": namespace}}
            ],
            "current-context": context,
            "preferences": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        return path
