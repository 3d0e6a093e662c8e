"""The deletion guard's word that one tag may go: a DeletionPermit names the repository, the tag, the digest
the guard judged and why. The registry layer deletes a tag only with a permit (conveyor.registry.deletion),
and only the guard (conveyor.guard.decision) issues them, so nothing deletes without asking it; the digest
lets the deletion prove the tag still points where the guard looked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeletionPermit:
    """`tag` of `repository` may be deleted, for `reason`; it pointed at `digest` when judged (None: the
    guard did not know). `placeholder`: the tag holds a throwaway an interrupted deletion left behind."""

    repository: str
    tag: str
    digest: str | None
    reason: str
    placeholder: bool = False
