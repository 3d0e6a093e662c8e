"""Cleanup reports and plans end to end (issue 15 G): --json is one JSON document on stdout with the human
lines on stderr; cleanup.policy --plan-out writes the dry run's report, and --execute --plan deletes that
plan's deletions only, each still checked (a tag re-pushed since the plan, or now run by a cluster, is
kept and reported); the exit code is 0 when the guard keeps something, as planned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conveyor.registry import RegistryClient, RegistryOptions
from devtools.k8s_sim.cluster import pod_spec
from tests.e2e.conftest import NAMESPACE, Cluster
from tests.support.example import Example
from tests.support.images import push_image
from tests.support.integration import registry_digest, registry_tags

pytestmark = pytest.mark.e2e
BUILDS = [f"build.{n}" for n in range(1, 7)]


def push_builds(example: Example) -> None:
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        for n, tag in enumerate(BUILDS, 1):
            push_image(client, example.repository, [tag], f"b{n}", f"2026-02-{n:02d}T00:00:00Z")


def test_json_is_one_document_on_stdout_and_the_lines_go_to_stderr(example: Example, cluster: Cluster) -> None:
    push_builds(example)
    result = example.inv("cleanup.policy", "--delete", "build.*", "--keep-newest", "2", "--json", **cluster.env())
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    (repository,) = document["repositories"]
    actions = {tag["tag"]: (tag["action"], tag["rule"]) for tag in repository["tags"]}
    assert actions["build.6"] == ("kept", "keep-newest") and actions["build.1"] == ("would-delete", "delete-regex")
    assert all(tag["digest"].startswith("sha256:") and tag["created"] for tag in repository["tags"])
    assert "would-delete" in result.stderr and "cleanup.policy: " in result.stderr


def weigh_ci_images(example: Example) -> None:
    """guard.ci_images: the project's review apps run CI images, so clusters are asked about them too."""
    invoke = example.root / "invoke.yaml"
    config = yaml.safe_load(invoke.read_text())
    config["conveyor"]["guard"] = {"ci_images": True}
    invoke.write_text(yaml.safe_dump(config))
    example.commit("review apps run CI images")


def test_a_plan_is_executed_as_planned_and_still_weighed(example: Example, cluster: Cluster, tmp_path: Path) -> None:
    push_builds(example)
    weigh_ci_images(example)
    plan = tmp_path / "plan.json"
    args = ("cleanup.policy", "--delete", "build.*", "--keep-newest", "2", "--plan-out", str(plan))
    made = example.inv(*args, **cluster.env())
    assert made.returncode == 0 and plan.is_file(), made.stdout + made.stderr
    planned = [
        t["tag"] for t in json.loads(plan.read_text())["repositories"][0]["tags"] if t["action"] == "would-delete"
    ]
    assert planned == ["build.1", "build.2", "build.3", "build.4"]
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        push_image(client, example.repository, ["build.1"], "again", "2026-03-01T00:00:00Z")  # re-pushed since
        push_image(client, example.repository, ["build.9"], "new", "2026-03-02T00:00:00Z")  # not in the plan
    running = f"{example.registry.address}/{example.repository}:build.2"
    cluster.sim.cluster.seed_object("cronjobs", NAMESPACE, "uses-a-ci-image", pod_spec({"c": running}))

    result = example.inv("cleanup.policy", "--execute", "--plan", str(plan), **cluster.env())
    assert result.returncode == 0, result.stdout + result.stderr
    left = registry_tags(example.registry.url, example.repository)
    assert sorted(left) == ["build.1", "build.2", "build.5", "build.6", "build.9"]
    assert "re-pushed since the plan (was sha256:" in result.stdout
    assert registry_digest(example.registry.url, example.repository, "build.1") is not None
    assert "build.9" not in result.stdout, "the rules are not run again"


def test_guard_ci_images_weighs_ci_tags_against_the_clusters(example: Example, cluster: Cluster) -> None:
    push_builds(example)
    running = f"{example.registry.address}/{example.repository}:build.2"
    cluster.sim.cluster.seed_object("cronjobs", NAMESPACE, "review-app", pod_spec({"c": running}))
    weigh_ci_images(example)
    result = example.inv("cleanup.policy", "--delete", "build.*", "--execute", **cluster.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert registry_tags(example.registry.url, example.repository) == ["build.2"]
    assert "in use by cronjob/review-app" in result.stdout
