"""Adoption, as the README's "Adopting Conveyor" section lists it, on a project that is not the example
(samples/shop): Conveyor installed from a wheel into a fresh virtual environment, `conveyor init`, the
edits the README names, then `inv pipeline` green against a real registry and the simulated cluster, and
`inv gitlab-ci` valid against GitLab's schema. Each step's time is printed (pytest -s shows them)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from conveyor.jobimage.wheels import conveyor_wheel
from devtools.k8s_sim import SCENARIOS, KubeSim
from tests.support.example import REPO
from tests.support.integration import assert_one_line_failure, registry_tags
from tests.support.registry import RegistryProcess
from tests.support.wheelhouse import make_wheelhouse

pytestmark = pytest.mark.e2e
NAMESPACE = "shop"
STAGING = "shop-staging"
SCRUBBED = ("CI_", "GITLAB_", "CONVEYOR_", "DOCKER_CONFIG", "KUBECONFIG", "VIRTUAL_ENV", "PYTHON")


class Steps:
    """Runs the adoption's commands in the project with the virtual environment's `conveyor` and `inv`."""

    def __init__(self, project: Path, venv: Path) -> None:
        self.project = project
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
        self.env |= {"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "NO_COLOR": "1"}
        self.timings: list[tuple[str, float]] = []

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = subprocess.run(argv, cwd=self.project, env=self.env, capture_output=True, text=True, timeout=600)
        self.timings.append((" ".join(argv), time.monotonic() - started))
        if check:
            assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
        return done


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A fresh virtual environment with Conveyor's wheel, installed without a package index."""
    wheels = make_wheelhouse("conveyor", tmp_path / "wheels")
    wheel = conveyor_wheel(wheels)
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    pip = [str(tmp_path / "venv" / "bin" / "pip"), "install", "-q", "--no-index", "--find-links", str(wheels)]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)
    return tmp_path / "venv"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """samples/shop with a git history of its own on `master` and a GitLab origin."""
    project = tmp_path / "shop"
    shutil.copytree(REPO / "samples" / "shop", project)
    for args in (("init", "-q", "-b", "master"), ("add", "-A"), ("commit", "-qm", "shop")):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=project, check=True)
    subprocess.run(["git", "remote", "add", "origin", "git@gitlab.example.com:acme/shop.git"], cwd=project, check=True)
    # as a clone has them: origin's master and origin/HEAD, the default branch
    subprocess.run(["git", "update-ref", "refs/remotes/origin/master", "HEAD"], cwd=project, check=True)
    head = ["git", "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/master"]
    subprocess.run(head, cwd=project, check=True)
    return project


@pytest.fixture
def cluster(registry: RegistryProcess, base_image: str) -> Iterator[KubeSim]:
    namespaces = ("default", STAGING, NAMESPACE)
    sim = KubeSim(SCENARIOS["success"], registry=registry.address, namespaces=namespaces).start()
    try:
        for namespace in (STAGING, NAMESPACE):
            for name in ("api", "worker"):
                sim.cluster.seed_deployment(namespace, name, base_image, container=name)
        yield sim
    finally:
        sim.stop()


def images(sim: KubeSim, namespace: str) -> set[str]:
    """The images the Deployments of `namespace` run."""
    found = set()
    for name in ("api", "worker"):
        deployment = sim.cluster.store.get("deployments", namespace, name)
        assert deployment is not None
        found |= {c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]}
    return found


def test_adopting_conveyor_in_the_shop_project(
    venv: Path, shop: Path, cluster: KubeSim, registry: RegistryProcess, base_image: str, tmp_path: Path
) -> None:
    steps = Steps(shop, venv)
    assert steps.run("conveyor", "--version").stdout.strip().startswith("Conveyor ")

    # 2. conveyor init
    init = steps.run("conveyor", "init")
    assert "ci_service: php" in init.stdout and "prod_images: api, worker" in init.stdout
    assert "deployable_branches: master (origin's default branch, origin/HEAD)" in init.stdout
    assert (shop / "tasks.py").read_text() == "from conveyor.tasks import ns\n"

    # 3. the test jobs and deploy targets in invoke.yaml
    config = yaml.safe_load((shop / "invoke.yaml").read_text())
    config["conveyor"]["test_jobs"] = {
        "phpunit": {"command": "sh tests/phpunit.sh", "services": ["pgsql"], "reports": {"junit": "var/junit.xml"}},
        "phpcs": {"command": "sh tests/phpcs.sh", "services": []},
    }
    config["conveyor"]["deploy_targets"] = [
        {"deployment": "api", "container": "api", "image": "api"},
        {"deployment": "worker", "container": "worker", "image": "worker"},
    ]
    config["conveyor"]["environments"] = {
        "staging": {"namespace": STAGING, "url": "https://staging.shop.example"},
        "production": {"namespace": NAMESPACE, "url": "https://shop.example"},
    }
    (shop / "invoke.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    # a project without a registry outside GitLab: one line naming the setting
    assert_one_line_failure(steps.run("inv", "build-ci", check=False), "CI_REGISTRY is not set", "set CI_REGISTRY")

    # 4. the registry in .env (the image path comes from origin), the cluster for deploy
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kube" / "config")
    (shop / ".env").write_text(f"CI_REGISTRY={registry.address}\nKUBECONFIG={kubeconfig}\nSHOP_BASE={base_image}\n")

    # 5. inv gitlab-ci: Conveyor's file, and the team's that includes it, valid against GitLab's schema
    written = steps.run("inv", "gitlab-ci").stdout
    assert "wrote .gitlab/conveyor.yml: 7 jobs" in written and "wrote .gitlab-ci.yml" not in written  # init's
    for name in (".gitlab-ci.yml", ".gitlab/conveyor.yml"):
        steps.run(sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.gitlab-ci", name)
    ci_file = yaml.safe_load((shop / ".gitlab" / "conveyor.yml").read_text())
    assert {"test:phpunit", "test:phpcs", "deploy:staging", "deploy:production"} <= set(ci_file)
    assert ci_file["deploy:staging"]["rules"] == [
        {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "on_success"}
    ]
    assert ci_file["deploy:production"]["rules"][0]["when"] == "manual"
    # the console script reads the same project: its invoke.yaml, its .env
    assert "build-ci" in steps.run("conveyor", "--list").stdout
    assert steps.run("conveyor", "gitlab-ci", "--check").stdout.strip() == ".gitlab/conveyor.yml is up to date"

    # 6. inv pipeline: staging is deployed, production waits to be started by hand
    pipeline = steps.run("inv", "pipeline")
    assert pipeline.stdout.rstrip().endswith("pipeline: passed"), pipeline.stdout
    assert re.search(r"^deploy:production\s+deploy\s+skipped\s.*started by hand", pipeline.stdout, re.M)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=shop, capture_output=True, text=True).stdout.strip()
    url = registry.url
    assert registry_tags(url, "acme/shop/ci") == ["master"], "the commit tag was cleaned up, the branch tag stays"
    for image in ("api", "worker"):
        assert registry_tags(url, f"acme/shop/{image}") == sorted(["prod-staging", f"prod-{sha}"])
    assert images(cluster, STAGING) == {f"{registry.address}/acme/shop/{name}:prod-{sha}" for name in ("api", "worker")}
    assert images(cluster, NAMESPACE) == {base_image}
    phpunit = ElementTree.parse(shop / "reports" / "phpunit" / "junit.xml").getroot()
    assert len(list(phpunit.iter("testcase"))) >= 2, "phpunit's own JUnit file, copied out of its container"
    assert (shop / "reports" / "junit-phpcs.xml").is_file(), "phpcs declares none: Conveyor's one-case report"
    assert yaml.safe_load((shop / ".gitlab" / "conveyor.yml").read_text())["test:phpunit"]["artifacts"] == {
        "when": "always",
        "reports": {"junit": "reports/phpunit/junit.xml"},
    }

    # 7. production, when asked: the same images, not rebuilt
    production = steps.run("inv", "pipeline", "--only", "deploy:production")
    assert production.stdout.rstrip().endswith("pipeline: passed"), production.stdout
    assert images(cluster, NAMESPACE) == images(cluster, STAGING)
    for image in ("api", "worker"):
        assert registry_tags(url, f"acme/shop/{image}") == sorted(["prod", "prod-staging", f"prod-{sha}"])
    for line, seconds in steps.timings:
        print(f"adoption step: {line}: {seconds:.1f} s")
