"""The simulated kubelet: pulls images from the real test registry, starts containers, reports pod status
as a real node does, decides deterministically how a container ends, and keeps what it "printed" for
`pods/{name}/log`.

Pulling: a HEAD of the image's manifest in the test registry; an image that was never pushed fails with
ErrImagePull, then ImagePullBackOff; a pulled image's status carries containerd's imageID
(<repository>@<the registry's digest>). Images outside the test registry pull unless their tag says
`missing`.

How a container ends (the convention tests write into a pod spec), read from the words of the container's
`command` and `args` (each word also split on whitespace, so `sh -c "sim:fail"` counts):

  sim:fail          the container exits with code 1
  sim:exit=N        the container exits with code N
  sim:sleep=S       the container runs S seconds (a float) before it exits (default RUN_TIME, 0.2 s)
  sim:log=TEXT      the container prints TEXT as one line (a whole word `sim:log=a b` prints `a b`)

A container of a pod whose restartPolicy is Never or OnFailure (a Job's) exits with code 0 after RUN_TIME
unless told otherwise; a container of a restartPolicy Always pod runs until stopped unless it has
sim:fail or sim:exit (then it exits after its run time and is restarted: CrashLoopBackOff). OnFailure
restarts a container that exits non-zero; Never leaves the pod Failed (or Succeeded when every container
exited 0). A container whose image is in Cluster.crash_images, or every new container in a Scenario with
crash=True, exits 1 after CRASH_TIME.

What a container prints, in order: its `args` that are not sim: markers, joined by spaces, as one line
(when there are any), then each sim:log= text. The log is there from the moment the container starts."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests

from conveyor.registry.manifests import ACCEPT as MANIFEST_TYPES
from devtools.k8s_sim.store import Obj, now_iso

if TYPE_CHECKING:
    from devtools.k8s_sim.cluster import Cluster

RUN_TIME = 0.2  # a run-to-completion container's default run time
CRASH_TIME = 0.3  # a crashing container exits this long after it starts
CRASH_BACKOFF = 1.0  # a crashed container is restarted this long after it exited
PULL_BACKOFF = 3.0  # a failed pull is retried this long after it failed
SUCCEEDED, FAILED = "Succeeded", "Failed"


def repository(image: str) -> str:
    """The image's repository as containerd names it: no tag or digest, Docker Hub names in full."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    first = name.split("/", 1)[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        name = "docker.io/" + (name if "/" in name else f"library/{name}")
    return name


@dataclass(frozen=True)
class Pull:
    """The outcome of pulling one image: containerd's imageID, or its error message."""

    image_id: str = ""
    error: str = ""


def pull_image(image: str, registry: str | None) -> Pull:
    """Pull `image` from the test registry (a HEAD of its manifest; the imageID carries the digest the
    registry answered). Images elsewhere pull unless their tag says `missing`, with a fake digest."""
    fake = Pull(f"{repository(image)}@sha256:{hashlib.sha256(image.encode()).hexdigest()}")
    host, _, rest = image.partition("/")
    if registry is None or host != registry:
        return fake if ":missing" not in image else Pull(error=f'failed to resolve reference "{image}": not found')
    repo, ref = (rest.split("@", 1) if "@" in rest else rest.rsplit(":", 1)) if ":" in rest else (rest, "latest")
    try:
        answer = requests.head(
            f"http://{host}/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_TYPES}, timeout=5
        )
    except requests.RequestException as exc:
        return Pull(error=f'failed to do request: Head "http://{host}/v2/{repo}/manifests/{ref}": {exc}')
    if answer.status_code == 200:
        digest = answer.headers.get("Docker-Content-Digest")
        return Pull(f"{repository(image)}@{digest}") if digest else fake
    return Pull(
        error=f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {image}: not found'
    )


def pod_images(spec: Obj) -> list[str]:
    """Every image a pod spec needs, init containers first, each once."""
    containers = [*spec.get("initContainers", []), *spec.get("containers", [])]
    return list(dict.fromkeys(str(c["image"]) for c in containers))


# -- the container convention ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerPlan:
    """How one simulated container behaves: its exit code (None: it runs until stopped), how long it runs
    before exiting, and the lines it prints."""

    exit_code: int | None
    run_time: float
    lines: tuple[str, ...]


_MARKER = re.compile(r"^sim:(fail|exit=(-?\d+)|sleep=([0-9.]+)|log=(.*))$", re.DOTALL)


def plan_container(container: Obj, restart_policy: str = "Always") -> ContainerPlan:
    """The ContainerPlan of `container` by the module's convention, for a pod with `restart_policy`."""
    command = [str(word) for word in container.get("command") or []]
    args = [str(word) for word in container.get("args") or []]
    exit_code: int | None = None
    run_time = RUN_TIME
    logs: list[str] = []
    for word in [*command, *args]:
        tokens = [word] if word.startswith("sim:log=") else word.split()
        for token in tokens:
            match = _MARKER.match(token)
            if match is None:
                continue
            if match.group(1) == "fail":
                exit_code = 1
            elif match.group(2) is not None:
                exit_code = int(match.group(2))
            elif match.group(3) is not None:
                run_time = float(match.group(3))
            else:
                logs.append(match.group(4))
    if exit_code is None and restart_policy in ("Never", "OnFailure"):
        exit_code = 0
    echoed = " ".join(word for word in args if not word.startswith("sim:"))
    lines = ((echoed,) if echoed else ()) + tuple(logs)
    return ContainerPlan(exit_code, run_time, lines)


def _iso(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PodRuntime:
    """What the kubelet knows of one pod (kept beside the API object)."""

    created: float
    phase: str = "pulling"  # pulling | backoff | starting | running | crashed | ready | done
    since: float = 0.0
    restarts: int = 0
    pull_error: str = ""
    failed_image: str = ""  # the image whose pull failed
    image_ids: dict[str, str] = field(default_factory=dict)  # image -> containerd's imageID, once pulled
    started: float = 0.0  # when the containers (last) started, monotonic clock
    started_wall: float = 0.0  # the same, wall clock
    last_exit: tuple[int, float] = (1, 0.0)  # a crash-looping container's last exit: (code, finished wall)
    exits: dict[str, tuple[int, float]] = field(default_factory=dict)  # container -> (exit code, finished wall)
    logs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # container -> [(timestamp, line)]


class LogError(Exception):
    """A pods/log request the kubelet refuses (400 BadRequest with this message)."""


class Kubelet:
    """Runs every pod in the store on its (simulated) node."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @property
    def pods(self) -> dict[str, PodRuntime]:
        return self.cluster.pods

    def runtime(self, pod: Obj) -> PodRuntime:
        now = time.monotonic()
        return self.pods.setdefault(pod["metadata"]["uid"], PodRuntime(created=now, since=now))

    def sync(self, pod: Obj) -> None:
        cluster, scenario = self.cluster, self.cluster.scenario
        meta = pod["metadata"]
        runtime = self.runtime(pod)
        now = time.monotonic()
        if meta.get("deletionTimestamp"):
            if now - runtime.since >= scenario.terminate_delay and not meta.get("finalizers"):
                cluster.store.delete("pods", meta["namespace"], meta["name"])
                self.pods.pop(meta["uid"], None)
            return
        if runtime.phase == "done":
            return
        policy = str(pod["spec"].get("restartPolicy", "Always"))
        first = pod["spec"]["containers"][0]
        plan = plan_container(first, policy)
        crash_image = scenario.crash or first["image"] in cluster.crash_images
        crash_time = CRASH_TIME if crash_image else plan.run_time
        exit_code = 1 if crash_image else plan.exit_code
        crash_loop = exit_code is not None and (policy == "Always" or (policy == "OnFailure" and exit_code != 0))
        if scenario.unschedulable and runtime.phase != "ready":
            self._set_status(pod, _unschedulable_status())
            return
        if (runtime.phase == "pulling" and now - runtime.since >= scenario.pull_delay) or (
            runtime.phase == "backoff" and now - runtime.since >= PULL_BACKOFF
        ):
            pulls = {image: pull_image(image, cluster.registry) for image in pod_images(pod["spec"])}
            failed, error = next(((image, p.error) for image, p in pulls.items() if p.error), ("", ""))
            if error:
                if runtime.phase == "pulling" or runtime.pull_error != error:
                    cluster.event(pod, "Warning", "Failed", f'Failed to pull image "{failed}": {error}')
                    cluster.event(pod, "Warning", "Failed", "Error: ErrImagePull")
                runtime.phase, runtime.since, runtime.pull_error, runtime.failed_image = "backoff", now, error, failed
            else:
                for image in pulls:
                    cluster.event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine')
                runtime.image_ids = {image: p.image_id for image, p in pulls.items()}
                self._start(pod, runtime, now)
        elif runtime.phase in ("running", "ready") and not crash_loop and exit_code is not None:
            self._finish_containers(pod, runtime, crash_image, now)
        elif runtime.phase == "running" and crash_loop and now - runtime.since >= crash_time:
            runtime.phase, runtime.since, runtime.restarts = "crashed", now, runtime.restarts + 1
            runtime.last_exit = (int(exit_code or 0), time.time())
            cluster.event(
                pod,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {first['name']} in pod "
                f"{meta['name']}_{meta['namespace']}({meta['uid']})",
            )
        elif runtime.phase == "crashed" and now - runtime.since >= CRASH_BACKOFF:
            self._start(pod, runtime, now)
        if (
            runtime.phase == "running"
            and not crash_loop
            and not scenario.never_ready
            and now - runtime.since >= scenario.ready_delay
            and cluster.ready_gate.is_set()
        ):
            runtime.phase, runtime.since = "ready", now
        self._set_status(pod, pod_status(pod, runtime, now, exit_code if crash_loop else None))

    def _start(self, pod: Obj, runtime: PodRuntime, now: float) -> None:
        runtime.phase, runtime.since, runtime.started, runtime.started_wall = "running", now, now, time.time()
        policy = str(pod["spec"].get("restartPolicy", "Always"))
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        for c in pod["spec"]["containers"]:
            runtime.logs[c["name"]] = [(stamp, line) for line in plan_container(c, policy).lines]

    def _finish_containers(self, pod: Obj, runtime: PodRuntime, crash_image: bool, now: float) -> None:
        """Run-to-completion containers (restartPolicy Never, or OnFailure exiting 0) exit after their run
        time; once every one has exited the pod is done."""
        policy = str(pod["spec"].get("restartPolicy", "Always"))
        for c in pod["spec"]["containers"]:
            plan = plan_container(c, policy)
            code = 1 if crash_image else plan.exit_code
            run_time = CRASH_TIME if crash_image else plan.run_time
            if code is not None and c["name"] not in runtime.exits and now - runtime.started >= run_time:
                runtime.exits[c["name"]] = (code, time.time())
        if all(c["name"] in runtime.exits for c in pod["spec"]["containers"]):
            runtime.phase, runtime.since = "done", now

    def _set_status(self, pod: Obj, status: Obj) -> None:
        meta = pod["metadata"]
        self.cluster.store.update("pods", meta["namespace"], meta["name"], lambda p: p.__setitem__("status", status))

    # -- pods/log ------------------------------------------------------------------------------------
    def log(self, pod: Obj, container: str, tail: int | None, timestamps: bool, previous: bool) -> str:
        """The text GET pods/{name}/log answers, or LogError with the kubelet's message."""
        meta = pod["metadata"]
        names = [c["name"] for c in pod["spec"]["containers"]]
        if not container:
            if len(names) != 1:
                raise LogError(
                    f"a container name must be specified for pod {meta['name']}, choose one of: [{' '.join(names)}]"
                )
            container = names[0]
        if container not in names:
            init = [c["name"] for c in pod["spec"].get("initContainers", [])]
            if container not in init:
                raise LogError(f"container {container} is not valid for pod {meta['name']}")
            return ""
        runtime = self.pods.get(meta["uid"])
        statuses = {s["name"]: s for s in pod.get("status", {}).get("containerStatuses", [])}
        state = statuses.get(container, {}).get("state", {})
        if previous:
            if runtime is None or not runtime.restarts:
                raise LogError(f'previous terminated container "{container}" in pod "{meta["name"]}" not found')
        elif runtime is None or not runtime.logs:
            reason = state.get("waiting", {}).get("reason", "ContainerCreating")
            message = {
                "ErrImagePull": "image can't be pulled",
                "ImagePullBackOff": "trying and failing to pull image",
            }.get(reason, reason)
            raise LogError(f'container "{container}" in pod "{meta["name"]}" is waiting to start: {message}')
        lines = (runtime.logs.get(container, []) if runtime else [])[:]
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        return "".join(f"{stamp} {line}\n" if timestamps else f"{line}\n" for stamp, line in lines)


def pod_ready(pod: Obj) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def _unschedulable_status() -> Obj:
    return {
        "phase": "Pending",
        "qosClass": "BestEffort",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "lastProbeTime": None,
                "message": "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                "1 No preemption victims found for incoming pod.",
            }
        ],
    }


def host_ip(pod: Obj) -> str:
    """The node's address: 10.0.0.N for sim-node-N (10.0.0.1 for a pod bound nowhere)."""
    node = str(pod["spec"].get("nodeName", ""))
    number = node.rsplit("-", 1)[-1]
    return f"10.0.0.{number}" if number.isdigit() else "10.0.0.1"


def pod_status(pod: Obj, runtime: PodRuntime, now: float, crash_code: int | None = None) -> Obj:
    """The pod's status as the kubelet reports it for its runtime state."""
    container = pod["spec"]["containers"][0]
    ready = runtime.phase == "ready"
    done = runtime.phase == "done"
    stamp = pod["metadata"]["creationTimestamp"]
    started_at = _iso(runtime.started_wall) if runtime.started_wall else stamp
    state: Obj
    last_state: Obj = {}
    if runtime.phase == "pulling":
        state = {"waiting": {"reason": "ContainerCreating"}}
    elif runtime.phase == "backoff":
        if now - runtime.since < 1.0:
            state = {"waiting": {"reason": "ErrImagePull", "message": runtime.pull_error}}
        else:
            failed = runtime.failed_image or container["image"]
            state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{failed}"'}}
    elif runtime.phase == "crashed":
        code = 1 if crash_code is None else crash_code
        finished = runtime.last_exit[1]
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": started_at if finished else stamp,
            "finishedAt": _iso(finished) if finished else stamp,
        }
        if now - runtime.since < CRASH_TIME:
            state = {"terminated": terminated}
        else:
            state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 10s restarting failed "
                    f"container={container['name']} pod={pod['metadata']['name']}"
                    f"_{pod['metadata']['namespace']}({pod['metadata']['uid']})",
                }
            }
            last_state = {"terminated": terminated}
    else:
        state = {"running": {"startedAt": started_at}}
    started = "running" in state

    def container_state(c: Obj) -> tuple[Obj, bool]:
        """A run-to-completion container that exited is terminated; the others share the pod's state."""
        if c["name"] in runtime.exits and runtime.phase in ("running", "ready", "done"):
            code, finished = runtime.exits[c["name"]]
            reason = "Completed" if code == 0 else "Error"
            return {
                "terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "startedAt": started_at,
                    "finishedAt": _iso(finished),
                }
            }, False
        return state, started

    states = {c["name"]: container_state(c) for c in pod["spec"]["containers"]}
    if done:
        codes = [runtime.exits[c["name"]][0] for c in pod["spec"]["containers"]]
        phase = SUCCEEDED if all(code == 0 for code in codes) else FAILED
    else:
        phase = "Running" if any(s for _, s in states.values()) or runtime.restarts or runtime.exits else "Pending"
    conditions: list[Obj] = [
        {"type": "PodReadyToStartContainers", "status": "False" if done else "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": "True" if ready and not runtime.exits else "False"},
        {"type": "ContainersReady", "status": "True" if ready and not runtime.exits else "False"},
        {"type": "PodScheduled", "status": "True"},
    ]
    for condition in conditions:
        condition["lastProbeTime"] = None
        if condition["status"] == "False" and condition["type"] in ("Ready", "ContainersReady"):
            condition["reason"] = "PodCompleted" if done else "ContainersNotReady"
    status: Obj = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip(pod),
        "podIP": "10.244.0.10" if started or done else None,
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": runtime.image_ids.get(c["image"], ""),
                "ready": ready and not runtime.exits,
                "started": states[c["name"]][1],
                "restartCount": runtime.restarts,
                "state": states[c["name"]][0],
                "lastState": last_state,
            }
            for c in pod["spec"]["containers"]
        ],
    }
    if runtime.started_wall:
        status["startTime"] = stamp
    if pod["spec"].get("initContainers"):  # not run: completed once every image is pulled
        done_init = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": stamp, "finishedAt": stamp}}
        status["initContainerStatuses"] = [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": runtime.image_ids.get(c["image"], ""),
                "ready": bool(runtime.image_ids),
                "started": False,
                "restartCount": 0,
                "state": done_init if runtime.image_ids else {"waiting": {"reason": "PodInitializing"}},
                "lastState": {},
            }
            for c in pod["spec"]["initContainers"]
        ]
    return status


def event_object(obj: Obj, kind: str, type_: str, reason: str, message: str, component: str, host: str) -> Obj:
    """A core/v1 Event about `obj` (a `kind`), as kubelets and controllers record them."""
    meta = obj["metadata"]
    stamp = now_iso()
    source: Obj = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"]},
        "involvedObject": {
            "kind": kind,
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": "v1" if kind == "Pod" else obj.get("apiVersion", ""),
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "source": source,
    }
