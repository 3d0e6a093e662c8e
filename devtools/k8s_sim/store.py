"""The simulator's object store: what etcd plus the watch cache are to a real API server.

Every write takes the next resourceVersion (monotonic, cluster-wide) and appends a watch event to the
history. A watch resumes from a resourceVersion by replaying the history after it; when the history before
that point has been compacted the watch gets a 410 Gone ERROR event, as from a real server."""

from __future__ import annotations

import copy
import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (kind, namespace, name)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WatchEvent:
    rv: int
    type: str
    kind: str
    namespace: str
    obj: Obj


Events = list[WatchEvent]  # named outside Store, whose `list` method shadows the builtin there
Objs = list[Obj]


class Gone(Exception):
    """The requested resourceVersion is older than the compacted history."""


@dataclass
class Store:
    """Objects by (kind, namespace, name), a monotonically increasing resourceVersion and a history."""

    objects: dict[Key, Obj] = field(default_factory=dict)
    history: list[WatchEvent] = field(default_factory=list)
    rv: int = 1000
    compacted: int = 0
    keep_history: bool = True
    cond: threading.Condition = field(default_factory=threading.Condition)

    # -- reads ---------------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        with self.cond:
            obj = self.objects.get((kind, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, kind: str, namespace: str | None = None) -> tuple[list[Obj], int]:
        with self.cond:
            items = [
                copy.deepcopy(obj)
                for (k, ns, _), obj in sorted(self.objects.items())
                if k == kind and (namespace is None or ns == namespace)
            ]
            return items, self.rv

    # -- writes --------------------------------------------------------------------------------------
    def _bump(self) -> int:
        self.rv += 1
        return self.rv

    def _record(self, type_: str, kind: str, namespace: str, obj: Obj) -> None:
        event = WatchEvent(int(obj["metadata"]["resourceVersion"]), type_, kind, namespace, copy.deepcopy(obj))
        if self.keep_history:
            self.history.append(event)
            if len(self.history) > 5000:
                self.compacted = self.history[999].rv
                del self.history[:1000]
        else:
            self.history = [event]
            self.compacted = event.rv - 1
        self.cond.notify_all()

    def add(self, kind: str, obj: Obj) -> Obj | None:
        """Create `obj` unless an object of that kind, namespace and name exists (then None)."""
        with self.cond:
            meta = obj.get("metadata", {})
            if (kind, meta.get("namespace", ""), meta.get("name")) in self.objects:
                return None
            return self.create(kind, obj)

    def create(self, kind: str, obj: Obj) -> Obj:
        with self.cond:
            meta = obj.setdefault("metadata", {})
            namespace = meta.get("namespace", "")
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_iso())
            meta.setdefault("generation", 1)
            meta["resourceVersion"] = str(self._bump())
            self.objects[(kind, namespace, meta["name"])] = copy.deepcopy(obj)
            self._record("ADDED", kind, namespace, obj)
            return copy.deepcopy(obj)

    def update(self, kind: str, namespace: str, name: str, mutate: Callable[[Obj], None]) -> Obj | None:
        """Apply `mutate` to a copy; store it (new resourceVersion, MODIFIED event) only if it changed.
        A change under `spec` bumps metadata.generation, as the real registry does."""
        with self.cond:
            current = self.objects.get((kind, namespace, name))
            if current is None:
                return None
            changed = copy.deepcopy(current)
            mutate(changed)
            if changed == current:
                return copy.deepcopy(current)
            if changed.get("spec") != current.get("spec"):
                changed["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
            changed["metadata"]["resourceVersion"] = str(self._bump())
            self.objects[(kind, namespace, name)] = changed
            self._record("MODIFIED", kind, namespace, changed)
            return copy.deepcopy(changed)

    def delete(self, kind: str, namespace: str, name: str) -> Obj | None:
        with self.cond:
            obj = self.objects.pop((kind, namespace, name), None)
            if obj is None:
                return None
            obj["metadata"]["resourceVersion"] = str(self._bump())
            self._record("DELETED", kind, namespace, obj)
            return copy.deepcopy(obj)

    def compact(self) -> None:
        """Forget every event so far: a watch from any older resourceVersion now gets 410 Gone."""
        with self.cond:
            self.history.clear()
            self.compacted = self.rv

    def compact_now(self) -> None:
        """Compact at a new revision, as etcd's compaction after a write: every resourceVersion handed out
        so far is gone (continue tokens expire, watches from them get 410 Gone)."""
        with self.cond:
            self._bump()
            self.compact()

    # -- consistent reads (what etcd's MVCC gives a paginated list) -------------------------------------
    def list_at(self, kind: str, namespace: str | None, rv: int) -> Objs:
        """The objects of `kind` (in `namespace`) as they were at resourceVersion `rv`, rebuilt from the
        history; Gone when that history was compacted."""
        with self.cond:
            if rv < self.compacted or rv > self.rv:
                raise Gone(f"too old resource version: {rv} ({self.compacted + 1})")
            state = {
                key: obj
                for key, obj in self.objects.items()
                if key[0] == kind and (namespace is None or key[1] == namespace)
            }
            relevant = [e for e in self.history if e.kind == kind and (namespace is None or e.namespace == namespace)]
            touched = {(kind, e.namespace, e.obj["metadata"]["name"]) for e in relevant if e.rv > rv}
            for key in touched:
                events = [e for e in relevant if (e.kind, e.namespace, e.obj["metadata"]["name"]) == key]
                before = [e for e in events if e.rv <= rv]
                if before:
                    if before[-1].type == "DELETED":
                        state.pop(key, None)
                    else:
                        state[key] = before[-1].obj
                elif next(e for e in events if e.rv > rv).type == "ADDED":
                    state.pop(key, None)
                else:  # its earlier history is gone
                    raise Gone(f"too old resource version: {rv} ({self.compacted + 1})")
            return [copy.deepcopy(obj) for _, obj in sorted(state.items())]

    # -- watch ---------------------------------------------------------------------------------------
    def events_after(self, rv: int, kind: str, namespace: str | None) -> Events:
        """Events of `kind` (in `namespace`) newer than `rv`; Gone when `rv` predates the history."""
        with self.cond:
            if rv < self.compacted:
                raise Gone(f"too old resource version: {rv} ({self.compacted + 1})")
            return [
                e
                for e in self.history
                if e.rv > rv and e.kind == kind and (namespace is None or e.namespace == namespace)
            ]

    def wait_for_change(self, rv: int, timeout: float) -> None:
        with self.cond:
            if self.rv <= rv:
                self.cond.wait(timeout)
