import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conveyor.errors import ConfigError
from conveyor.pipeline.description import describe, select
from conveyor.pipeline.gitlab import branch_rule, portable_settings

REPO = Path(__file__).resolve().parents[2]


def example_settings(**yaml_overrides: object):  # type: ignore[no-untyped-def]
    config = yaml.safe_load((REPO / "invoke.yaml").read_text())["conveyor"]
    config.update(yaml_overrides)
    return portable_settings(REPO, config)


def test_pipeline_description_jobs_and_partial_runs() -> None:
    jobs = describe(example_settings())
    assert [job.name for job in jobs] == [
        "build-ci",
        "test:unit",
        "test:lint",
        "test:functional",
        "build-prod",
        "deploy",
        "cleanup:ci-image",
    ]
    by_name = {job.name: job for job in jobs}
    assert by_name["build-prod"].needs == ("test:unit", "test:lint", "test:functional")
    assert by_name["deploy"].deployable_only and by_name["deploy"].environment == "production"
    assert by_name["cleanup:ci-image"].always
    assert [job.name for job in select(jobs, until="test")] == [
        "build-ci",
        "test:unit",
        "test:lint",
        "test:functional",
        "cleanup:ci-image",
    ]
    assert [job.name for job in select(jobs, only="test:lint")] == ["test:lint"]
    with pytest.raises(ConfigError, match="unknown stage 'tests'"):
        select(jobs, until="tests")
    with pytest.raises(ConfigError, match="unknown job 'x'"):
        select(jobs, only="x")


def test_no_prod_images_means_no_build_prod_or_deploy_jobs() -> None:
    jobs = describe(example_settings(prod_images={}, deploy_targets=[]))
    assert [job.stage for job in jobs] == ["build", "test", "test", "test", "cleanup"]


@pytest.mark.parametrize(
    ("patterns", "rule"),
    [
        (("main",), '$CI_COMMIT_BRANCH == "main"'),
        (("main", "release/*"), '$CI_COMMIT_BRANCH == "main" || $CI_COMMIT_BRANCH =~ /^release\\/.*$/'),
        (("v?.x",), "$CI_COMMIT_BRANCH =~ /^v.\\.x$/"),
    ],
)
def test_branch_rules(patterns: tuple[str, ...], rule: str) -> None:
    assert branch_rule(patterns) == rule


def test_committed_gitlab_ci_is_generated_and_schema_valid() -> None:
    check = subprocess.run(
        [sys.executable, "-m", "invoke", "gitlab-ci", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    schema = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(REPO / ".gitlab-ci.yml")],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    document = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())
    assert document["cleanup:ci-image"]["when"] == "always"
    assert document["test:unit"]["artifacts"]["reports"]["junit"] == "reports/junit-unit.xml"
    assert document["deploy"]["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"'}]


def test_check_catches_a_hand_edit(tmp_path: Path) -> None:
    for name in ("tasks", "invoke.yaml", ".gitlab-ci.yml"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    edited = tmp_path / ".gitlab-ci.yml"
    edited.write_text(edited.read_text().replace("inv test --job lint", "inv test --job lint || true"))
    check = subprocess.run(
        [sys.executable, "-m", "invoke", "gitlab-ci", "--check"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 1
    assert check.stderr.strip() == (
        "conveyor: .gitlab-ci.yml differs from the pipeline description: run inv gitlab-ci and commit it"
    )
