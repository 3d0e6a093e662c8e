"""What the API server does to an object before it stores it: defaulting (pkg/apis/*/v1/defaults.go), the
registry strategies' PrepareForCreate (a Job's generated selector, cleared status), and the little
validation the simulator answers 422 Invalid for. Also the shapes tests seed objects with (pod_spec,
workload), which are the same defaults."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]

JOB_LABELS = ("batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name", "controller-uid", "job-name")
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"


class Invalid(Exception):
    """A 422 Invalid, with the StatusDetails the real server sends."""

    def __init__(self, message: str, details: Obj) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def invalid(kind: str, group: str, name: str, field: str, reason: str, detail: str) -> Invalid:
    """errors.NewInvalid for one field error (`reason` is the cause type, e.g. FieldValueRequired)."""
    qualified = f"{kind}.{group}" if group else kind
    details: Obj = {"name": name, "group": group, "kind": kind}
    details = {k: v for k, v in details.items() if v}
    details["causes"] = [{"reason": reason, "message": detail, "field": field}]
    return Invalid(f'{qualified} "{name}" is invalid: {field}: {detail}', details)


def pull_policy(image: str) -> str:
    """The default imagePullPolicy: Always for `:latest` or no tag, else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


def container(name: str, image: str) -> Obj:
    """A container as the API server stores it after defaulting."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "Always" if image.endswith(":latest") else "IfNotPresent",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def pod_spec(containers: Mapping[str, str], init: Mapping[str, str] | None = None) -> Obj:
    """A defaulted pod spec running `containers` (name -> image) after the `init` containers."""
    spec: Obj = {"containers": [container(name, image) for name, image in containers.items()]}
    if init:
        spec["initContainers"] = [container(name, image) for name, image in init.items()]
    spec.update(
        restartPolicy="Always",
        terminationGracePeriodSeconds=30,
        dnsPolicy="ClusterFirst",
        securityContext={},
        schedulerName="default-scheduler",
    )
    return spec


def default_container(c: Obj) -> Obj:
    c = copy.deepcopy(c)
    c.setdefault("imagePullPolicy", pull_policy(str(c.get("image", ""))))
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    return c


def default_pod_spec(spec: Obj) -> Obj:
    """SetDefaults_PodSpec and SetDefaults_Container, as far as the simulator's pods go."""
    spec = copy.deepcopy(spec)
    spec["containers"] = [default_container(c) for c in spec.get("containers") or []]
    if spec.get("initContainers"):
        spec["initContainers"] = [default_container(c) for c in spec["initContainers"]]
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    return spec


def default_template(template: Obj | None) -> Obj:
    template = copy.deepcopy(template or {})
    template.setdefault("metadata", {})
    template["spec"] = default_pod_spec(template.get("spec") or {})
    return template


KINDS = {
    "statefulsets": ("apps/v1", "StatefulSet"),
    "daemonsets": ("apps/v1", "DaemonSet"),
    "jobs": ("batch/v1", "Job"),
    "cronjobs": ("batch/v1", "CronJob"),
    "pods": ("v1", "Pod"),
}


def workload(kind: str, namespace: str, name: str, spec: Obj) -> Obj:
    """A StatefulSet, DaemonSet, Job, CronJob or bare Pod (plural `kind`) running pod spec `spec`, in the
    shape the real API server stores after defaulting (a Job's selector names its own uid)."""
    labels = {"app": name}
    meta: Obj = {"name": name, "namespace": namespace, "labels": labels}
    template: Obj = {"metadata": {"labels": labels}, "spec": spec}
    batch = {**spec, "restartPolicy": "Never" if kind == "jobs" else "OnFailure"}  # Always is invalid for a Job
    body: Obj
    if kind == "statefulsets":
        body = {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": template,
            "serviceName": name,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        }
        status: Obj = {"replicas": 0, "availableReplicas": 0}
    elif kind == "daemonsets":
        body = {
            "selector": {"matchLabels": labels},
            "template": template,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "revisionHistoryLimit": 10,
        }
        status = {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}
    elif kind == "jobs":
        meta["uid"] = str(uuid.uuid4())
        meta["labels"] = labels = {
            "batch.kubernetes.io/controller-uid": meta["uid"],
            "batch.kubernetes.io/job-name": name,
            "controller-uid": meta["uid"],
            "job-name": name,
        }
        body = {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 6,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": meta["uid"]}},
            "template": {"metadata": {"labels": labels}, "spec": batch},
            "completionMode": "NonIndexed",
            "suspend": False,
            "podReplacementPolicy": "TerminatingOrFailed",
        }
        status = {}
    elif kind == "cronjobs":
        body = {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "jobTemplate": {"metadata": {}, "spec": {"template": {"metadata": {}, "spec": batch}}},
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
        }
        status = {}
    elif kind == "pods":
        meta["labels"] = {"run": name}
        body, status = copy.deepcopy(spec), {"phase": "Pending", "qosClass": "BestEffort"}
    else:
        raise ValueError(f"cannot seed {kind}: one of statefulsets, daemonsets, jobs, cronjobs, pods")
    gv, kind_name = KINDS[kind]
    return {"apiVersion": gv, "kind": kind_name, "metadata": meta, "spec": body, "status": status}


def _rolling(strategy: Obj, defaults: Obj) -> None:
    rolling = strategy.setdefault("rollingUpdate", {})
    for key, value in defaults.items():
        rolling.setdefault(key, value)


def prepare_create(kind: str, kind_name: str, group: str, obj: Obj) -> Obj:
    """The object a POST of `obj` stores: defaulted, status cleared, a Job's selector generated. Raises
    Invalid for what validation would refuse. metadata.uid is set here (a Job's selector names it)."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    name = str(meta.get("name", ""))
    if not name:
        raise invalid(
            kind_name,
            group,
            "",
            "metadata.name",
            "FieldValueRequired",
            "Required value: name or generateName is required",
        )
    meta["uid"] = str(uuid.uuid4())
    meta["generation"] = 1
    for key in ("resourceVersion", "creationTimestamp", "deletionTimestamp", "selfLink"):
        meta.pop(key, None)
    spec = obj.setdefault("spec", {}) if kind not in ("namespaces", "events", "controllerrevisions") else None
    if kind == "namespaces":
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    elif kind == "pods" and spec is not None:
        obj["spec"] = default_pod_spec(spec)
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif kind == "deployments" and spec is not None:
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            _rolling(strategy, {"maxUnavailable": "25%", "maxSurge": "25%"})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec["template"] = default_template(spec.get("template"))
        obj["status"] = {}
    elif kind == "statefulsets" and spec is not None:
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {})
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
            strategy.setdefault("rollingUpdate", {})
        if strategy["type"] == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
            strategy["rollingUpdate"].setdefault("partition", 0)
        retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        retention.setdefault("whenDeleted", "Retain")
        retention.setdefault("whenScaled", "Retain")
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec["template"] = default_template(spec.get("template"))
        obj["status"] = {"replicas": 0, "availableReplicas": 0}
    elif kind == "daemonsets" and spec is not None:
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            _rolling(strategy, {"maxUnavailable": 1, "maxSurge": 0})
        spec.setdefault("revisionHistoryLimit", 10)
        spec["template"] = default_template(spec.get("template"))
        obj["status"] = {
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        }
    elif kind == "jobs" and spec is not None:
        _default_job(obj, group, kind_name)
    elif kind == "cronjobs" and spec is not None:
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_template = spec.setdefault("jobTemplate", {})
        job_template.setdefault("metadata", {})
        job_spec = job_template.setdefault("spec", {})
        job_spec["template"] = default_template(job_spec.get("template"))
        obj["status"] = {}
    return obj


def _default_job(obj: Obj, group: str, kind_name: str) -> None:
    meta, spec = obj["metadata"], obj["spec"]
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    template = spec["template"] = default_template(spec.get("template"))
    restart = template["spec"].get("restartPolicy")
    if restart not in ("Never", "OnFailure"):
        raise invalid(
            kind_name,
            group,
            meta["name"],
            "spec.template.spec.restartPolicy",
            "FieldValueNotSupported",
            f'Unsupported value: "{restart}": supported values: "OnFailure", "Never"',
        )
    if not spec.get("manualSelector"):  # generateSelector
        labels = template["metadata"].setdefault("labels", {})
        for key in JOB_LABELS:
            labels.setdefault(key, meta["uid"] if key.endswith("controller-uid") else meta["name"])
        selector = spec.setdefault("selector", {}).setdefault("matchLabels", {})
        selector.setdefault("batch.kubernetes.io/controller-uid", meta["uid"])
    if not meta.get("labels"):  # SetDefaults_Job, when the stored object is read back
        meta["labels"] = dict(template["metadata"].get("labels") or {})
    obj["status"] = {}
