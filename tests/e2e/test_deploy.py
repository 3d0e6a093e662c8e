"""build-prod → deploy → promotion on the real registry and the simulated cluster, and a bad release that
fails fast, rolls back, keeps prod, and stays in the registry while its ReplicaSet is in the history."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.conftest import Cluster
from tests.support.example import Example
from tests.support.integration import assert_one_line_failure, registry_catalog, registry_digest, registry_tags

pytestmark = pytest.mark.e2e


def test_deploys_promote_and_a_bad_release_rolls_back(example: Example, cluster: Cluster) -> None:
    repository = f"{example.name}/example/web"
    url = example.registry.url
    prod = f"{example.registry.address}/{repository}"
    env = cluster.env()

    first = example.git("rev-parse", "HEAD")
    assert example.inv("build-prod").returncode == 0
    deployed = example.inv("deploy", **env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert 'deployment "web" successfully rolled out' in deployed.stdout
    assert "cluster: context sim, namespace conveyor" in deployed.stdout
    assert cluster.image() == f"{prod}:prod-{first}"
    assert registry_tags(url, repository) == sorted(["prod", f"prod-{first}"])

    second = example.change_source("second release")
    assert example.inv("build-prod").returncode == 0
    deployed = example.inv("deploy", **env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert cluster.image() == f"{prod}:prod-{second}"
    assert registry_tags(url, repository) == sorted(["prod", f"prod-{first}", f"prod-{second}"])
    assert f"kept {repository}:prod-{first}" in deployed.stdout, "the previous release stays for rollback"
    good = registry_digest(url, repository, "prod")
    assert good == registry_digest(url, repository, f"prod-{second}")
    annotations = cluster.deployment()["metadata"]["annotations"]
    assert annotations["kubernetes.io/change-cause"] == f"conveyor deploy: commit {second}, pipeline local"

    again = example.inv("deploy", **env)
    assert again.returncode == 0 and "no change" in again.stdout and "rolled out" not in again.stdout

    bad = example.change_source("bad release")
    assert example.inv("build-prod").returncode == 0
    cluster.sim.cluster.crash_images.add(f"{prod}:prod-{bad}")
    started = time.monotonic()
    failed = example.inv("deploy", CONVEYOR_ROLLBACK="true", **env)
    elapsed = time.monotonic() - started

    assert failed.returncode != 0, failed.stdout
    assert elapsed < 30, f"took {elapsed:.1f}s"
    assert 'deployment "web" rollout failed: pod web-' in failed.stderr
    # the crash is seen either as the terminated container or, a moment later, as the back-off
    assert re.search(r"container web: (Error: exit code 1|CrashLoopBackOff)", failed.stderr), failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and "Traceback" not in failed.stderr
    assert 'deployment "web": rolled back' in failed.stdout
    assert cluster.image() == f"{prod}:prod-{second}", "rolled back to the previous template"
    assert registry_tags(url, repository) == sorted(["prod", f"prod-{first}", f"prod-{second}", f"prod-{bad}"])
    assert f"kept {repository}:prod-{bad}" in failed.stdout, "the failed release stays while its ReplicaSet is kept"
    assert "kept for rollout undo" in failed.stdout
    assert registry_digest(url, repository, "prod") == good, "prod kept where it was"


def test_a_never_pushed_prod_image_is_refused_before_anything_changes(example: Example, cluster: Cluster) -> None:
    before = (cluster.generation(), cluster.image(), registry_catalog(example.registry.url))
    result = example.inv("deploy", **cluster.env())
    assert_one_line_failure(result, "is not in the registry", "run inv build-prod")
    assert (cluster.generation(), cluster.image(), registry_catalog(example.registry.url)) == before


def test_deploy_status_waits_like_kubectl(example: Example, cluster: Cluster) -> None:
    result = example.inv("deploy.status", **cluster.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith('deployment "web" successfully rolled out')
    missing = example.inv("deploy.status", "--deployment", "nope", **cluster.env())
    assert_one_line_failure(missing, "nope", "not found")
