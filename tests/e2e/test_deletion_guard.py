"""The deletion guard through `inv`, on a real registry and the simulated cluster: each case that once
deleted an image still needed, and each rule. Releases are tiny images pushed through the registry API
(`prod-<sha>` for made-up commits), so the tests need no builds; every test compares snapshots of the
registry and the cluster taken before and after where nothing may change."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conveyor.registry import RegistryClient, RegistryOptions
from conveyor.registry.manifests import THROWAWAY_CONFIG, throwaway_manifest
from devtools.k8s_sim.cluster import pod_spec
from tests.e2e.conftest import NAMESPACE, Cluster, simulated_cluster
from tests.support.example import Example
from tests.support.images import push_image, push_release
from tests.support.integration import assert_one_line_failure, registry_digest, registry_tags
from tests.support.registry import free_port

pytestmark = pytest.mark.e2e


@dataclass
class Releases:
    """The example's prod image `web`: releases pushed through the registry API, deployed with `inv`."""

    example: Example
    cluster: Cluster
    shas: list[str] = field(default_factory=list)

    @property
    def repository(self) -> str:
        return self.example.prod_repository()

    def ref(self, tag: str) -> str:
        return self.example.prod_ref(tag)

    def push(self, day: int) -> str:
        """A release for a made-up commit, created on 2026-01-<day>; answers its tag."""
        tag = push_release(self.example.registry.address, self.repository, day)
        self.shas.append(tag.removeprefix("prod-"))
        return tag

    def inv(self, *args: str, cluster: Cluster | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return self.example.inv(*args, **((cluster or self.cluster).env() | env))

    def deploy(self, tag: str, cluster: Cluster | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        sha = tag.removeprefix("prod-")
        result = self.inv("deploy", cluster=cluster, CI_COMMIT_SHA=sha, CI_COMMIT_REF_NAME="main", **env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def tags(self) -> dict[str, str | None]:
        url = self.example.registry.url
        return {tag: registry_digest(url, self.repository, tag) for tag in registry_tags(url, self.repository)}

    def snapshot(self) -> tuple[Any, ...]:
        """The registry's tags and digests and the cluster's workloads, to compare before and after."""
        store = self.cluster.sim.store
        workloads = {kind: store.list(kind, NAMESPACE)[0] for kind in ("deployments", "replicasets")}
        specs = {kind: sorted(str(obj.get("spec")) for obj in objs) for kind, objs in workloads.items()}
        return self.tags(), specs


@pytest.fixture
def releases(example: Example, cluster: Cluster) -> Releases:
    return Releases(example, cluster)


def kubeconfig_of_a_dead_cluster(directory: Path) -> Path:
    path = directory / "dead" / "config"
    path.parent.mkdir(parents=True)
    server = f"http://127.0.0.1:{free_port()}"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        f"clusters: [{{name: dead, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: u, namespace: conveyor}}]\n"
    )
    return path


# ---- the numbered cases of the issue -------------------------------------------------------------------


def test_1_a_staging_deploy_keeps_what_production_runs(releases: Releases, example: Example, tmp_path: Path) -> None:
    production = releases.push(1)
    releases.deploy(production)
    with simulated_cluster(example, tmp_path / "staging", history_limit=1) as staging:
        staged = [releases.push(day) for day in range(2, 6)]
        for tag in staged:
            last = releases.deploy(tag, cluster=staging, CI_ENVIRONMENT_NAME="staging")
        tags = releases.tags()
        assert tags["prod"] == tags[production], "a staging deploy never moves production's tag"
        assert tags["prod-staging"] == tags[staged[-1]]
        assert f"kept {releases.repository}:{production}" in last.stdout
        assert "the image promoted as prod (environment production)" in last.stdout
        assert staged[0] not in tags, "a release nothing needs is still deleted"
        assert set(staged[1:]) <= set(tags), "the newest 3 stay for rollback"
    assert releases.cluster.image() == releases.ref(production)
    assert registry_digest(example.registry.url, releases.repository, production) is not None  # still pulls


def test_2_cleanup_tag_refuses_the_release_a_deployment_runs(releases: Releases) -> None:
    running = releases.push(1)
    releases.deploy(running)
    before = releases.snapshot()
    result = releases.inv("cleanup", "--tag", releases.ref(running))
    assert_one_line_failure(result, "was not deleted", f"in use by deployment/web (namespace {NAMESPACE}")
    assert releases.snapshot() == before


def test_3_gone_branches_never_falls_back_to_local_branches(releases: Releases, example: Example) -> None:
    repository = example.repository
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        push_image(client, repository, ["main", "feature-a", "feature-b"], "ci")
    example.git("remote", "add", "origin", f"http://127.0.0.1:{free_port()}/group/project.git")
    before = releases.snapshot(), registry_tags(example.registry.url, repository)
    for args in (("--execute",), ()):
        result = example.inv("cleanup.policy", "--gone-branches", *args)
        assert_one_line_failure(result, "cannot tell which branches exist", "git ls-remote origin failed")
    example.git("remote", "remove", "origin")
    result = example.inv("cleanup.policy", "--gone-branches", "--execute")
    assert_one_line_failure(result, "cannot tell which branches exist", "no origin remote")
    assert (releases.snapshot(), registry_tags(example.registry.url, repository)) == before


def origin_with(example: Example, directory: Path, *branches: str) -> None:
    """A bare repository as the example's origin, holding main and `branches` (made from main)."""
    origin = directory / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    example.git("remote", "add", "origin", str(origin))
    for branch in branches:
        example.git("branch", branch)
    example.git("push", "-q", "origin", "main", *branches)


def test_3_gone_branches_asks_origin(example: Example, tmp_path: Path) -> None:
    origin_with(example, tmp_path, "Feature/A")
    example.git("branch", "-D", "Feature/A")  # gone locally, alive on origin
    example.git("branch", "feature-b")  # alive locally, never on origin
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        push_image(client, example.repository, ["main", "feature-a"], "live")
        push_image(client, example.repository, ["feature-b", "0123abcd"], "gone")
    result = example.inv("cleanup.policy", "--gone-branches", "--execute")
    assert result.returncode == 0, result.stdout + result.stderr
    assert registry_tags(example.registry.url, example.repository) == ["feature-a", "main"]
    assert "commit image of removed branch feature-b" in result.stdout


def test_4_a_bad_timeout_changes_nothing(releases: Releases) -> None:
    tag = releases.push(1)
    before = releases.snapshot()
    for timeout in ("nan", "inf", "-5", "0"):
        result = releases.inv(
            "deploy", f"--timeout={timeout}", CI_COMMIT_SHA=tag.removeprefix("prod-"), CI_COMMIT_REF_NAME="main"
        )
        assert_one_line_failure(result, f"--timeout '{timeout}' is ")
    assert releases.snapshot() == before


def test_4_a_failed_rollout_without_rollback_keeps_the_release_the_cluster_runs(releases: Releases) -> None:
    good = releases.push(1)
    releases.deploy(good)
    bad = releases.push(2)
    releases.cluster.sim.cluster.crash_images.add(releases.ref(bad))
    failed = releases.inv(
        "deploy", CI_COMMIT_SHA=bad.removeprefix("prod-"), CI_COMMIT_REF_NAME="main", CONVEYOR_ROLLBACK="false"
    )
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert releases.cluster.image() == releases.ref(bad), "not rolled back"
    assert f"kept {releases.repository}:{bad}" in failed.stdout
    assert "in use by deployment/web" in failed.stdout
    assert f"to roll back: kubectl rollout undo deployment/web --namespace {NAMESPACE} --context sim" in failed.stdout
    tags = releases.tags()
    assert bad in tags and tags["prod"] == tags[good], "the running release stays; prod stays where it was"


def test_5_placeholders_of_an_interrupted_run_are_finished_not_ranked(example: Example) -> None:
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        for n in range(1, 13):
            push_image(client, example.repository, [f"build.{n:02d}"], f"b{n}", f"2026-02-{n:02d}T00:00:00Z")
        client.upload_blob(example.repository, THROWAWAY_CONFIG)
        for n in range(1, 26):
            client.put_manifest(example.repository, f"left.{n:02d}", throwaway_manifest(f"left.{n:02d}"))
    result = example.inv("cleanup.policy", "--delete", ".*", "--keep-newest", "10", "--execute")
    assert result.returncode == 0, result.stdout + result.stderr
    assert registry_tags(example.registry.url, example.repository) == [f"build.{n:02d}" for n in range(3, 13)]
    assert result.stdout.count("placeholder left by an interrupted deletion") == 25


def test_6_short_commit_tags_are_commits_and_counts_are_checked(example: Example, tmp_path: Path) -> None:
    origin_with(example, tmp_path, "cafe123")
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        push_image(client, example.repository, ["main", "abc1234"], "main")
        push_image(client, example.repository, ["cafe123"], "hex-branch")
        push_image(client, example.repository, ["old-feature", "def5678"], "old")
    before = registry_tags(example.registry.url, example.repository)
    result = example.inv("cleanup.policy", "--keep-newest=-1", "--delete", ".*", "--execute")
    assert_one_line_failure(result, "--keep-newest '-1' is not a whole number")
    assert registry_tags(example.registry.url, example.repository) == before
    result = example.inv("cleanup.policy", "--gone-branches", "--execute")
    assert result.returncode == 0, result.stdout + result.stderr
    assert registry_tags(example.registry.url, example.repository) == ["abc1234", "cafe123", "main"]


# ---- the rules -----------------------------------------------------------------------------------------


def test_only_releases_outside_both_kept_sets_go(releases: Releases, example: Example, tmp_path: Path) -> None:
    with simulated_cluster(example, tmp_path / "short-history", history_limit=1) as cluster:
        tags = []
        for day in range(1, 7):
            tags.append(releases.push(day))
            last = releases.deploy(tags[-1], cluster=cluster)
        left = releases.tags()
    assert sorted(left) == sorted(["prod", *tags[-3:]]), "prod and the 3 newest"
    assert left["prod"] == left[tags[-1]]
    assert f"kept {releases.repository}:{tags[-2]}" in last.stdout
    assert "one of the 3 newest releases (kept for rollback)" in last.stdout or "in use by" in last.stdout


def test_a_cluster_that_cannot_be_asked_refuses_cleanup_and_deploy_keeps_everything(
    releases: Releases, tmp_path: Path
) -> None:
    old, new = releases.push(1), releases.push(2)
    dead = str(kubeconfig_of_a_dead_cluster(tmp_path))
    before = releases.snapshot()
    for args in (("cleanup", "--tag", releases.ref(old)), ("cleanup.policy", "--image", "web", "--delete", ".*")):
        result = releases.example.inv(*args, KUBECONFIG=dead)
        assert_one_line_failure(result, "cannot tell whether context dead", "cannot reach", "nothing")
    assert releases.snapshot() == before
    skip = ("cleanup", "--tag", releases.ref(old), "--skip-cluster-check")
    kept = releases.example.inv(*skip, KUBECONFIG=dead)
    assert_one_line_failure(kept, "was not deleted", "one of the 3 newest releases")
    skipped = releases.example.inv(*skip, KUBECONFIG=dead, CONVEYOR_KEEP_RELEASES="1")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert old not in releases.tags() and new in releases.tags()


def test_permissions_are_reported_and_a_forbidden_kind_refuses(releases: Releases) -> None:
    old = releases.push(1)
    releases.push(2)
    dry = releases.inv("cleanup.policy", "--image", "web", "--delete", "prod-.*")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    check = "cluster check: context sim (environment production): "
    assert check in dry.stdout and "image references" in dry.stdout
    plan = releases.inv("deploy", "--dry-run", CI_COMMIT_SHA=old.removeprefix("prod-"), CI_COMMIT_REF_NAME="main")
    assert plan.returncode == 0 and check in plan.stdout, plan.stdout + plan.stderr
    releases.cluster.sim.sim.forbidden.add("cronjobs")
    before = releases.snapshot()
    refused = releases.inv("cleanup", "--tag", releases.ref(old), "--dry-run")
    assert_one_line_failure(refused, "cronjobs", "forbidden")
    assert "cannot list" in refused.stdout
    assert releases.snapshot() == before


def test_a_deploy_that_cannot_list_everything_keeps_everything_and_succeeds(releases: Releases) -> None:
    releases.cluster.sim.sim.forbidden.add("statefulsets")
    tags = []
    for day in range(1, 6):
        tags.append(releases.push(day))
        last = releases.deploy(tags[-1])
    assert "warning: kept every release" in last.stdout and "statefulsets" in last.stdout
    assert set(tags) <= set(releases.tags())


def test_workloads_of_every_kind_keep_their_images(releases: Releases) -> None:
    by_cronjob, by_digest, unused = releases.push(1), releases.push(2), releases.push(3)
    for day in range(4, 8):
        releases.push(day)
    sim = releases.cluster.sim.cluster
    sim.seed_object("cronjobs", NAMESPACE, "report", pod_spec({"report": releases.ref(by_cronjob)}))
    digest = releases.tags()[by_digest]
    by_digest_ref = f"{releases.example.registry.address}/{releases.repository}@{digest}"
    sim.seed_object("pods", NAMESPACE, "debug", pod_spec({"shell": "busybox"}, {"copy": by_digest_ref}))
    result = releases.inv("cleanup.policy", "--image", "web", "--delete", "prod-.*", "--execute")
    assert result.returncode == 0, result.stdout + result.stderr
    left = releases.tags()
    assert by_cronjob in left and by_digest in left and unused not in left
    assert "in use by cronjob/report" in result.stdout and "(by digest)" in result.stdout


def test_standalone_promotion_needs_the_release_rolled_out(releases: Releases) -> None:
    releases.deploy(releases.push(1))
    undeployed = releases.push(2)
    before = releases.snapshot()
    result = releases.inv("cleanup.old-prod", CI_COMMIT_SHA=undeployed.removeprefix("prod-"), CI_COMMIT_REF_NAME="main")
    assert_one_line_failure(result, "nothing was promoted", "run inv deploy")
    assert releases.snapshot() == before
