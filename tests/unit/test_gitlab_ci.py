import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import re2
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.config.loading import load_settings
from conveyor.config.settings import Settings
from conveyor.errors import ConfigError
from conveyor.pipeline.description import describe, select, skip_reason
from conveyor.pipeline.gitlab import COVERAGE_REGEX, branch_rule, portable_settings, render_team_file
from conveyor.pipeline.globs import glob_regex
from conveyor.pipeline.writing import stale_diff, team_file_note, unused_variables

REPO = Path(__file__).resolve().parents[2]
STAGING_PRODUCTION = {
    "staging": {"namespace": "shop-staging", "url": "https://staging.shop.example"},
    "production": {"namespace": "shop", "url": "https://shop.example"},
}


def example_config(**yaml_overrides: object) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((REPO / "invoke.yaml").read_text())["conveyor"]
    config.update(yaml_overrides)
    return config


def example_settings(**yaml_overrides: object) -> Settings:
    return portable_settings(REPO, example_config(**yaml_overrides))


def pipeline_settings(variables: dict[str, str], **yaml_overrides: object) -> Settings:
    environ = {"CI_COMMIT_SHA": "0" * 40, "CI_REGISTRY": "registry.invalid", "CI_REGISTRY_IMAGE": "registry.invalid/p"}
    return load_settings(REPO, example_config(**yaml_overrides), environ | variables, {}, lambda _q: None)


def rendered(**yaml_overrides: object) -> dict[str, Any]:
    from conveyor.pipeline.gitlab import render_file

    text, _jobs = render_file(REPO, example_config(**yaml_overrides))
    document: dict[str, Any] = yaml.safe_load(text)
    return document


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


def test_environments_give_one_deploy_job_each_in_order_later_ones_by_hand() -> None:
    document = rendered(environments=STAGING_PRODUCTION)
    staging, production = document["deploy:staging"], document["deploy:production"]
    assert staging["script"] == ["inv deploy --environment staging"]
    assert staging["needs"] == ["build-prod"] and production["needs"] == ["deploy:staging"]
    assert staging["environment"] == {"name": "staging", "url": "https://staging.shop.example"}
    assert staging["resource_group"] == "staging" and production["resource_group"] == "production"
    assert staging["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"', "when": "on_success"}]
    assert production["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"', "when": "manual"}]
    assert production["allow_failure"] is True and "allow_failure" not in staging
    assert "deploy" not in document
    assert document["cleanup:ci-image"]["when"] == "always"


def test_docker_in_docker_only_on_the_jobs_that_use_the_engine() -> None:
    document = rendered(environments=STAGING_PRODUCTION, cleanup_policy=[{"delete": ".*", "keep_newest": 5}])
    assert "default" not in document and "variables" not in document
    docker = document[".conveyor-docker"]
    assert docker["services"] == [{"name": "docker:28-dind", "alias": "docker"}]
    assert docker["variables"]["DOCKER_HOST"] == "tcp://docker:2376"
    assert "DOCKER_HOST" not in str(document[".conveyor"])
    engine_jobs = {"build-ci", "test:unit", "test:lint", "test:functional", "build-prod"}
    for name, job in document.items():
        if name.startswith(".") or name == "stages":
            continue
        assert job["extends"] == (".conveyor-docker" if name in engine_jobs else ".conveyor"), name
        assert job.get("interruptible", False) is (name in engine_jobs), name


def test_a_cleanup_policy_adds_a_scheduled_job_and_schedules_run_only_it() -> None:
    policy = [{"image": "ci", "delete": ".*", "keep": "main", "keep_newest": 10, "older_than": "30d"}]
    document = rendered(cleanup_policy=policy)
    assert document["cleanup:policy"]["script"] == ["inv cleanup.policy --execute"]
    assert document["cleanup:policy"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "on_success"}]
    never = {"if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "never"}
    assert document["build-ci"]["rules"] == [never, {"when": "on_success"}]
    assert document["cleanup:ci-image"]["rules"] == [never, {"when": "always"}]
    assert document["deploy"]["rules"][0] == never
    # the local plan follows the same variables
    on_main = {"CI_COMMIT_REF_NAME": "main"}
    scheduled = pipeline_settings(on_main | {"CI_PIPELINE_SOURCE": "schedule"}, cleanup_policy=policy)
    planned = [job.name for job in describe(scheduled) if not skip_reason(scheduled, job)]
    assert planned == ["cleanup:policy"]
    pushed = pipeline_settings(on_main, cleanup_policy=policy)
    assert "cleanup:policy" not in [job.name for job in describe(pushed) if not skip_reason(pushed, job)]


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ({"delete": "(a"}, "cleanup_policy.0.delete"),
        ({"keep_newest": -1}, "keep_newest must be a whole number"),
        ({"older_than": "soon"}, "cleanup_policy.0.older_than"),
        ({"gone_branches": "yes"}, "gone_branches must be true or false"),
        ({"keep_last": 3}, "did you mean 'keep_newest'"),
    ],
)
def test_a_bad_cleanup_policy_is_one_line(policy: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        example_settings(cleanup_policy=[policy])


def test_declared_reports_are_gitlab_artifacts() -> None:
    jobs = example_config()["test_jobs"]
    jobs["unit"]["reports"] = {"junit": "var/junit.xml", "coverage": {"format": "cobertura", "path": "var/cov.xml"}}
    document = rendered(test_jobs=jobs)
    assert document["test:unit"]["artifacts"] == {
        "when": "always",
        "reports": {
            "junit": "reports/unit/junit.xml",
            "coverage_report": {"coverage_format": "cobertura", "path": "reports/unit/coverage.xml"},
        },
    }
    assert document["test:lint"]["artifacts"]["reports"] == {"junit": "reports/junit-lint.xml"}
    assert document["test:unit"]["coverage"] == COVERAGE_REGEX


def test_the_coverage_regex_in_the_readme_is_the_generated_one() -> None:
    assert f"`{COVERAGE_REGEX}`" in (REPO / "README.md").read_text()


@pytest.mark.parametrize(
    ("patterns", "rule"),
    [
        ((), "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"),
        (("main",), '$CI_COMMIT_BRANCH == "main"'),
        (("main", "release/*"), '$CI_COMMIT_BRANCH == "main" || $CI_COMMIT_BRANCH =~ /^release\\/.*$/'),
        (("v?.x",), "$CI_COMMIT_BRANCH =~ /^v.\\.x$/"),
        (("hotfix-[0-9]*",), "$CI_COMMIT_BRANCH =~ /^hotfix\\-[0-9].*$/"),
    ],
)
def test_branch_rules(patterns: tuple[str, ...], rule: str) -> None:
    assert branch_rule(patterns) == rule


BRANCHES = [
    "main",
    "master",
    "hotfix-1",
    "hotfix-12a",
    "hotfix-",
    "hotfix-x1",
    "release/1.2",
    "release/",
    "releasex1",
    "feature/a-b",
    "v1.x",
    "v12.x",
    "a]b",
    "[abc",
    "a-b",
    "a^b",
    "z",
    "-",
    "a.b",
    "Main",
]
GLOBS = [
    "main",
    "hotfix-[0-9]*",
    "release/*",
    "v?.x",
    "[!a-m]*",
    "[]]*",
    "a]b",
    "[abc",
    "[a-]b",
    "a[-^]b",
    "[z-a]",
    "[!z-a]",
    "[c-ab]",
    "*.*",
    "**",
    "feature/*-*",
    "[M]ain",
]


@pytest.mark.parametrize("glob", GLOBS)
def test_a_glob_rule_means_what_the_runtime_matcher_means(glob: str) -> None:
    regex = re2.compile(f"^{glob_regex(glob)}$")
    for branch in BRANCHES:
        assert (regex.search(branch) is not None) == fnmatch.fnmatchcase(branch, glob), (glob, branch)


@settings(max_examples=300, deadline=None)
@given(
    glob=st.text(alphabet="ab-*?[]!^/.", max_size=8),
    branch=st.text(alphabet="ab-^/.]![", max_size=8),
)
def test_glob_translation_agrees_with_fnmatch_on_any_pattern(glob: str, branch: str) -> None:
    regex = re2.compile(f"^{glob_regex(glob)}$")
    assert (regex.search(branch) is not None) == fnmatch.fnmatchcase(branch, glob)


@pytest.mark.parametrize(
    ("variables", "deployable", "why"),
    [
        ({"CI_COMMIT_REF_NAME": "master", "CI_DEFAULT_BRANCH": "master"}, True, ""),
        ({"CI_COMMIT_REF_NAME": "main", "CI_DEFAULT_BRANCH": "master"}, False, "not a deployable branch (master)"),
        ({"CI_COMMIT_REF_NAME": "main"}, False, "the default branch is unknown"),
        (
            {"CI_COMMIT_REF_NAME": "v1.0", "CI_COMMIT_TAG": "v1.0", "CI_DEFAULT_BRANCH": "v1.0"},
            False,
            "tag pipelines do not deploy",
        ),
        ({"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "master", "CI_DEFAULT_BRANCH": "master"}, False, "not set: only"),
        (
            {
                "GITLAB_CI": "true",
                "CI_COMMIT_REF_NAME": "x",
                "CI_COMMIT_BRANCH": "master",
                "CI_DEFAULT_BRANCH": "master",
            },
            True,
            "",
        ),
    ],
)
def test_deployable_branches_default_to_the_default_branch(
    variables: dict[str, str], deployable: bool, why: str
) -> None:
    settings = pipeline_settings(variables, deployable_branches=None)
    assert settings.deployable is deployable
    if why:
        assert why in settings.why_not_deployable()


def test_committed_gitlab_ci_is_generated_and_schema_valid() -> None:
    check = subprocess.run(
        [sys.executable, "-m", "invoke", "gitlab-ci", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == ".gitlab/conveyor.yml is up to date"
    for name in (".gitlab-ci.yml", ".gitlab/conveyor.yml"):
        schema = subprocess.run(
            ["check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(REPO / name)],
            capture_output=True,
            text=True,
        )
        assert schema.returncode == 0, schema.stdout + schema.stderr
    assert yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())["include"] == [{"local": ".gitlab/conveyor.yml"}]
    document = yaml.safe_load((REPO / ".gitlab" / "conveyor.yml").read_text())
    assert document["cleanup:ci-image"]["when"] == "always"
    assert document["deploy"]["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"', "when": "on_success"}]


def copy_project(tmp_path: Path) -> Path:
    for name in ("tasks", "invoke.yaml", ".gitlab-ci.yml", ".gitlab"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def inv(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=project, capture_output=True, text=True, env=env)


def test_check_prints_a_diff_of_conveyors_file_and_ignores_the_teams(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    team = project / ".gitlab-ci.yml"
    team.write_text(team.read_text() + "lint:extra:\n  stage: test\n  tags: [docker]\n  script: [make lint]\n")
    assert inv(project, "gitlab-ci", "--check").returncode == 0
    ours = project / ".gitlab" / "conveyor.yml"
    ours.write_text(ours.read_text().replace("inv test --job lint", "inv test --job lint || true"))
    check = inv(project, "gitlab-ci", "--check")
    assert check.returncode == 1
    assert "-  - inv test --job lint || true\n+  - inv test --job lint\n" in check.stdout
    assert check.stderr.strip() == (
        "conveyor: .gitlab/conveyor.yml is stale: it differs from invoke.yaml (diff above): "
        "run inv gitlab-ci and commit it"
    )


def test_writing_keeps_the_teams_file_and_reports_unused_variables(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    team = project / ".gitlab-ci.yml"
    team.write_text("variables:\n  FOO: bar\n")
    (project / ".gitlab").joinpath("conveyor.yml").unlink()
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("CONVEYOR_", "CI_"))}
    env["CONVEYOR_JOB_IMAGE"] = "elsewhere/job:1"
    done = inv(project, "gitlab-ci", env=env)
    assert done.returncode == 0, done.stderr
    assert team.read_text() == "variables:\n  FOO: bar\n"
    assert "note: CONVEYOR_JOB_IMAGE is set in the environment but the CI file is shaped by invoke.yaml" in done.stdout
    assert "note: .gitlab-ci.yml does not include .gitlab/conveyor.yml" in done.stdout
    assert "elsewhere/job" not in (project / ".gitlab" / "conveyor.yml").read_text()


def test_team_file_notes_and_unused_variables() -> None:
    assert team_file_note(render_team_file()) == ""
    assert team_file_note("include: '.gitlab/conveyor.yml'\n") == ""
    assert "does not include" in team_file_note("include: [{local: other.yml}]\n")
    assert unused_variables({"CONVEYOR_DEPLOYABLE_BRANCHES": ".env", "CI_REGISTRY": "the environment"}) == [
        "note: CONVEYOR_DEPLOYABLE_BRANCHES is set in .env but the CI file is shaped by invoke.yaml alone, so it "
        "was not used: set conveyor.deployable_branches in invoke.yaml instead"
    ]


def test_stale_diff_is_empty_when_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "conveyor.yml"
    path.write_text("a\n")
    assert stale_diff(path, "a\n") == ""
    assert "-a\n+b\n" in stale_diff(path, "b\n")
    with pytest.raises(ConfigError, match="does not exist"):
        stale_diff(tmp_path / "missing.yml", "a\n")


def test_the_job_image_sets_no_docker_host_of_its_own() -> None:
    """Deploy and cleanup jobs run without dind: the image must not point them at a `docker` service."""
    dockerfile = (REPO / "src" / "conveyor" / "jobimage" / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line.split(" ", 1)[0] in ("ENV", "ARG")]
    assert instructions and not any("DOCKER_" in line for line in instructions), instructions


def test_the_scheduled_cleanup_applies_the_configured_rules_unless_rule_flags_are_given() -> None:
    from datetime import timedelta

    from conveyor.config.model import CleanupPolicy
    from conveyor.console import Console
    from conveyor.redact import Redactor
    from conveyor.wiring.entries import configured_policies as configured_rules
    from conveyor.wiring.toolbox import Toolbox

    policy = [{"delete": ".*", "older_than": "30d"}, {"image": "web", "delete": "prod-.*", "keep_newest": 3}]
    tools = Toolbox(pipeline_settings({"CI_COMMIT_REF_NAME": "main"}, cleanup_policy=policy), Console(Redactor()))
    ci = CleanupPolicy(image="ci", delete_regex=".*", older_than=timedelta(days=30))
    web = CleanupPolicy(image="web", delete_regex="prod-.*", keep_newest=3)
    assert configured_rules(tools, CleanupPolicy()) == [ci, web]
    assert configured_rules(tools, CleanupPolicy(image="web")) == [web]
    assert configured_rules(tools, CleanupPolicy(image="ci")) == [ci]
    flags = CleanupPolicy(image="web", keep_regex="prod")
    assert configured_rules(tools, flags) == [flags]
    assert configured_rules(tools, CleanupPolicy(delete_regex="x")) == [CleanupPolicy(image="ci", delete_regex="x")]
    with pytest.raises(ConfigError, match=r"no rules for image 'worker'.*its images: ci, web"):
        configured_rules(tools, CleanupPolicy(image="worker"))
    unconfigured = Toolbox(pipeline_settings({"CI_COMMIT_REF_NAME": "main"}), Console(Redactor()))
    assert configured_rules(unconfigured, CleanupPolicy()) == [CleanupPolicy(image="ci")]
