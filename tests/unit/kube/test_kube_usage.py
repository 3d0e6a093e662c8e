"""Which images an object references (pure), and how a namespace is listed for them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from conveyor.kube import ClusterError
from conveyor.kube.cluster import Connection
from conveyor.kube.errors import ContinueExpired, ListForbidden
from conveyor.kube.usage import KINDS, ImageUse, images_in_cluster, images_of

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"


def pod_spec(*images: str, init: tuple[str, ...] = (), ephemeral: tuple[str, ...] = ()) -> Obj:
    spec: Obj = {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}
    if init:
        spec["initContainers"] = [{"name": f"init{i}", "image": image} for i, image in enumerate(init)]
    if ephemeral:
        spec["ephemeralContainers"] = [{"name": f"debug{i}", "image": image} for i, image in enumerate(ephemeral)]
    return spec


def meta(name: str, annotations: dict[str, str] | None = None, owner: tuple[str, str] | None = None) -> Obj:
    data: Obj = {"name": name, "namespace": "shop", "annotations": annotations or {}}
    if owner:
        data["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "uid": "u1", "controller": True}]
    return data


def templated(name: str, spec: Obj, **metadata: Any) -> Obj:
    return {"metadata": meta(name, **metadata), "spec": {"replicas": 2, "template": {"spec": spec}}}


def found(kind: str, obj: Obj) -> list[tuple[str, str]]:
    return [(use.image, use.detail) for use in images_of(kind, obj)]


def test_deployment_template_with_init_and_ephemeral_containers() -> None:
    deployment = templated(
        "web",
        pod_spec("r/app:7", "r/side:1", init=("r/migrate:7",), ephemeral=("r/debug:1",)),
        annotations={REVISION: "7"},
    )
    assert found("deployments", deployment) == [
        ("r/app:7", "revision 7"),
        ("r/side:1", "revision 7"),
        ("r/migrate:7", "revision 7, init container init0"),
        ("r/debug:1", "revision 7, ephemeral container debug0"),
    ]
    [use, *_] = images_of("Deployment", deployment)
    assert use == ImageUse("r/app:7", "deployment", "web", "shop", "revision 7")
    assert use.where() == "deployment/web (namespace shop, revision 7)"


def test_old_replicaset_is_kept_for_rollout_undo_and_the_current_one_is_not() -> None:
    old = templated("web-6", pod_spec("r/app:6"), annotations={REVISION: "6"}, owner=("Deployment", "web"))
    old["spec"]["replicas"] = 0
    current = templated("web-7", pod_spec("r/app:7"), annotations={REVISION: "7"}, owner=("Deployment", "web"))
    [use] = images_of("replicasets", old)
    assert (use.kind, use.name, use.detail) == (
        "replicaset",
        "web-6",
        "revision 6 of deployment/web, kept for rollout undo",
    )
    assert use.where() == "replicaset/web-6 (namespace shop, revision 6 of deployment/web, kept for rollout undo)"
    assert found("replicaset", current) == [("r/app:7", "revision 7 of deployment/web")]
    bare = templated("lonely", pod_spec("r/app:1"))
    bare["spec"]["replicas"] = 0
    assert found("ReplicaSet", bare) == [("r/app:1", "")]


@pytest.mark.parametrize("kind", ["statefulsets", "daemonsets", "jobs"])
def test_pod_template_kinds(kind: str) -> None:
    obj = templated("thing", pod_spec("r/main:1", init=("r/prepare:1",)), annotations={REVISION: "3"})
    assert found(kind, obj) == [("r/main:1", ""), ("r/prepare:1", "init container init0")]  # no revision: not theirs
    assert {use.kind for use in images_of(kind, obj)} == {kind.removesuffix("s")}


def test_cronjob_images_are_in_its_job_template() -> None:
    cronjob = {
        "metadata": meta("nightly"),
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": {"spec": pod_spec("r/report:2", init=("r/fetch:2",))}}},
        },
    }
    assert found("cronjobs", cronjob) == found("CronJob", cronjob) == found("cronjob", cronjob)
    assert found("cronjobs", cronjob) == [("r/report:2", ""), ("r/fetch:2", "init container init0")]
    job = templated("nightly-28000", pod_spec("r/report:2"), owner=("CronJob", "nightly"))
    assert found("jobs", job) == [("r/report:2", "of cronjob/nightly")]


def test_pod_spec_and_statuses_without_runtime_prefixes() -> None:
    digest = "sha256:" + "ab" * 32
    pod = {
        "metadata": meta("web-7-x", owner=("ReplicaSet", "web-7")),
        "spec": pod_spec("r/app:7", init=("r/migrate:7",)),
        "status": {
            "containerStatuses": [
                {
                    "name": "c0",
                    "image": "r/app:7",
                    "imageID": f"docker-pullable://r/app@{digest}",
                    "state": {"running": {}},
                }
            ],
            "initContainerStatuses": [
                {"name": "init0", "image": "r/migrate:7", "imageID": "docker://" + digest, "state": {"terminated": {}}}
            ],
            "ephemeralContainerStatuses": [{"name": "debug0", "image": "", "imageID": digest, "state": {}}],
        },
    }
    assert found("pods", pod) == [
        ("r/app:7", "of replicaset/web-7"),
        ("r/migrate:7", "of replicaset/web-7, init container init0"),
        ("r/app:7", "of replicaset/web-7, running (image)"),
        (f"r/app@{digest}", "of replicaset/web-7, running (imageID)"),
        ("r/migrate:7", "of replicaset/web-7, init container init0, terminated (image)"),
    ]


def test_image_ids_without_a_repository_are_skipped() -> None:
    digest = "ab" * 32
    pod = {
        "metadata": meta("p"),
        "spec": {"containers": [{"name": "a", "image": f"r/app@sha256:{digest}"}]},
        "status": {"containerStatuses": [{"name": "a", "image": f"sha256:{digest}", "imageID": digest}]},
    }
    assert found("pod", pod) == [(f"r/app@sha256:{digest}", "")]
    pod["status"]["containerStatuses"][0]["image"] = "r/app:1"  # a status without a state yet
    assert found("pod", pod) == [(f"r/app@sha256:{digest}", ""), ("r/app:1", "image")]


def test_objects_without_images_or_spec() -> None:
    assert images_of("deployments", {"metadata": {"name": "empty"}}) == []
    assert images_of("pods", {}) == []


@dataclass
class FakeLister:
    """A cluster answering lists in chunks of two objects: `objects` per kind (with their namespace),
    `refuse` a kind everywhere, `cluster_wide` kinds only at the cluster scope, `expire` continue tokens."""

    objects: dict[str, list[Obj]]
    refuse: str = ""
    cluster_wide: frozenset[str] = frozenset()
    expire: int = 0
    calls: list[tuple[str, str | None, str]] = field(default_factory=list)
    connection: Connection = field(default_factory=lambda: Connection("prod", "shop", "https://kube.test", "test"))

    def list_page(
        self, kind: str, group: str, namespace: str | None, limit: int, token: str = ""
    ) -> tuple[list[Obj], str]:
        self.calls.append((kind, namespace, token))
        if kind == self.refuse or (namespace is None and kind in self.cluster_wide):
            raise ListForbidden(f"cannot list {kind}: forbidden", "grant it")
        if token and self.expire:
            self.expire -= 1
            raise ContinueExpired(f"cannot list {kind}: the continue token is too old")
        found = [o for o in self.objects.get(kind, []) if namespace in (None, o["metadata"].get("namespace"))]
        start = int(token or 0)
        rest = found[start + 2 :]
        return found[start : start + 2], str(start + 2) if rest else ""


def object_in(namespace: str, name: str, image: str, kind: str = "statefulsets") -> Obj:
    """An object of `kind` in `namespace` whose pods run `image`."""
    spec: Obj = {"replicas": 1, "template": {"spec": pod_spec(image)}}
    if kind == "pods":
        spec = pod_spec(image)
    elif kind == "cronjobs":
        spec = {"jobTemplate": {"spec": {"template": {"spec": pod_spec(image)}}}}
    return {"metadata": meta(name) | {"namespace": namespace}, "spec": spec}


def test_every_kind_is_listed_in_every_namespace_chunk_by_chunk() -> None:
    lister = FakeLister({"statefulsets": [object_in(f"ns{i}", f"db{i}", f"r/db:{i}") for i in range(5)]})
    uses = images_in_cluster(lister)
    assert sorted(use.image for use in uses) == [f"r/db:{i}" for i in range(5)]
    assert [token for kind, _, token in lister.calls if kind == "statefulsets"] == ["", "2", "4"]
    assert {(kind, namespace) for kind, namespace, _ in lister.calls} == {(kind, None) for kind, _ in KINDS}
    assert [kind for kind, _ in KINDS] == [
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "cronjobs",
        "jobs",
        "pods",
        "controllerrevisions",
    ]
    assert dict(KINDS)["cronjobs"] == "/apis/batch/v1" and dict(KINDS)["pods"] == "/api/v1"


def test_an_expired_continue_token_starts_that_list_over_never_a_partial_view() -> None:
    lister = FakeLister({"pods": [object_in("a", f"p{i}", f"r/p:{i}", "pods") for i in range(3)]}, expire=1)
    assert sorted(use.image for use in images_in_cluster(lister) if use.kind == "pod") == ["r/p:0", "r/p:1", "r/p:2"]
    assert [token for kind, _, token in lister.calls if kind == "pods"] == ["", "2", "", "2"]
    with pytest.raises(ClusterError, match="continue token expired 4 times"):
        images_in_cluster(FakeLister({"pods": [object_in("a", f"p{i}", "r/p:1", "pods") for i in range(3)]}, expire=9))


def test_a_forbidden_cluster_wide_list_without_namespaces_cannot_know() -> None:
    lister = FakeLister({}, cluster_wide=frozenset({"cronjobs"}))
    with pytest.raises(ListForbidden) as raised:
        images_in_cluster(lister)
    assert str(raised.value).startswith("cannot list cronjobs: forbidden, so the guard cannot know what else runs")
    assert "ClusterRole conveyor-guard" in str(raised.value) and "conveyor.guard.namespaces" in str(raised.value)


def test_a_forbidden_cluster_wide_list_falls_back_to_the_namespaces_named() -> None:
    jobs = [object_in("cron", "nightly", "r/php:1", "cronjobs"), object_in("web", "migrate", "r/php:2", "cronjobs")]
    lister = FakeLister({"cronjobs": jobs}, cluster_wide=frozenset({"cronjobs"}))
    uses = images_in_cluster(lister, fallback=("cron", "web"))
    assert sorted(use.image for use in uses) == ["r/php:1", "r/php:2"]
    assert [namespace for kind, namespace, _ in lister.calls if kind == "cronjobs"] == [None, "cron", "web"]


def test_any_failure_fails_the_whole_answer() -> None:
    with pytest.raises(ClusterError, match="cannot list cronjobs"):
        images_in_cluster(FakeLister({"deployments": [templated("web", pod_spec("r/app:1"))]}, refuse="cronjobs"))


def test_a_controller_revision_is_rollback_history() -> None:
    revision = {
        "metadata": meta("db-7d9f") | {"ownerReferences": [{"kind": "StatefulSet", "name": "db", "controller": True}]},
        "revision": 3,
        "data": {"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "r/db:old"}]}}}},
    }
    (use,) = images_of("controllerrevisions", revision)
    assert (use.image, use.kind, use.detail) == (
        "r/db:old",
        "controllerrevision",
        "revision 3 of statefulset/db, kept for rollout undo",
    )


def test_importing_usage_does_not_import_kubernetes() -> None:
    code = "import sys, conveyor.kube.usage; print('kubernetes' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
