"""Staging, then production, through `inv`: one simulated API server with a namespace per environment
(`shop-staging`, `shop`, and `shop-canary` for overrides), a kubeconfig as GitLab's agent writes it (a
context per agent, no current-context), the example project with `environments:` in its invoke.yaml, and
releases pushed as `prod-<sha>` to the real registry through its API (no builds)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.k8s_sim import SCENARIOS, KubeSim
from tests.support.example import Example
from tests.support.images import push_release
from tests.support.integration import assert_one_line_failure, registry_digest, registry_tags
from tests.support.kubeharness import write_agent_kubeconfig

pytestmark = pytest.mark.e2e

STAGING, PRODUCTION, CANARY = "shop-staging", "shop", "shop-canary"
CONTEXTS = {"gitlab/shop:staging": "", "gitlab/shop:production": "", "ops": CANARY}
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "staging": {"context": "gitlab/shop:staging", "namespace": STAGING, "url": "https://staging.shop.test"},
    "production": {"context": "gitlab/shop:production", "namespace": PRODUCTION},
}
STAGING_PLACE = f"environment staging (context gitlab/shop:staging, namespace {STAGING})"
PRODUCTION_PLACE = f"environment production (context gitlab/shop:production, namespace {PRODUCTION})"


@dataclass
class Shop:
    """The example's prod image `web` on Deployments `web` in every namespace of one simulated cluster."""

    example: Example
    sim: KubeSim
    kubeconfig: Path

    @property
    def repository(self) -> str:
        return self.example.prod_repository()

    def ref(self, tag: str) -> str:
        return self.example.prod_ref(tag)

    def push(self, day: int) -> str:
        return push_release(self.example.registry.address, self.repository, day)

    def inv(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.example.inv(*args, **({"KUBECONFIG": str(self.kubeconfig)} | env))

    def deploy(self, tag: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        sha = tag.removeprefix("prod-")
        result = self.inv("deploy", *args, CI_COMMIT_SHA=sha, CI_COMMIT_REF_NAME="main", **env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def image(self, namespace: str) -> str:
        deployment = self.sim.store.get("deployments", namespace, "web")
        assert deployment is not None
        return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])

    def tags(self) -> dict[str, str | None]:
        url = self.example.registry.url
        return {tag: registry_digest(url, self.repository, tag) for tag in registry_tags(url, self.repository)}

    def snapshot(self) -> tuple[Any, ...]:
        """The registry's tags and digests and every namespace's Deployments and ReplicaSets."""
        specs = {
            (kind, namespace): sorted(str(obj.get("spec")) for obj in self.sim.store.list(kind, namespace)[0])
            for kind in ("deployments", "replicasets")
            for namespace in (STAGING, PRODUCTION, CANARY)
        }
        return self.tags(), specs


def configure(example: Example, environments: dict[str, dict[str, Any]]) -> None:
    """Give the example's invoke.yaml these `environments:`."""
    path = example.root / "invoke.yaml"
    config = yaml.safe_load(path.read_text())
    config["conveyor"]["environments"] = environments
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@contextmanager
def shop_cluster(example: Example, directory: Path, history_limit: int = 10) -> Iterator[Shop]:
    sim = KubeSim(SCENARIOS["success"], registry=example.registry.address, namespaces=(STAGING, PRODUCTION, CANARY))
    sim.start()
    try:
        for namespace in (STAGING, PRODUCTION, CANARY):
            sim.cluster.seed_deployment(
                namespace, "web", example.base_image, container="web", revision_history_limit=history_limit
            )
        yield Shop(example, sim, write_agent_kubeconfig(directory / "agent" / "config", sim.url, CONTEXTS))
    finally:
        sim.stop()


@pytest.fixture
def shop(example: Example, tmp_path: Path) -> Iterator[Shop]:
    configure(example, ENVIRONMENTS)
    with shop_cluster(example, tmp_path) as cluster:
        yield cluster


def asked_once(output: str, *words: str) -> bool:
    """The guard's one cluster check of the one simulated server: every context there reaches it as the same
    user, so it is asked once, and it names both environments."""
    checks = [line for line in output.splitlines() if line.startswith("cluster check: ")]
    assert len(checks) == 1, checks
    return all(word in checks[0] for word in ("environment staging, production", "image references", *words))


def line_with(output: str, start: str) -> str:
    found = [line for line in output.splitlines() if line.startswith(start)]
    assert found, f"no line starting {start!r} in:\n{output}"
    return found[-1]


def test_deploy_goes_to_staging_and_production_is_deployed_by_name(shop: Shop) -> None:
    base = shop.example.base_image
    release = shop.push(1)
    staged = shop.deploy(release)
    assert f"deploy: {STAGING_PLACE}" in staged.stdout
    assert f"cluster: context gitlab/shop:staging, namespace {STAGING} (" in staged.stdout
    assert asked_once(staged.stdout), "the guard asks the one server every environment is on, once"
    assert (shop.image(STAGING), shop.image(PRODUCTION), shop.image(CANARY)) == (shop.ref(release), base, base)
    tags = shop.tags()
    assert tags["prod-staging"] == tags[release] and "prod" not in tags, "staging moves prod-staging, not prod"

    released = shop.deploy(release, "--environment", "production")
    assert f"deploy: {PRODUCTION_PLACE}" in released.stdout
    assert asked_once(released.stdout)
    assert shop.image(PRODUCTION) == shop.ref(release)
    tags = shop.tags()
    assert tags["prod"] == tags["prod-staging"] == tags[release]

    waited = shop.inv("deploy.status", "--environment", "production")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert f"status: {PRODUCTION_PLACE}" in waited.stdout and f"namespace {PRODUCTION} (" in waited.stdout
    assert waited.stdout.strip().endswith('deployment "web" successfully rolled out')


def test_a_release_waiting_for_production_is_kept_however_many_follow(example: Example, tmp_path: Path) -> None:
    configure(example, ENVIRONMENTS)
    with shop_cluster(example, tmp_path, history_limit=1) as shop:
        keep_one = {"CONVEYOR_KEEP_RELEASES": "1"}
        older = shop.push(1)
        shop.deploy(older, **keep_one)
        released = shop.push(2)
        shop.deploy(released, **keep_one)
        shop.deploy(released, "--environment", "production", **keep_one)
        waiting = [shop.push(day) for day in (3, 4, 5)]
        outputs = [shop.deploy(tag, **keep_one).stdout for tag in waiting]
        tags = shop.tags()
    assert older not in tags, "older than what production runs, used nowhere, not the newest: deleted"
    deleted = f"deleted {shop.repository}:{older} "
    said = [line for output in outputs for line in output.splitlines() if line.startswith(deleted)]
    assert len(said) == 1 and ": [old-release] an older release" in said[0], "\n".join(outputs)
    assert set(waiting) <= set(tags), "every release newer than production's may still go there"
    assert tags["prod"] == tags[released] and tags["prod-staging"] == tags[waiting[-1]]
    assert "newer than what environment production runs (prod)" in line_with(
        outputs[-1], f"kept {shop.repository}:{waiting[0]}"
    )


def test_bad_environment_and_context_input_is_one_line_and_changes_nothing(example: Example, tmp_path: Path) -> None:
    configure(example, {name: {**spec, "when": "manual"} for name, spec in ENVIRONMENTS.items()})
    with shop_cluster(example, tmp_path) as shop:
        release = shop.push(1)
        commit = {"CI_COMMIT_SHA": release.removeprefix("prod-"), "CI_COMMIT_REF_NAME": "main"}
        before = shop.snapshot()
        for task in ("deploy", "deploy.rollback", "deploy.status"):
            result = shop.inv(task, **commit)
            assert_one_line_failure(
                result, "every environment (staging, production) is deployed by hand", "--environment"
            )
        unknown = shop.inv("deploy", "--environment", "qa", **commit)
        assert_one_line_failure(unknown, "--environment 'qa' is not an environment of this project")
        nope = shop.inv("deploy", "--environment", "staging", "--context", "nope", **commit)
        assert_one_line_failure(
            nope,
            'context "nope" is not in the kubeconfig',
            "its contexts: gitlab/shop:staging, gitlab/shop:production, ops",
        )
        configure(example, {"staging": {"namespace": STAGING}, "production": {"namespace": PRODUCTION}})
        unnamed = shop.inv("deploy", **commit)
        assert_one_line_failure(
            unnamed, "has no current-context and no context was named", "its contexts: gitlab/shop:staging"
        )
        assert shop.snapshot() == before


def test_context_and_namespace_overrides_apply_to_the_deployed_environment_only(shop: Shop) -> None:
    base = shop.example.base_image
    first, second = shop.push(1), shop.push(2)
    flagged = shop.deploy(first, "--context", "ops", "--namespace", CANARY)
    assert (
        f"deploy: environment staging (context ops, namespace {CANARY}; context from --context; namespace from "
        "--namespace)"
    ) in flagged.stdout
    assert asked_once(flagged.stdout, "context ops ", "also gitlab/shop:production")
    assert (shop.image(CANARY), shop.image(STAGING), shop.image(PRODUCTION)) == (shop.ref(first), base, base)

    before = shop.snapshot()
    commit = {"CI_COMMIT_SHA": second.removeprefix("prod-"), "CI_COMMIT_REF_NAME": "main"}
    contradicting = shop.inv("deploy", "--environment", "production", KUBE_NAMESPACE=CANARY, **commit)
    assert_one_line_failure(
        contradicting, f"KUBE_NAMESPACE sets namespace '{CANARY}', but environment production has its own namespace"
    )
    assert shop.snapshot() == before, "refused before anything was asked or changed"

    in_gitlab = {"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main", "KUBE_CONTEXT": "ops", "KUBE_NAMESPACE": CANARY}
    variables = shop.deploy(second, "--environment", "production", **in_gitlab)
    assert (
        f"deploy: environment production (context ops, namespace {CANARY}; context from KUBE_CONTEXT; "
        "namespace from KUBE_NAMESPACE)"
    ) in variables.stdout
    assert (shop.image(CANARY), shop.image(STAGING), shop.image(PRODUCTION)) == (shop.ref(second), base, base)
    tags = shop.tags()
    assert tags["prod-staging"] == tags[first] and tags["prod"] == tags[second]


def test_rollback_undoes_staging_and_moves_its_tag_back(shop: Shop) -> None:
    first, second = shop.push(1), shop.push(2)
    shop.deploy(first)
    shop.deploy(first, "--environment", "production")
    shop.deploy(second)
    before = shop.snapshot()

    for dry in (("deploy.rollback", "--environment", "staging", "--dry-run"), ("--dry", "deploy.rollback")):
        planned = shop.inv(*dry)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        assert shop.snapshot() == before, "a dry run changes nothing"
    assert f"rollback: {STAGING_PLACE}" in planned.stdout
    assert (
        f'dry run: deployment "web": roll back to revision 2 (container web {shop.ref(second)} -> {shop.ref(first)})'
        in planned.stdout
    )
    assert f"dry run: {shop.repository}: would promote prod-staging to {first}" in planned.stdout

    undone = shop.inv("deploy.rollback", "--environment", "staging")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert f"rollback: {STAGING_PLACE}" in undone.stdout and f"namespace {STAGING} (" in undone.stdout
    assert 'deployment "web": rolled back (to revision 2)' in undone.stdout
    assert 'deployment "web" successfully rolled out' in undone.stdout
    assert f"{shop.repository}: promoted prod-staging to {first}" in undone.stdout
    assert (shop.image(STAGING), shop.image(PRODUCTION)) == (shop.ref(first), shop.ref(first))
    tags = shop.tags()
    assert tags["prod-staging"] == tags["prod"] == tags[first], "staging's tag back on the release it runs"
    assert tags == {**before[0], "prod-staging": tags[first]}, "nothing deleted, only prod-staging moved"


def test_rollback_to_an_image_that_is_not_a_release_keeps_the_tag(shop: Shop) -> None:
    release = shop.push(1)
    shop.deploy(release, "--environment", "production")
    undone = shop.inv("deploy.rollback", "--environment", "production")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert shop.image(PRODUCTION) == shop.example.base_image
    why = line_with(undone.stdout, f"kept {shop.repository}:prod where it is: ")
    assert f'deployment "web" container web runs {shop.example.base_image}, which is not a prod-<sha> release' in why
    tags = shop.tags()
    assert tags["prod"] == tags[release] and release in tags
