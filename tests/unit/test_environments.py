"""Environments on the deploy side: which environment the flags choose, that --context/--namespace (and
KUBE_CONTEXT/KUBE_NAMESPACE) move the deployed one only while the guard asks every other in its own place,
that promotion moves the deployed environment's tag for the images its targets use, and what rollback
moves a promotion tag back to."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from conveyor.config.loading import load_settings
from conveyor.config.settings import Settings
from conveyor.errors import ConfigError
from conveyor.kube import ClusterAccess, ClusterError
from conveyor.kube.kubeconfig import ContextEntry
from conveyor.registry.client import RegistryClient
from conveyor.stages import knowledge, releases, reports
from conveyor.stages.releases import release_of, tag_move
from conveyor.tasks.bridge import environment_flags
from tests.support.factories import toolbox

SHA = "0123456789abcdef0123456789abcdef01234567"
OLD = "fedcba9876543210fedcba9876543210fedcba98"
REGISTRY = {"CI_REGISTRY": "registry.test:5000", "CI_REGISTRY_IMAGE": "registry.test:5000/shop"}
PROJECT: dict[str, Any] = {
    "prod_images": {"web": {"service": "web"}, "api": {"service": "api"}},
    "deploy_targets": [
        {"deployment": "web", "container": "web", "image": "web"},
        {"deployment": "api", "container": "api", "image": "api"},
    ],
    "environments": {
        "staging": {
            "context": "gitlab/shop:staging",
            "namespace": "shop-staging",
            "deploy_targets": [{"deployment": "web", "container": "web", "image": "web"}],
        },
        "production": {"context": "gitlab/shop:production", "namespace": "shop"},
    },
}


def load(
    project: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    dotenv: dict[str, str] | None = None,
    **flags: str,
) -> Settings:
    return load_settings(
        project_dir=Path("/project"),
        yaml_config=PROJECT if project is None else project,
        environ=REGISTRY | {"CI_COMMIT_SHA": SHA, "CI_COMMIT_REF_NAME": "main"} | (environ or {}),
        dotenv=dict(dotenv or {}),
        git=lambda _question: None,
        flags=environment_flags(flags.get("environment", ""), flags.get("context", ""), flags.get("namespace", "")),
    )


def where(settings: Settings) -> dict[str, tuple[str, str]]:
    return {environment.name: (environment.context, environment.namespace) for environment in settings.environments}


def test_the_first_automatic_environment_is_deployed_unless_one_is_named() -> None:
    assert load().deploy_environment.name == "staging"
    assert load(environment="production").deploy_environment.name == "production"
    assert load(environ={"CI_ENVIRONMENT_NAME": "production"}).deploy_environment.promotion_tag == "prod"
    assert load().deploy_environment.promotion_tag == "prod-staging"


def test_context_and_namespace_flags_move_the_deployed_environment_only() -> None:
    flagged = load(context="ops", namespace="canary")
    assert where(flagged) == {"staging": ("ops", "canary"), "production": ("gitlab/shop:production", "shop")}
    named = load(environment="production", context="ops")
    assert where(named) == {"staging": ("gitlab/shop:staging", "shop-staging"), "production": ("ops", "shop")}
    in_gitlab = {"GITLAB_CI": "true", "KUBE_CONTEXT": "ops", "KUBE_NAMESPACE": "canary"}
    variables = load(environ=in_gitlab, environment="production")
    assert where(variables)["staging"] == ("gitlab/shop:staging", "shop-staging")
    assert where(variables)["production"] == ("ops", "canary")
    assert variables.deploy_environment.describe() == (
        "environment production (context ops, namespace canary; context from KUBE_CONTEXT; "
        "namespace from KUBE_NAMESPACE)"
    )
    assert where(load(environ={"KUBE_NAMESPACE": "env"}, namespace="flag"))["staging"][1] == "flag", "flags win"
    assert flagged.deploy_environment.describe().endswith("; context from --context; namespace from --namespace)")


@pytest.mark.parametrize(
    ("environ", "dotenv", "source"),
    [
        ({"KUBE_NAMESPACE": "shop-staging"}, {}, "KUBE_NAMESPACE"),
        ({}, {"KUBE_NAMESPACE": "shop-staging"}, ".env (KUBE_NAMESPACE)"),
    ],
    ids=["process", "dotenv"],
)
def test_outside_gitlab_a_variable_contradicting_the_environment_is_refused(
    environ: dict[str, str], dotenv: dict[str, str], source: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(environ=environ, dotenv=dotenv, environment="production").deploy_environment  # noqa: B018
    assert str(raised.value) == (
        f"{source} sets namespace 'shop-staging', but environment production has its own namespace 'shop' in "
        "invoke.yaml: unset KUBE_NAMESPACE (in the shell or .env), or pass --namespace shop-staging to deploy "
        "there anyway"
    )
    agreeing = load(environ={"KUBE_NAMESPACE": "shop"}, environment="production").deploy_environment
    assert (agreeing.namespace, agreeing.overrides) == ("shop", ()), "the same value is no contradiction"
    staging = load(environ=environ, dotenv=dotenv, environment="staging").deploy_environment
    assert staging.namespace == "shop-staging" and staging.overrides == ()


def test_every_environment_started_by_hand_must_be_named() -> None:
    manual = {**PROJECT, "environments": {n: {**s, "when": "manual"} for n, s in PROJECT["environments"].items()}}
    with pytest.raises(ConfigError) as raised:
        load(manual).deploy_environment  # noqa: B018 (the property raises)
    assert str(raised.value) == (
        "every environment (staging, production) is deployed by hand and none was named: name one: "
        "inv deploy --environment NAME (GitLab sets CI_ENVIRONMENT_NAME)"
    )
    assert load(manual, environment="production").deploy_environment.name == "production"
    with pytest.raises(ConfigError, match="--environment 'qa' is not an environment of this project"):
        load(environment="qa")


def test_one_environment_is_as_before() -> None:
    single = {key: value for key, value in PROJECT.items() if key != "environments"}
    settings = load(single, environ={"KUBE_NAMESPACE": "shop"}, context="ops")
    assert where(settings) == {"production": ("ops", "shop")}
    assert settings.deploy_environment.promotion_tag == "prod"


def test_the_guard_asks_every_environment_in_its_own_context(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    entries = [ContextEntry(name, f"https://{name}.test", "deployer") for name in ("ops", "gitlab/shop:production")]

    def refuse(_access: ClusterAccess, context: str, **_options: Any) -> None:
        asked.append(context)
        raise ClusterError("cannot reach the Kubernetes API")

    monkeypatch.setattr(knowledge, "contexts", lambda _access: (entries, ""))
    monkeypatch.setattr(knowledge, "connect", refuse)
    settings = load(context="ops", namespace="canary")
    views = toolbox(settings).knowledge(strict=False).clusters()
    assert asked == ["ops", "gitlab/shop:production"]
    assert [view.place for view in views] == [
        "context ops (environment staging)",
        "context gitlab/shop:production (environment production)",
    ]
    assert all(view.problem for view in views), "a place that cannot be asked keeps what it might use"


@pytest.mark.parametrize(
    ("environment", "moved"),
    [("staging", [("shop/web", "prod-staging")]), ("production", [("shop/web", "prod"), ("shop/api", "prod")])],
)
def test_promotion_moves_the_deployed_environments_tag_for_its_images(
    monkeypatch: pytest.MonkeyPatch, environment: str, moved: list[tuple[str, str]]
) -> None:
    promoted: list[tuple[str, str]] = []

    def promote(_client: object, repository: str, release: str, tag: str, dry_run: bool, _seen: object) -> str:
        assert release == f"prod-{SHA}"
        promoted.append((repository, tag))
        return "promoted"

    monkeypatch.setattr(releases, "move_tag", promote)
    monkeypatch.setattr(releases, "collect_tags", lambda *_args, **_kwargs: {})
    monkeypatch.setattr(
        releases, "guarded", lambda _client, _known, repository, *_args: reports.CleanupReport(repository)
    )
    tools = toolbox(load(environment=environment))
    known = tools.knowledge(skip_cluster_check=True)
    client = cast(RegistryClient, object())
    releases.promote_and_prune(tools.release(), client, known, reports.Reports(tools.console, tools.stop, "deploy"))
    assert promoted == moved


def test_rollback_moves_the_tag_to_the_one_release_its_targets_run() -> None:
    names = load().images.prod["web"]
    release = f"registry.test:5000/shop/web:prod-{OLD}"
    assert release_of(names, release) == f"prod-{OLD}"
    assert tag_move(names, [("a", release), ("b", release)]).release == f"prod-{OLD}"


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (
            "registry.test:5000/shop/web:prod",
            "runs registry.test:5000/shop/web:prod, which is not a prod-<sha> release",
        ),
        ("registry.test:5000/shop/api:prod-" + OLD, "not a prod-<sha> release of registry.test:5000/shop/web"),
        ("other.test/shop/web:prod-" + OLD, "which is not a prod-<sha> release"),
        ("registry.test:5000/shop/web@sha256:" + "a" * 64, "which is not a prod-<sha> release"),
        ("busybox", "a runs busybox, which is not"),
        ("", "there is no a in the revision it runs now"),
    ],
)
def test_rollback_keeps_the_tag_when_a_target_runs_no_release_of_ours(image: str, why: str) -> None:
    move = tag_move(load().images.prod["web"], [("a", image)])
    assert not move.release and why in move.why_not


def test_rollback_keeps_the_tag_when_targets_disagree() -> None:
    names = load().images.prod["web"]
    seen = [("a", f"registry.test:5000/shop/web:prod-{OLD}"), ("b", f"registry.test:5000/shop/web:prod-{SHA}")]
    move = tag_move(names, seen)
    assert not move.release
    assert move.why_not == (f"the targets of registry.test:5000/shop/web disagree: a run prod-{OLD}; b run prod-{SHA}")
