"""Progress of a push or pull from the engine's JSON stream: layers done out of layers seen, and bytes.
On a terminal it is one line rewritten in place; elsewhere each finished layer is one plain line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DONE_STATUSES = ("Pushed", "Layer already exists", "Mounted from", "Pull complete", "Already exists")
MB = 1024 * 1024


@dataclass
class Layer:
    status: str = ""
    current: int = 0
    total: int = 0

    @property
    def done(self) -> bool:
        return self.status.startswith(DONE_STATUSES)


@dataclass
class TransferProgress:
    """Folds stream chunks into per-layer state; `update` answers the line to show, if any."""

    verb: str
    ref: str
    layers: dict[str, Layer] = field(default_factory=dict)

    def update(self, chunk: Mapping[str, Any]) -> tuple[str, bool]:
        """(text, finished_layer): the progress text after `chunk`, and whether a layer just finished."""
        layer_id = chunk.get("id")
        status = str(chunk.get("status") or "")
        if not layer_id or not status or " " in str(layer_id):
            return self.text(), False
        layer = self.layers.setdefault(str(layer_id), Layer())
        was_done = layer.done
        layer.status = status
        detail = chunk.get("progressDetail") or {}
        if isinstance(detail, Mapping) and detail.get("total"):
            layer.current, layer.total = int(detail.get("current") or 0), int(detail["total"])
        return self.text(), layer.done and not was_done

    def counts(self) -> str:
        """ "3/7 layers, 1.2 MB/40.0 MB": layers finished out of seen, bytes moved out of bytes known."""
        done = sum(1 for layer in self.layers.values() if layer.done)
        moved = sum(layer.total if layer.done else layer.current for layer in self.layers.values())
        total = sum(layer.total for layer in self.layers.values())
        size = f", {human_bytes(moved)}/{human_bytes(total)}" if total else ""
        return f"{done}/{len(self.layers)} layers{size}"

    def text(self) -> str:
        return f"{self.verb} {self.ref}: {self.counts()}"


def human_bytes(count: int) -> str:
    if count >= MB:
        return f"{count / MB:.1f} MB"
    return f"{count / 1024:.1f} kB"
