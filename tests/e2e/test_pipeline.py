"""`inv pipeline` on the example: the real engine, compose and registry, and the simulated cluster."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from devtools.k8s_sim import SCENARIOS, KubeSim
from tests.e2e.conftest import NAMESPACE, Cluster
from tests.support.example import REPO, Example, make_example
from tests.support.integration import registry_tags
from tests.support.registry import RegistryProcess
from tests.support.tokenserver import TokenServer, User

pytestmark = pytest.mark.e2e

JOBS = ("build-ci", "test:unit", "test:lint", "test:functional", "build-prod", "deploy", "cleanup:ci-image")


def summary_rows(stdout: str) -> dict[str, str]:
    """job → result, from the summary table."""
    rows = re.findall(r"^(\S+)\s+(build|test|build-prod|deploy|cleanup)\s+(passed|failed|skipped)\b", stdout, re.M)
    return {job: result for job, _stage, result in rows}


def test_pipeline_leaves_exactly_the_expected_tags(example: Example, cluster: Cluster) -> None:
    ci, web = example.repository, f"{example.name}/example/web"
    first = example.git("rev-parse", "HEAD")
    result = example.inv("pipeline", **cluster.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary_rows(result.stdout) == dict.fromkeys(JOBS, "passed")
    assert result.stdout.rstrip().endswith("pipeline: passed")
    assert registry_tags(example.registry.url, ci) == ["main"]
    assert registry_tags(example.registry.url, web) == sorted(["prod", f"prod-{first}"])

    second = example.change_source("next")
    again = example.inv("pipeline", **cluster.env())
    assert again.returncode == 0, again.stdout + again.stderr
    assert registry_tags(example.registry.url, ci) == ["main"]
    assert registry_tags(example.registry.url, web) == sorted(["prod", f"prod-{first}", f"prod-{second}"])
    assert cluster.image().endswith(f"/web:prod-{second}")
    assert f"kept {web}:prod-{first}" in again.stdout, "the previous release stays for rollout undo"


def test_a_failing_test_job_still_cleans_up_and_fails_the_pipeline(example: Example, tmp_path: Path) -> None:
    extra = tmp_path / "broken.yaml"
    extra.write_text("conveyor:\n  test_jobs:\n    broken:\n      command: exit 3\n      services: []\n")
    result = example.inv("-f", str(extra), "pipeline")
    assert result.returncode == 3, result.stdout + result.stderr
    rows = summary_rows(result.stdout)
    assert rows == {
        "build-ci": "passed",
        "test:unit": "passed",
        "test:lint": "passed",
        "test:functional": "passed",
        "test:broken": "failed",
        "build-prod": "skipped",
        "deploy": "skipped",
        "cleanup:ci-image": "passed",
    }
    assert "pipeline: failed (test:broken)" in result.stdout
    assert registry_tags(example.registry.url, example.repository) == ["main"], "CI commit tag cleaned up"


def test_until_and_only_and_dry_run(example: Example) -> None:
    plan = example.inv("pipeline", "--dry-run", "--until", "test")
    assert plan.returncode == 0
    assert [line.split()[1] for line in plan.stdout.splitlines()] == [
        "build-ci",
        "test:unit",
        "test:lint",
        "test:functional",
        "cleanup:ci-image",
    ]
    assert registry_tags(example.registry.url, example.repository) == []
    only = example.inv("pipeline", "--only", "build-ci")
    assert only.returncode == 0, only.stdout + only.stderr
    assert summary_rows(only.stdout) == {"build-ci": "passed"}
    bad = example.inv("pipeline", "--until", "tests")
    assert bad.returncode == 1 and bad.stderr.strip().startswith("conveyor: unknown stage 'tests'")


# -- secrets ---------------------------------------------------------------------------------------------

USER = "e2e-maintainer"
PASSWORD = "Pa55-PIPELINE-s3cr3t-7f3a9c"
JOB_TOKEN = "JobTok-e2e-91c4d7b2aa"


def secret_forms() -> list[str]:
    forms = [PASSWORD, JOB_TOKEN]
    forms += [base64.b64encode(s.encode()).decode() for s in (PASSWORD, JOB_TOKEN, f"{USER}:{PASSWORD}")]
    return forms


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[tuple[RegistryProcess, TokenServer]]:
    server = TokenServer(
        tmp_path / "tokens", users={USER: User(PASSWORD, {"*": {"pull", "push", "delete"}})}, lifetime=60
    ).start()
    registry = RegistryProcess(tmp_path / "registry", extra_config=server.registry_auth_config()).start()
    yield registry, server
    registry.stop()
    server.stop()


class ArgvWatcher:
    """Reads every process's command line while the pipeline runs, to prove no secret is passed as one."""

    def __init__(self) -> None:
        self.leaks: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ArgvWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    argv = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if any(form in argv for form in secret_forms()):
                    self.leaks.append(argv)


def test_secrets_never_appear_in_the_full_pipeline(
    tmp_path: Path, token_registry: tuple[RegistryProcess, TokenServer]
) -> None:
    registry, tokens = token_registry
    docker_config = tmp_path / "docker-config"
    plugin = shutil.which("docker-compose") or str(Path.home() / ".docker" / "cli-plugins" / "docker-compose")
    (docker_config / "cli-plugins").mkdir(parents=True)
    shutil.copy(plugin, docker_config / "cli-plugins" / "docker-compose")
    base = f"{registry.address}/conveyor/busybox:1.35"
    env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}
    subprocess.run(
        ["docker", "login", "-u", USER, "--password-stdin", registry.address],
        input=PASSWORD,
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run([str(REPO / ".ci" / "base-image"), base], env=env, check=True, capture_output=True)
    subprocess.run(["docker", "logout", registry.address], env=env, check=True, capture_output=True)
    example = make_example(tmp_path / "project", registry, base)
    sim = KubeSim(SCENARIOS["success"], registry=None).start()
    try:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kube" / "config", namespace=NAMESPACE)
        sim.cluster.seed_deployment(NAMESPACE, "web", base, container="web")
        leftovers = set(Path(tempfile.gettempdir()).glob("conveyor-docker-*"))
        with ArgvWatcher() as watcher:
            result = example.inv(
                "pipeline",
                DOCKER_CONFIG=str(docker_config),
                CI_REGISTRY_USER=USER,
                CI_REGISTRY_PASSWORD=PASSWORD,
                CI_JOB_TOKEN=JOB_TOKEN,
                KUBECONFIG=str(kubeconfig),
                KUBE_NAMESPACE=NAMESPACE,
                GITLAB_CI="true",
                CI_COMMIT_BRANCH="main",  # GitLab sets it in branch pipelines (the deploy rules test it)
            )
    finally:
        sim.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert summary_rows(result.stdout) == dict.fromkeys(JOBS, "passed")
    assert tokens.issued > 0, "the registry really asked for tokens"
    reports = "".join(path.read_text() for path in (example.root / "reports").rglob("*.xml"))
    for form in [*secret_forms(), *tokens.tokens]:
        assert form not in output
        assert form not in reports
    assert watcher.leaks == []
    stored = "".join(
        p.read_text(errors="replace") for p in docker_config.rglob("*") if p.is_file() and p.stat().st_size < 1e5
    )
    assert not [form for form in secret_forms() if form in stored], "docker login left the password behind"
    assert set(Path(tempfile.gettempdir()).glob("conveyor-docker-*")) == leftovers, "temporary Docker config kept"
    assert "section_start:" in result.stdout, "GitLab log sections when GITLAB_CI=true"


# -- staging then production, with the test jobs' own reports ------------------------------------------------

STAGING = "conveyor-staging"
ENVIRONMENTS = {
    "staging": {"namespace": STAGING, "url": "https://staging.example.test"},
    "production": {"namespace": NAMESPACE, "url": "https://example.test"},
}


def junit_cases(path: Path) -> dict[str, str]:
    """JUnit test case name -> passed / failure / error / skipped."""
    outcomes = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[str(case.get("name"))] = kinds[0] if kinds else "passed"
    return outcomes


def web_image(sim: KubeSim, namespace: str) -> str:
    deployment = sim.cluster.store.get("deployments", namespace, "web")
    assert deployment is not None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def test_staging_then_production_with_the_jobs_own_reports(example: Example, tmp_path: Path) -> None:
    config_file = example.root / "invoke.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["conveyor"]["environments"] = ENVIRONMENTS
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    reports = example.root / "reports"

    # a failing case is visible in the job's JUnit file and in its output
    failing = example.inv("pipeline", "--until", "test", EXAMPLE_FAIL_CASE="shout")
    assert failing.returncode != 0 and summary_rows(failing.stdout)["test:unit"] == "failed", failing.stdout
    unit = junit_cases(reports / "unit" / "junit.xml")
    assert len(unit) >= 3 and unit.pop("shout", unit.pop("GreetingTest::shout", None)) == "failure", unit
    assert set(unit.values()) == {"passed"}
    assert re.search(r"^\s*failed: \S*shout", failing.stdout, re.M), failing.stdout

    sim = KubeSim(SCENARIOS["success"], registry=example.registry.address, namespaces=("default", STAGING, NAMESPACE))
    sim.start()
    try:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kube" / "config", namespace="default")
        for namespace in (STAGING, NAMESPACE):
            sim.cluster.seed_deployment(namespace, "web", example.base_image, container="web")
        result = example.inv("pipeline", KUBECONFIG=str(kubeconfig))
        assert result.returncode == 0, result.stdout + result.stderr
        rows = summary_rows(result.stdout)
        assert rows["deploy:staging"] == "passed" and rows["deploy:production"] == "skipped", result.stdout
        sha = example.git("rev-parse", "HEAD")
        release = f"{example.registry.address}/{example.name}/example/web:prod-{sha}"
        assert (web_image(sim, STAGING), web_image(sim, NAMESPACE)) == (release, example.base_image)
        web = f"{example.name}/example/web"
        assert registry_tags(example.registry.url, web) == sorted([f"prod-{sha}", "prod-staging"])

        # the jobs' own reports landed, with several cases each; lint declares none and keeps the one-case report
        assert set(junit_cases(reports / "unit" / "junit.xml").values()) == {"passed"}
        assert len(junit_cases(reports / "unit" / "junit.xml")) >= 3
        assert len(junit_cases(reports / "functional" / "junit.xml")) >= 3
        assert ElementTree.parse(reports / "unit" / "coverage.xml").getroot().tag == "coverage"
        assert list(junit_cases(reports / "junit-lint.xml")) == ["lint"]
        assert re.search(r"^\s*tests \d+, failures 0, errors 0, skipped 0$", result.stdout, re.M), result.stdout

        # production only when asked, with the very image staging runs
        production = example.inv("pipeline", "--only", "deploy:production", KUBECONFIG=str(kubeconfig))
        assert production.returncode == 0, production.stdout + production.stderr
        assert web_image(sim, NAMESPACE) == release
        assert registry_tags(example.registry.url, web) == sorted([f"prod-{sha}", "prod", "prod-staging"])
    finally:
        sim.stop()
