"""The generated CI file, read as GitLab reads it (gitlab-ci-local: rules, include, extends, needs,
workflow), runs the same jobs in the same stage order and with the same `when` as `inv pipeline --dry-run`
plans with the same pipeline variables: for the default branch, a feature branch, a branch matching a glob
deployable pattern, a tag and a scheduled pipeline. Every CI file also passes GitLab's CI schema."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.support.example import PROJECT_FILES, REPO, SCRUBBED_PREFIXES
from tests.support.gitlab_runner import (
    GitLabRun,
    Job,
    Pipeline,
    by_stage,
    check_out,
    commit,
    copy_project,
    gitlab_jobs,
    local_includes,
)

pytestmark = pytest.mark.e2e

GLOB_BRANCHES = {"deployable_branches": ["main", "hotfix-[0-9]*"]}
ENVIRONMENTS = {
    "environments": {
        "staging": {"namespace": "conveyor-staging", "url": "https://staging.example.test"},
        "production": {"namespace": "conveyor"},
    }
}
POLICY = {"cleanup_policy": [{"image": "ci", "delete": ".*", "keep": "main", "keep_newest": 5, "older_than": "30d"}]}
DEFAULT_BRANCH = {"deployable_branches": None}  # the project's default branch, CI_DEFAULT_BRANCH
TEAM_FILE = """\
include:
  - local: .gitlab/conveyor.yml
variables:
  COMPOSER_AUTH: "{}"
.conveyor:
  tags: [k8s-runner]
  before_script: [inv --version]
test:unit:
  timeout: 30m
  retry: 1
docs:
  stage: test
  image: node:20
  needs: []
  script: [npx markdownlint-cli docs/]
"""
DRY_RUN_LINE = re.compile(r"^(?P<stage>\S+)\s+(?P<name>\S+)\s+(?P<plan>\S.*?)\s*$")
MARKERS = {" (always)": "always", " (manual)": "manual"}


@dataclass(frozen=True)
class Case:
    """A pipeline of the example; `config` changes invoke.yaml (then the CI file is regenerated), `team_file`
    replaces the team's .gitlab-ci.yml (its own jobs are left out of the comparison)."""

    id: str
    pipeline: Pipeline
    config: Mapping[str, object] = field(default_factory=dict)
    team_file: str = ""


CASES = [
    Case("default-branch", Pipeline("main")),
    Case("feature-branch", Pipeline("feature/login")),
    Case("glob-deployable-branch", Pipeline("hotfix-12"), GLOB_BRANCHES),
    Case("glob-non-matching-branch", Pipeline("hotfix-next"), GLOB_BRANCHES),
    Case("glob-set-does-not-match-letters", Pipeline("hotfix-x1"), GLOB_BRANCHES),
    Case("tag", Pipeline("v1.2.0", tag=True)),
    Case("schedule-without-policy", Pipeline("main", source="schedule")),
    Case("schedule-with-policy", Pipeline("main", source="schedule"), POLICY),
    Case("push-with-policy", Pipeline("main"), POLICY),
    Case("staging-then-production", Pipeline("main"), ENVIRONMENTS),
    Case("environments-on-a-feature-branch", Pipeline("feature/x"), ENVIRONMENTS),
    Case("default-branch-rule", Pipeline("trunk", default_branch="trunk"), DEFAULT_BRANCH),
    Case("not-the-default-branch", Pipeline("main", default_branch="trunk"), DEFAULT_BRANCH),
    Case("team-file-extends-conveyor", Pipeline("main"), team_file=TEAM_FILE),
]


# -- the dry run's plan -----------------------------------------------------------------------------------


def planned_jobs(stdout: str) -> list[Job]:
    """The jobs `inv pipeline --dry-run` would run, in its order: one line per job, `<stage>  <name>  <command>`
    with ` (always)` or ` (manual)` at the end, or `<stage>  <name>  skip: <reason>` (not run)."""
    jobs: list[Job] = []
    for line in filter(str.strip, stdout.splitlines()):
        match = DRY_RUN_LINE.match(line)
        assert match, f"not a dry-run line: {line!r}\n{stdout}"
        plan = match["plan"]
        if plan.startswith("skip:"):
            continue
        when = next((when for marker, when in MARKERS.items() if plan.endswith(marker)), "on_success")
        jobs.append(Job(name=match["name"], stage=match["stage"], when=when))
    return jobs


def inv(root: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.update(CI_REGISTRY="127.0.0.1:5000", CI_REGISTRY_IMAGE="127.0.0.1:5000/conveyor/example", NO_COLOR="1")
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )


# -- the project copy -----------------------------------------------------------------------------------


def make_project(case: Case, directory: Path) -> Path:
    """A copy of the example with its CI files, in the git state of `case`'s pipeline."""
    root = copy_project(REPO, directory / "project", (*PROJECT_FILES, *local_includes(REPO)))
    if case.config:
        change_config(root, case.config)
        done = inv(root, "gitlab-ci")
        assert done.returncode == 0, done.stdout + done.stderr
    if case.team_file:
        (root / ".gitlab-ci.yml").write_text(case.team_file)
    if case.config or case.team_file:
        commit(root, "the case's settings")
    check_out(root, case.pipeline)
    return root


def change_config(root: Path, changes: Mapping[str, object]) -> None:
    """invoke.yaml with `changes` (None removes a key)."""
    path = root / "invoke.yaml"
    config = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            config["conveyor"].pop(key, None)
        else:
            config["conveyor"][key] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def explain(run: GitLabRun, plan: subprocess.CompletedProcess[str]) -> str:
    return f"\n--- gitlab-ci-local ---\n{run.output}\n--- inv pipeline --dry-run ---\n{plan.stdout}{plan.stderr}"


# -- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_gitlab_runs_the_jobs_the_dry_run_plans(case: Case, tmp_path: Path) -> None:
    root = make_project(case, tmp_path)
    run = gitlab_jobs(root, case.pipeline)
    plan = inv(root, "pipeline", "--dry-run", **case.pipeline.variables())
    assert plan.returncode == 0, plan.stdout + plan.stderr
    planned = planned_jobs(plan.stdout)
    assert planned, "the dry run plans no job at all" + explain(run, plan)
    team_jobs = {name for name in yaml.safe_load(case.team_file or "{}") if name == "docs"}
    conveyors = tuple(job for job in run.jobs if job.name not in team_jobs)
    assert by_stage(conveyors) == by_stage(planned), explain(run, plan)
    assert run.missing_needs() == [], explain(run, plan)
    if team_jobs:
        assert "docs" in {job.name for job in run.jobs}, run.output


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_every_ci_file_passes_gitlabs_schema(case: Case, tmp_path: Path) -> None:
    root = make_project(case, tmp_path)
    for name in local_includes(root):
        done = subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(root / name)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}"


def test_dry_run_lines_are_read_as_jobs() -> None:
    stdout = (
        "build       build-ci            inv build-ci\n"
        "build-prod  build-prod          skip: 'feature' is not a deployable branch (main)\n"
        "deploy      deploy:staging      inv deploy --environment staging (manual)\n"
        "cleanup     cleanup:ci-image    inv cleanup.ci-image (always)\n"
    )
    assert planned_jobs(stdout) == [
        Job("build-ci", "build"),
        Job("deploy:staging", "deploy", "manual"),
        Job("cleanup:ci-image", "cleanup", "always"),
    ]


GITLAB_FEATURES = """\
include:
  - local: .gitlab/jobs.yml
stages: [build, deploy, cleanup]
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "web"
      when: never
    - when: always
.base:
  image: alpine
  script: [echo hi]
build:
  extends: .base
  stage: build
"""
GITLAB_FEATURES_INCLUDED = """\
deploy:staging:
  extends: .base
  stage: deploy
  needs: [build]
  rules:
    - if: $CI_COMMIT_BRANCH =~ /^(main|hotfix-[0-9].*)$/
      when: manual
cleanup:
  extends: .base
  stage: cleanup
  rules:
    - if: $CI_COMMIT_TAG
      when: never
    - when: always
      allow_failure: true
"""


def features_project(directory: Path, pipeline: Pipeline) -> Path:
    source = directory / "source"
    (source / ".gitlab").mkdir(parents=True)
    (source / ".gitlab-ci.yml").write_text(GITLAB_FEATURES)
    (source / ".gitlab" / "jobs.yml").write_text(GITLAB_FEATURES_INCLUDED)
    root = copy_project(source, directory / "project", local_includes(source))
    check_out(root, pipeline)
    return root


def test_the_runner_reads_include_extends_rules_and_workflow(tmp_path: Path) -> None:
    """The wrapper itself, on a CI file using each feature the generated file may use."""
    hotfix = gitlab_jobs(features_project(tmp_path / "hotfix", Pipeline("hotfix-7")), Pipeline("hotfix-7"))
    assert hotfix.created and hotfix.jobs == (
        Job("build", "build"),
        Job("deploy:staging", "deploy", "manual"),
        Job("cleanup", "cleanup", "always"),
    ), hotfix.output
    assert [job.allow_failure for job in hotfix.jobs] == [False, False, True]
    assert hotfix.jobs[1].needs[0].job == "build" and hotfix.missing_needs() == []
    tag = Pipeline("v1", tag=True)
    assert gitlab_jobs(features_project(tmp_path / "tag", tag), tag).jobs == (Job("build", "build"),)
    web = Pipeline("main", source="web")
    refused = gitlab_jobs(features_project(tmp_path / "web", web), web)
    assert not refused.created and refused.jobs == (), refused.output
