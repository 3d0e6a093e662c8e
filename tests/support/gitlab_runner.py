"""GitLab's own reading of a CI file, offline: npm's gitlab-ci-local (installed by .ci/install) evaluates `rules`,
`include: local`, `extends` and `needs` the way a runner's pipeline creation does. This answers, for a pipeline
(a branch or a tag, pushed or scheduled), which jobs GitLab would create, in which stage and with which `when`.

gitlab-ci-local 4.70 takes the ref from the checked-out git state and the default branch from `origin/HEAD`; it
never sets CI_COMMIT_TAG and lets `--variable` override its predefined variables. So a copy of the project gets
the git state the pipeline has (a branch checked out, or a tag on a detached HEAD) and every pipeline variable
is also passed explicitly. It ignores `workflow: rules`: those are evaluated by a probe job carrying the same
rules, in `.gitlab-ci-local.yml` (a file gitlab-ci-local merges into the configuration)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.integration import copy_files, unavailable

EXECUTABLE = "gitlab-ci-local"
ORIGIN = "https://gitlab.example.com/conveyor/example.git"
PIPELINE_VARIABLES = (
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME",
    "CI_COMMIT_TAG",
    "CI_DEFAULT_BRANCH",
    "CI_PIPELINE_SOURCE",
)
PROBE = "conveyor-workflow-probe"
SCRUBBED_PREFIXES = ("CI_", "GITLAB_")


class TaggedLoader(yaml.SafeLoader):
    """Reads GitLab's custom tags (`!reference [...]`) as plain data."""


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


TaggedLoader.add_multi_constructor("!", _untagged)


@dataclass(frozen=True)
class Pipeline:
    """A pipeline as GitLab starts it: for a branch or a tag, from a push, a schedule, …"""

    ref: str
    tag: bool = False
    source: str = "push"
    default_branch: str = "main"

    def variables(self) -> dict[str, str]:
        """GitLab's predefined variables for this pipeline (a tag pipeline has no CI_COMMIT_BRANCH)."""
        variables = {
            "CI_COMMIT_REF_NAME": self.ref,
            "CI_DEFAULT_BRANCH": self.default_branch,
            "CI_PIPELINE_SOURCE": self.source,
        }
        variables["CI_COMMIT_TAG" if self.tag else "CI_COMMIT_BRANCH"] = self.ref
        return variables


@dataclass(frozen=True)
class Need:
    job: str
    optional: bool = False


@dataclass(frozen=True)
class Job:
    """A job of a pipeline. Equal when name, stage and `when` (on_success, always, manual) are."""

    name: str
    stage: str
    when: str = "on_success"
    allow_failure: bool = field(default=False, compare=False, repr=False)
    needs: tuple[Need, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class GitLabRun:
    """What gitlab-ci-local says GitLab would do: the jobs it would create (never `when: never`), in the CI
    file's stage order; none when `workflow: rules` refuse the pipeline. `output` is for failure messages."""

    stages: tuple[str, ...]
    jobs: tuple[Job, ...]
    created: bool
    output: str

    def missing_needs(self) -> list[str]:
        """`job needs other` where `other` is not in this pipeline: GitLab refuses to create such a pipeline."""
        names = {job.name for job in self.jobs}
        return [
            f"{job.name} needs {need.job}"
            for job in self.jobs
            for need in job.needs
            if need.job not in names and not need.optional
        ]


def executable() -> str:
    """gitlab-ci-local's path; skips (fails under CONVEYOR_REQUIRE_INTEGRATION=1) when it cannot run."""
    path = shutil.which(EXECUTABLE)
    if path is None:
        unavailable("gitlab-ci-local is not installed (.ci/install installs it with npm)")
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        unavailable(f"`gitlab-ci-local --version` failed: {(done.stdout + done.stderr).strip()}")
    return path


# -- the project copy and its git state -------------------------------------------------------------------


def copy_project(source: Path, destination: Path, names: Iterable[str]) -> Path:
    """Copy `names` (files or folders) of `source` into `destination`, a git repository with one commit on
    branch main and an `origin` remote (whose HEAD is main) as a GitLab clone has."""
    copy_files(source, destination, names)
    git(destination, "init", "-q", "-b", "main")
    git(destination, "remote", "add", "origin", ORIGIN)
    commit(destination, "project")
    return destination


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "-c", "user.name=conveyor", "-c", "user.email=conveyor@example.com", "commit", "-qm", message)


def check_out(root: Path, pipeline: Pipeline) -> None:
    """The git state GitLab's clone has for `pipeline`: the branch checked out, or the tag on a detached HEAD;
    `origin/HEAD` names the default branch."""
    git(root, "update-ref", f"refs/remotes/origin/{pipeline.default_branch}", "HEAD")
    git(root, "symbolic-ref", "refs/remotes/origin/HEAD", f"refs/remotes/origin/{pipeline.default_branch}")
    if pipeline.tag:
        git(root, "tag", "-f", pipeline.ref)
        git(root, "checkout", "-q", "--detach", pipeline.ref)
    else:
        git(root, "checkout", "-q", "-B", pipeline.ref)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


# -- running gitlab-ci-local ---------------------------------------------------------------------------


def gitlab_jobs(root: Path, pipeline: Pipeline, ci_file: str = ".gitlab-ci.yml") -> GitLabRun:
    """The jobs GitLab would create for `pipeline` from `root`'s CI file (root: a git repository whose state
    check_out has set). Nothing runs; gitlab-ci-local only lists."""
    tool = executable()
    preview = run_tool(tool, root, pipeline, ci_file, "--preview")
    expanded: dict[str, Any] = yaml.safe_load(preview.stdout) or {}
    write_workflow_probe(root, expanded.get("workflow"))
    listing = run_tool(tool, root, pipeline, ci_file, "--list-json")
    entries: list[dict[str, Any]] = json.loads(listing.stdout)
    jobs = [parse_job(entry) for entry in entries]
    created = all(job.when != "never" for job in jobs if job.name == PROBE)
    stages = tuple(str(stage) for stage in expanded.get("stages", ()))
    kept = [job for job in jobs if job.name != PROBE and job.when != "never"] if created else []
    output = f"$ {' '.join(listing.args)}\n{listing.stderr}" + "".join(map(describe, entries))
    return GitLabRun(stages=stages, jobs=tuple(in_stage_order(kept, stages)), created=created, output=output)


def run_tool(tool: str, root: Path, pipeline: Pipeline, ci_file: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [tool, *args, "--file", ci_file, "--home", str(root / ".gitlab-ci-local-home")]
    argv += ["--no-color", "--ignore-predefined-vars", ",".join(PIPELINE_VARIABLES)]
    for name, value in pipeline.variables().items():
        argv += ["--variable", f"{name}={value}"]
    if pipeline.tag:
        argv += ["--unset-variable", "CI_COMMIT_BRANCH"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise AssertionError(
            f"gitlab-ci-local failed ({done.returncode}): {' '.join(argv)}\n{done.stdout}{done.stderr}"
        )
    return done


def write_workflow_probe(root: Path, workflow: object) -> None:
    """gitlab-ci-local ignores `workflow: rules`; a job with the same rules is created exactly when the
    pipeline is (workflow rules: the first match decides, `when: never` or no match means no pipeline)."""
    probe = root / ".gitlab-ci-local.yml"
    rules = workflow.get("rules") if isinstance(workflow, dict) else None
    if not rules:
        probe.unlink(missing_ok=True)
        return
    kept = ("if", "changes", "exists", "when")
    job_rules = [{k: v for k, v in rule.items() if k in kept} for rule in rules]
    probe.write_text(yaml.safe_dump({PROBE: {"stage": ".pre", "script": [":"], "rules": job_rules}}))


def describe(entry: dict[str, Any]) -> str:
    """One line per listed job, for failure messages: name, stage, when, allow_failure, needs, rules."""
    needs = [need if isinstance(need, str) else need["job"] for need in entry.get("needs") or ()]
    rules = json.dumps(entry["rules"]) if entry.get("rules") else ""
    fields = [entry["name"], entry["stage"], entry["when"], f"allow_failure={entry.get('allow_failure')}"]
    return "  ".join([*map(str, fields), f"needs={needs}", rules]) + "\n"


def parse_job(entry: dict[str, Any]) -> Job:
    """One entry of `gitlab-ci-local --list-json`."""
    needs = tuple(parse_need(need) for need in entry.get("needs") or ())
    return Job(
        name=str(entry["name"]),
        stage=str(entry["stage"]),
        when=str(entry["when"]),
        allow_failure=bool(entry.get("allow_failure")),
        needs=needs,
    )


def parse_need(need: str | dict[str, Any]) -> Need:
    if isinstance(need, str):
        return Need(need)
    return Need(str(need["job"]), optional=bool(need.get("optional")))


def in_stage_order(jobs: Iterable[Job], stages: Sequence[str]) -> list[Job]:
    """Jobs sorted by their stage's place in `stages` (stable: the CI file's order within a stage)."""
    return sorted(jobs, key=lambda job: stages.index(job.stage) if job.stage in stages else len(stages))


def by_stage(jobs: Iterable[Job]) -> list[tuple[str, list[Job]]]:
    """Consecutive jobs of one stage grouped, each group sorted by name: the shape GitLab's pipeline graph
    shows. A stage that comes back after another one is a group of its own (so a wrong order shows)."""
    groups: list[tuple[str, list[Job]]] = []
    for job in jobs:
        if groups and groups[-1][0] == job.stage:
            groups[-1][1].append(job)
        else:
            groups.append((job.stage, [job]))
    return [(stage, sorted(members, key=lambda job: job.name)) for stage, members in groups]


def local_includes(root: Path, ci_file: str = ".gitlab-ci.yml") -> list[str]:
    """`ci_file` and every file it pulls in with `include: local` (or a bare path), recursively, relative to
    `root`."""
    found: list[str] = []
    pending = [ci_file]
    while pending:
        name = pending.pop(0).lstrip("/")
        if name in found:
            continue
        found.append(name)
        document = yaml.load((root / name).read_text(), Loader=TaggedLoader) or {}
        pending += include_paths(document.get("include") if isinstance(document, dict) else None)
    return found


def include_paths(include: object) -> list[str]:
    entries = include if isinstance(include, list) else [include] if include else []
    paths = [entry for entry in entries if isinstance(entry, str) and "://" not in entry]
    paths += [str(entry["local"]) for entry in entries if isinstance(entry, dict) and "local" in entry]
    return paths
