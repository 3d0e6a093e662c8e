"""A scripted requests.Session and fake registries for the registry adapter's unit tests (no network, no waiting)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from conveyor.redact import Redactor
from conveyor.registry import Credentials, RegistryClient, RegistryOptions, RetryPolicy
from conveyor.registry.manifests import sha256_digest
from tests.support.factories import FakeClock


@dataclass
class Call:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]
    data: bytes | None
    timeout: tuple[float, float] | None = None
    allow_redirects: bool = True  # requests' default: the transport must turn it off

    @property
    def path(self) -> str:
        return urlparse(self.url).path

    @property
    def query(self) -> dict[str, str]:
        merged = {k: v[0] for k, v in parse_qs(urlparse(self.url).query).items()}
        return merged | self.params


REGISTRY_HEADERS = {"Docker-Distribution-API-Version": "registry/2.0"}  # on every answer of a real registry
HTML = {"Content-Type": "text/html"}
DIGEST = "sha256:" + "a" * 64


def response(
    status: int, body: Any = b"", headers: dict[str, str] | None = None, url: str = "http://registry.test/"
) -> requests.Response:
    result = requests.Response()
    result.status_code = status
    headers = REGISTRY_HEADERS | (headers or {})
    if isinstance(body, dict | list):
        result._content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **headers}
    else:
        result._content = body
    result.headers = CaseInsensitiveDict(headers)
    result.url = url
    return result


def streamed(answer: requests.Response, url: str) -> requests.Response:
    """A fresh copy of `answer` whose body is still to be read from `raw`, as from a connection (stream=True),
    so that one scripted answer can be sent many times."""
    fresh = requests.Response()
    fresh.status_code = answer.status_code
    fresh.headers = CaseInsensitiveDict(answer.headers)
    fresh.url = answer.url if answer.url and answer.url != "http://registry.test/" else url
    fresh.raw = urllib3.HTTPResponse(body=io.BytesIO(answer.content or b""), preload_content=False)
    return fresh


# What a fake registry answers a call with: a response, or an exception for the session to raise.
Answer = requests.Response | Exception
Handler = Callable[[Call], Answer]


@dataclass
class FakeSession(requests.Session):
    """Answers each request with `handler(call)`; an Exception result is raised (e.g. ConnectionError)."""

    handler: Handler = field(default=lambda call: response(200))
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        call = Call(
            method,
            url,
            dict(kwargs.get("headers") or {}),
            dict(kwargs.get("params") or {}),
            kwargs.get("data"),
            kwargs.get("timeout"),
            kwargs.get("allow_redirects", True),
        )
        self.calls.append(call)
        result = self.handler(call)
        if isinstance(result, Exception):
            raise result
        return streamed(result, url)


def make_client(
    handler: Handler,
    credentials: Credentials | None = None,
    clock: FakeClock | None = None,
    redactor: Redactor | None = None,
    **kwargs: Any,
) -> tuple[RegistryClient, FakeSession, FakeClock]:
    session = FakeSession(handler)
    clock = clock or FakeClock()
    options = RegistryOptions(
        session=session,
        sleep=clock.sleep,
        clock=clock,
        monotonic=clock,
        redactor=redactor or Redactor(),
        retry=kwargs.pop("retry", RetryPolicy(base_delay=0.5, max_delay=8.0)),
        **kwargs,
    )
    client = RegistryClient("registry.test", credentials, options)
    return client, session, clock


PROBE = "sha256:" + "0" * 64


class TagDeletionRegistry:
    """A fake registry for tag deletion: `tag_delete` is the answer to DELETE by tag."""

    def __init__(self, tag_delete: Answer, probe: Answer | None = None) -> None:
        self.tag_delete = tag_delete
        self.probe = probe if probe is not None else response(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        self.manifests: dict[str, bytes] = {}

    def __call__(self, call: Call) -> Answer:
        reference = call.path.rsplit("/", 1)[-1]
        if call.path == "/v2/":
            return response(200, {})
        if call.method == "HEAD" and "/manifests/" in call.path:
            return response(200, b"", {"Docker-Content-Digest": DIGEST})
        if call.method == "HEAD":
            return response(404)
        if call.method == "POST":
            return response(202, b"", {"Location": "/v2/g/a/blobs/uploads/u1?_state=s"})
        if call.method == "PUT" and "/blobs/" in call.path:
            return response(201)
        if call.method == "PUT":
            self.manifests[sha256_digest(call.data or b"")] = call.data or b""
            return response(201, b"", {"Docker-Content-Digest": sha256_digest(call.data or b"")})
        if call.method == "DELETE" and reference == PROBE:
            return self.probe
        if call.method == "DELETE" and reference.startswith("sha256:"):
            return response(202) if reference in self.manifests else response(404)
        if call.method == "DELETE":
            return self.tag_delete
        raise AssertionError(call)


@dataclass
class FakeDistribution:
    """distribution 2.8 as tag deletion sees it: tags point at digests, a tag answers HEAD only while its
    manifest revision exists, a tag DELETE answers 400 DIGEST_INVALID (or, with `tag_delete`, deletes the tag),
    and a digest DELETE removes the revision, then untags. `faults` scripts the next manifest requests of a
    kind ("PUT", "DELETE-tag", "DELETE-digest"; the probe of check_deletes_allowed is not one):
    "cut-before"/"500-before" (nothing done), "cut-after"/"500-after" (done, answer lost), "half-untag"
    (revision removed, tag left dangling, 500: distribution's own half-done delete), "vanish" (someone else
    deleted the tag, then this request's connection was cut) and "repushed" (done, then someone pushed the
    tag anew, answer lost)."""

    tags: dict[str, str]
    faults: dict[str, list[str]] = field(default_factory=dict)
    tag_delete: bool = False
    revisions: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.revisions |= set(self.tags.values())

    def __call__(self, call: Call) -> Answer:
        reference = call.path.rsplit("/", 1)[-1]
        kind = call.method
        if call.method == "DELETE":
            kind = "DELETE-digest" if reference.startswith("sha256:") else "DELETE-tag"
        queue = self.faults.get(kind, []) if "/manifests/" in call.path and reference != PROBE else []
        fault = queue.pop(0) if queue else ""
        if "/manifests/" in call.path:
            self.log.append(f"{call.method} {reference[:12]}{' ' + fault if fault else ''}")
        if fault in ("cut-before", "vanish"):
            if fault == "vanish":
                self.tags.pop(call.path.rsplit("/", 1)[-1], None)
            return requests.ConnectionError("Connection aborted")
        if fault == "500-before":
            return response(500, {"errors": [{"code": "UNKNOWN"}]})
        answer = self._act(call, fault)
        if fault == "repushed":
            self.tags["t"] = "sha256:" + "9" * 64
            self.revisions.add(self.tags["t"])
        if fault in ("cut-after", "repushed"):
            return requests.ConnectionError("Connection aborted")
        if fault == "500-after":
            return response(500, {"errors": [{"code": "UNKNOWN"}]})
        return answer

    def _act(self, call: Call, fault: str) -> requests.Response:
        reference = call.path.rsplit("/", 1)[-1]
        if call.path == "/v2/":
            return response(200, {})
        if "/blobs/" in call.path:
            return response(200) if call.method == "HEAD" else response(201)
        if call.path.endswith("/tags/list"):
            return response(200, {"tags": sorted(self.tags)})
        if call.method == "HEAD":
            digest = self.tags.get(reference, reference)
            return response(200, b"", {"Docker-Content-Digest": digest}) if digest in self.revisions else response(404)
        if call.method == "PUT":
            digest = sha256_digest(call.data or b"")
            self.revisions.add(digest)
            self.tags[reference] = digest
            return response(201, b"", {"Docker-Content-Digest": digest})
        if call.method == "DELETE" and reference.startswith("sha256:"):
            if reference not in self.revisions:
                return response(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            self.revisions.discard(reference)
            if fault == "half-untag":
                return response(500, {"errors": [{"code": "UNKNOWN"}]})
            self.tags = {tag: digest for tag, digest in self.tags.items() if digest != reference}
            return response(202)
        if call.method == "DELETE" and self.tag_delete:
            return response(202) if self.tags.pop(reference, None) else response(404)
        if call.method == "DELETE":
            return response(400, {"errors": [{"code": "DIGEST_INVALID"}]})
        raise AssertionError(call)
