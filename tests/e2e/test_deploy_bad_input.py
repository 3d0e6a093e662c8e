"""Bad input to deploy: one line, non-zero, nothing changed in the registry or the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_built_example
from tests.e2e.conftest import Cluster, simulated_cluster
from tests.support.example import Example
from tests.support.integration import assert_one_line_failure, registry_catalog, registry_tags
from tests.support.registry import RegistryProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def prod_built(tmp_path_factory: pytest.TempPathFactory, registry: RegistryProcess, base_image: str) -> Example:
    return make_built_example(tmp_path_factory, registry, base_image, "build-prod")


@pytest.fixture
def sim(prod_built: Example, tmp_path: Path) -> Iterator[Cluster]:
    with simulated_cluster(prod_built, tmp_path) as cluster:
        yield cluster


def targets(tmp_path: Path, deployment: str, container: str) -> str:
    extra = tmp_path / "targets.yaml"
    extra.write_text(
        f"conveyor:\n  deploy_targets:\n    - {{deployment: {deployment}, container: {container}, image: web}}\n"
    )
    return str(extra)


def unchanged(example: Example, cluster: Cluster) -> tuple[object, ...]:
    repository = f"{example.name}/example/web"
    return (
        cluster.generation(),
        cluster.image(),
        registry_catalog(example.registry.url),
        registry_tags(example.registry.url, repository),
    )


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("unknown deployment", ('deployment "nope" not found in namespace "conveyor"',)),
        ("unknown container", ('deployment "web" has no container "nope"', "its containers are: web")),
        ("cluster unreachable", ("cannot reach the Kubernetes API",)),
        ("bad kubeconfig", ("kubeconfig",)),
        ("wrong namespace", ("nope",)),
        ("non-deployable branch", ("'feature/x' is not a deployable branch", "CONVEYOR_DEPLOYABLE_BRANCHES")),
    ],
)
def test_bad_input_changes_nothing(
    prod_built: Example, sim: Cluster, tmp_path: Path, case: str, words: tuple[str, ...]
) -> None:
    env = sim.env()
    args: list[str] = []
    if case == "unknown deployment":
        args = ["-f", targets(tmp_path, "nope", "web")]
    elif case == "unknown container":
        args = ["-f", targets(tmp_path, "web", "nope")]
    elif case == "cluster unreachable":
        sim.kubeconfig.write_text(sim.kubeconfig.read_text().replace(sim.sim.url, "http://127.0.0.1:9"))
    elif case == "bad kubeconfig":
        broken = tmp_path / "broken-config"
        broken.write_text("this: [is not a kubeconfig\n")
        env["KUBECONFIG"] = str(broken)
    elif case == "wrong namespace":
        env["KUBE_NAMESPACE"] = "nope"
    elif case == "non-deployable branch":
        env["CI_COMMIT_REF_NAME"] = "feature/x"
        env["CI_COMMIT_SHA"] = prod_built.git("rev-parse", "HEAD")
    before = unchanged(prod_built, sim)
    result = prod_built.inv(*args, "deploy", **env)
    assert_one_line_failure(result, *words)
    assert unchanged(prod_built, sim) == before
