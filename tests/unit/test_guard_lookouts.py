"""Which clusters the deletion guard asks (conveyor.stages.knowledge): every wanted context once per server
and user, the environments deployed there, the namespaces listed where a cluster-wide list is forbidden
(only when guard.namespaces names some), and the default choice of contexts in and outside GitLab CI."""

from __future__ import annotations

import pytest

from conveyor.config.model import Environment, GuardSettings
from conveyor.gitinfo import Branches
from conveyor.kube import ClusterAccess, ClusterError
from conveyor.kube.kubeconfig import ContextEntry
from conveyor.stages import knowledge
from conveyor.stages.knowledge import GuardScope, Lookout, group_lookouts
from tests.support.factories import console

ENTRIES = [
    ContextEntry("group/shop:staging", "https://kas.gitlab.test", "agent", "shop-staging"),
    ContextEntry("group/shop:production", "https://kas.gitlab.test", "agent"),
    ContextEntry("ops", "https://ops.test", "admin"),
]
ENVIRONMENTS = (
    Environment("staging", context="group/shop:staging"),
    Environment("production", context="group/shop:production", namespace="shop"),
)


def scope(guard: GuardSettings | None = None, in_gitlab: bool = False) -> GuardScope:
    return GuardScope("r.test", "group/shop", "group/shop/ci", ENVIRONMENTS, 3, guard or GuardSettings(), in_gitlab)


def test_contexts_reaching_one_server_as_one_user_are_asked_once() -> None:
    (agent, ops) = group_lookouts(ENTRIES, [e.name for e in ENTRIES], scope(), "")
    assert agent == Lookout("group/shop:staging", ("group/shop:production",), ("staging", "production"), None)
    assert ops == Lookout("ops")
    assert agent.describe() == (
        "context group/shop:staging (environment staging, production; also group/shop:production: the same server "
        "and user)"
    )


def test_named_namespaces_are_listed_with_each_environments_own_where_cluster_wide_lists_are_forbidden() -> None:
    guard = GuardSettings(namespaces=("workers", "cron"))
    (agent, ops) = group_lookouts(ENTRIES, [e.name for e in ENTRIES], scope(guard), "")
    assert agent.fallback == ("workers", "cron", "shop-staging", "shop")  # the context's, then the environment's
    assert ops.fallback == ("workers", "cron")


def test_a_context_the_kubeconfig_lacks_cannot_be_asked() -> None:
    with pytest.raises(ClusterError, match='context "gone" is not in the kubeconfig; its contexts: group/shop:staging'):
        group_lookouts(ENTRIES, ["gone"], scope(), "")


@pytest.mark.parametrize(
    ("guard", "in_gitlab", "asked"),
    [
        (GuardSettings(), False, ["group/shop:staging"]),  # the environments' contexts
        (GuardSettings(), True, ["group/shop:staging", "ops"]),  # every context of the agent's file
        (GuardSettings(all_contexts=True), False, ["group/shop:staging", "ops"]),
        (GuardSettings(contexts=("ops",)), True, ["ops"]),  # guard.contexts replaces the default in both
    ],
)
def test_which_contexts_are_asked(
    monkeypatch: pytest.MonkeyPatch, guard: GuardSettings, in_gitlab: bool, asked: list[str]
) -> None:
    monkeypatch.setattr(knowledge, "contexts", lambda _access: (ENTRIES, ""))
    known = knowledge.Knowledge(scope(guard, in_gitlab), ClusterAccess(), Branches, console())
    assert [lookout.context for lookout in known.lookouts()] == asked
