"""A workload named as kubectl names one, TYPE/NAME (`statefulset/worker`, `sts/worker`, `deploy/web`,
`cronjobs.batch/nightly`): the kinds Conveyor can set an image on. Shared by the settings (deploy targets,
`before_deploy`'s `from:`), the Kubernetes adapter and the stages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from conveyor.errors import ConfigError

Kind = Literal["deployment", "statefulset", "daemonset", "cronjob"]
# kind -> (API group, plural, kubectl's short name)
KINDS: dict[Kind, tuple[str, str, str]] = {
    "deployment": ("apps", "deployments", "deploy"),
    "statefulset": ("apps", "statefulsets", "sts"),
    "daemonset": ("apps", "daemonsets", "ds"),
    "cronjob": ("batch", "cronjobs", "cj"),
}
NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")  # a DNS-1123 subdomain, as object names are


def _aliases() -> dict[str, Kind]:
    """Every spelling kubectl accepts for each kind: singular, plural, short name, each with `.group`."""
    names: dict[str, Kind] = {}
    for kind, (group, plural, short) in KINDS.items():
        for word in (kind, plural, short):
            names[word] = kind
            names[f"{word}.{group}"] = kind
    return names


@dataclass(frozen=True, order=True)
class WorkloadRef:
    """One workload of a namespace: its kind (lower-case singular) and name."""

    kind: Kind
    name: str

    @classmethod
    def parse(cls, text: str, what: str = "workload") -> WorkloadRef:
        """`TYPE/NAME` with any of kubectl's spellings of TYPE; a bad one is a ConfigError saying the forms."""
        kind_text, slash, name = text.strip().partition("/")
        kind = _aliases().get(kind_text.lower())
        if not slash or kind is None or not NAME.fullmatch(name):
            kinds = ", ".join(f"{k} ({KINDS[k][2]})" for k in KINDS)
            raise ConfigError(
                f"{what} {text!r} is not TYPE/NAME of a workload Conveyor can deploy",
                f"write e.g. statefulset/worker; TYPE is one of {kinds}",
            )
        return cls(kind, name)

    @property
    def group(self) -> str:
        return KINDS[self.kind][0]

    @property
    def plural(self) -> str:
        return KINDS[self.kind][1]

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"
