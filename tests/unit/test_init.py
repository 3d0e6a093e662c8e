"""`conveyor init`'s pure part: compose models (as `docker compose config --format json` gives them) turned into
invoke.yaml, the compose overrides, .env.example, tasks.py and .gitlab-ci.yml, with what it guessed and why."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor import init
from conveyor.config import derived
from conveyor.config.loading import load_settings
from conveyor.config.rendering import render_env_example
from conveyor.config.schema import SETTINGS
from conveyor.config.settings import Settings
from conveyor.config.specs import check_file
from conveyor.console import Console
from conveyor.errors import ConfigError
from conveyor.init import InitPlan, Options
from conveyor.pipeline.gitlab import render_file
from conveyor.redact import Redactor
from conveyor.wiring.toolbox import Toolbox

CI_MODEL = """{
  "name": "shop",
  "services": {
    "db": {"image": "postgres:16"},
    "nginx": {"build": {"context": "/p/docker/nginx", "dockerfile": "Dockerfile"}},
    "php": {
      "build": {"context": "/p", "dockerfile": "Dockerfile"},
      "depends_on": {"db": {"condition": "service_started", "required": true},
                     "redis": {"condition": "service_started", "required": true}}
    },
    "redis": {"image": "redis:7"}
  }
}"""
PROD_MODEL = """{
  "name": "shop",
  "services": {
    "proxy": {"image": "nginx"},
    "web": {"build": {"context": "/p", "dockerfile": "docker/prod/Dockerfile"}},
    "worker": {"build": {"context": "/p", "target": "worker"}}
  }
}"""
NO_GIT = {"origin": None, "branch": None}


class FakeCompose:
    """Answers `docker compose -f … config` with a model per set of file names; records what it was asked."""

    def __init__(self, models: Mapping[tuple[str, ...], str]) -> None:
        self.models: dict[tuple[str, ...], Mapping[str, Any]] = {n: json.loads(t) for n, t in models.items()}
        self.asked: list[tuple[tuple[str, ...], bool]] = []

    def __call__(self, files: Sequence[Path], lenient: bool) -> Mapping[str, Any]:
        names = tuple(path.name for path in files)
        self.asked.append((names, lenient))
        return self.models[names]


def git(origin: str | None = None, branch: str | None = None, url: str | None = None) -> init.AskGit:
    def ask(args: Sequence[str]) -> str | None:
        if "get-url" in args:
            return url
        return origin if "refs/remotes/origin/HEAD" in args else branch

    return ask


def project(tmp_path: Path, *names: str) -> Path:
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("services: {}\n")
    return tmp_path


def shop_plan(tmp_path: Path, **options: Any) -> InitPlan:
    root = project(tmp_path, "compose.yaml", "compose.prod.yaml")
    compose = FakeCompose({("compose.yaml",): CI_MODEL, ("compose.prod.yaml",): PROD_MODEL})
    return init.plan(Options(cwd=root, **options), compose, git(origin="origin/main", branch="feature/x"))


def output(plan: InitPlan, name: str) -> str:
    return next(o.text for o in plan.outputs if o.path == plan.root / name)


def settings_of(plan: InitPlan, **environ: str) -> Settings:
    section = yaml.safe_load(output(plan, "invoke.yaml"))["conveyor"]
    base = {"CI_COMMIT_SHA": "a" * 40, "CI_COMMIT_REF_NAME": "main", "CI_REGISTRY": "registry.test"}
    base["CI_REGISTRY_IMAGE"] = "registry.test/group/shop"
    return load_settings(plan.root, section, {**base, **environ}, {}, lambda _question: None)


def uncomment(text: str, key: str) -> str:
    """invoke.yaml with the commented example of `key` uncommented, as a user would."""
    lines, inside = [], False
    for line in text.splitlines():
        if line == f"  # {key}:":
            inside = True
        elif inside and not line.startswith("  #   "):
            inside = False
        lines.append(line.replace("  # ", "  ", 1) if inside else line)
    return "\n".join(lines) + "\n"


def test_default_files_follow_compose_order() -> None:
    assert derived.default_files({"docker-compose.yml", "compose.yml"}) == ("compose.yml",)
    assert derived.default_files({"docker-compose.yaml", "docker-compose.yml"}) == ("docker-compose.yml",)
    names = {"compose.yaml", "docker-compose.override.yml", "compose.override.yaml"}
    assert derived.default_files(names) == ("compose.yaml", "compose.override.yaml")
    assert derived.default_files({"compose.override.yml", "README.md"}) == ()


def test_prod_candidates_shortest_first_never_generated_or_taken(tmp_path: Path) -> None:
    names = ["compose.preprod.yaml", "compose.prod.yaml", "compose.prod.conveyor.yaml", "prod.txt", "compose.yaml"]
    paths = [tmp_path / name for name in names]
    assert init.prod_candidates(paths, [tmp_path / "compose.yaml"]) == [
        tmp_path / "compose.prod.yaml",
        tmp_path / "compose.preprod.yaml",
    ]
    assert init.prod_candidates(paths, [tmp_path / "compose.prod.yaml", tmp_path / "compose.preprod.yaml"]) == []


def test_override_path_sits_beside_the_users_file(tmp_path: Path) -> None:
    assert init.override_path(tmp_path / "compose.yaml") == tmp_path / "compose.conveyor.yaml"
    assert init.override_path(tmp_path / "c" / "docker-compose.yml") == tmp_path / "c" / "docker-compose.conveyor.yml"
    taken = [tmp_path / "compose.conveyor.yaml"]
    assert init.override_path(tmp_path / "compose.yaml", taken) == tmp_path / "compose.prod.conveyor.yaml"
    assert init.is_generated(tmp_path / "compose.prod.conveyor.yaml")
    assert not init.is_generated(tmp_path / "compose.prod.yaml")


def model(**services: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": "p", "services": services}


BUILT = {"build": {"context": "."}}


def test_ci_service_guess_and_why() -> None:
    only = init.choose_ci_service(model(worker=BUILT, db={"image": "postgres"}), "compose.yaml")
    assert (only.value, only.why) == ("worker", "the only service with a build: section")
    named = init.choose_ci_service(model(nginx=BUILT, php=BUILT, app=BUILT), "compose.yaml")
    assert named.value == "app" and "application's name" in named.why and "nginx, php" in named.why
    assert init.choose_ci_service(model(nginx=BUILT, php=BUILT), "c").value == "php"
    assert init.choose_ci_service(model(nginx=BUILT, **{"shop-api": BUILT}), "c").value == "shop-api"
    busy = {**BUILT, "depends_on": {"db": {}, "cache": {}}}
    guess = init.choose_ci_service(model(nginx=BUILT, shop=busy), "c")
    assert guess.value == "shop" and "cache, db" in guess.why and "--ci-service" in guess.why
    assert init.choose_ci_service(model(nginx=BUILT, php=BUILT), "c", wanted="nginx").why == "--ci-service"


@pytest.mark.parametrize(
    ("services", "wanted", "words"),
    [
        ({"db": {"image": "postgres"}}, "", ["no service in compose.yaml has a build: section"]),
        ({"php": BUILT}, "fpm", ["--ci-service 'fpm' is not a service of compose.yaml", "services: php"]),
        ({"php": BUILT, "db": {"image": "x"}}, "db", ["--ci-service 'db' has no build: section"]),
    ],
)
def test_ci_service_refusals(services: dict[str, Any], wanted: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        init.choose_ci_service(model(**services), "compose.yaml", wanted)
    for word in words:
        assert word in str(caught.value)


def test_deployable_branch_guess() -> None:
    assert init.deployable_branch("origin/trunk", "feature").value == "trunk"
    fallback = init.deployable_branch(None, "develop")
    assert fallback.value == "develop" and "current branch" in fallback.why
    assert init.deployable_branch("", None).value == "main"


def test_image_names_and_variables_match_what_build_prod_sets(tmp_path: Path) -> None:
    assert init.image_name("Web_App") == "web_app"
    assert init.image_name("api--v2") == "api--v2"
    assert init.image_name("Shop__Admin___x") == "shop-admin-x"
    images = {"web": {"service": "web"}, "my-api.v2": {"service": "api"}}
    environ = {"CI_COMMIT_SHA": "b" * 40, "CI_COMMIT_REF_NAME": "main", "CI_REGISTRY": "r.test"}
    environ["CI_REGISTRY_IMAGE"] = "r.test/g/p"
    settings = load_settings(tmp_path, {"prod_images": images}, environ, {}, lambda _question: None)
    tools = Toolbox(settings=settings, console=Console(Redactor(), lambda _line: None))
    text = init.prod_override_text(settings.prod_images, "shop", "compose.prod.yaml")
    document = yaml.safe_load(text)
    prod_env = tools.prod_project().env
    for image in settings.prod_images:
        spec = document["services"][image.service]
        assert spec["image"].split(":-")[0].removeprefix("${") in prod_env
        assert spec["build"]["cache_from"][0].split(":-")[0].removeprefix("${") in prod_env
        assert spec["build"]["args"] == {"BUILDKIT_INLINE_CACHE": "1"}
    ci = yaml.safe_load(init.ci_override_text("php", "shop/ci:dev", "compose.yaml"))["services"]["php"]
    ci_env = tools.ci_project().env
    assert ci["image"] == "${CONVEYOR_CI_IMAGE:-shop/ci:dev}" and "CONVEYOR_CI_IMAGE" in ci_env
    assert ci["build"]["cache_from"] == ["${CONVEYOR_CI_CACHE_IMAGE:-shop/ci:dev}"]
    assert "CONVEYOR_CI_CACHE_IMAGE" in ci_env


def test_plan_for_a_project_with_a_prod_file(tmp_path: Path) -> None:
    plan = shop_plan(tmp_path)
    written = [o.path.relative_to(tmp_path).as_posix() for o in plan.outputs]
    assert written == [
        "invoke.yaml",
        "compose.conveyor.yaml",
        "compose.prod.conveyor.yaml",
        ".env.example",
        "tasks.py",
        ".gitlab/conveyor.yml",
        ".gitlab-ci.yml",
    ]
    check_file(tmp_path / "missing.yaml", [])  # (nothing there: fine)
    invoke_yaml = tmp_path / "invoke.yaml"
    invoke_yaml.write_text(output(plan, "invoke.yaml"))
    check_file(invoke_yaml, [setting.name for setting in SETTINGS])
    settings = settings_of(plan, CI_REGISTRY="registry.example.com", CI_REGISTRY_IMAGE="registry.example.com/g/shop")
    assert [p.name for p in settings.compose_files] == ["compose.yaml", "compose.conveyor.yaml"]
    assert [p.name for p in settings.prod_compose_files] == ["compose.prod.yaml", "compose.prod.conveyor.yaml"]
    assert (settings.ci_service, settings.ci_image_name) == ("php", "ci")
    assert "compose_project" not in yaml.safe_load(output(plan, "invoke.yaml"))["conveyor"]  # compose's own
    assert [(i.name, i.service) for i in settings.prod_images] == [("web", "web"), ("worker", "worker")]
    assert settings.deployable_branches == ()  # origin's HEAD is the default branch: not written
    assert "  # deployable_branches: [main, 'hotfix-*']" in output(plan, "invoke.yaml")
    default = settings_of(
        plan,
        CI_REGISTRY="registry.example.com",
        CI_REGISTRY_IMAGE="registry.example.com/g/shop",
        CI_DEFAULT_BRANCH="main",
    )
    assert default.deployable and default.deploy_patterns == ("main",)
    assert settings.test_jobs == () and settings.deploy_targets == ()
    assert str(settings.images.ci_commit) == "registry.example.com/g/shop/ci:" + "a" * 40
    assert output(plan, "tasks.py") == "from conveyor.tasks import ns\n"
    assert output(plan, ".env.example") == render_env_example()
    section = yaml.safe_load(output(plan, "invoke.yaml"))["conveyor"]
    assert output(plan, ".gitlab/conveyor.yml") == render_file(tmp_path, section)[0]
    assert yaml.safe_load(output(plan, ".gitlab-ci.yml"))["include"] == [{"local": ".gitlab/conveyor.yml"}]
    prod = yaml.safe_load(output(plan, "compose.prod.conveyor.yaml"))["services"]
    assert prod["worker"]["image"] == "${CONVEYOR_PROD_IMAGE_WORKER:-shop/worker:dev}"
    assert "proxy" not in prod
    guesses = {guess.name: guess for guess in plan.guesses}
    assert guesses["ci_service"].value == "php" and "also built: nginx" in guesses["ci_service"].why
    assert guesses["deployable_branches"].why == "origin's default branch, origin/HEAD"
    assert "stands alone" in guesses["prod_compose_files"].why
    assert plan.todo[0] == (
        "the registry outside GitLab (GitLab sets it): CI_REGISTRY and CI_REGISTRY_IMAGE (origin gives no "
        "group/project path), in .env (see .env.example), the environment, or conveyor.registry and registry_image "
        "in invoke.yaml"
    )
    assert any("conveyor.test_jobs" in item for item in plan.todo)
    assert any("conveyor.deploy_targets" in item for item in plan.todo)


def test_the_commented_examples_are_valid_once_uncommented(tmp_path: Path) -> None:
    plan = shop_plan(tmp_path)
    text = uncomment(uncomment(output(plan, "invoke.yaml"), "test_jobs"), "deploy_targets")
    section = yaml.safe_load(text)["conveyor"]
    environ = {"CI_COMMIT_SHA": "a" * 40, "CI_COMMIT_REF_NAME": "m", "CI_REGISTRY": "r.test"}
    settings = load_settings(
        tmp_path, section, environ, {}, lambda q: "git@gitlab.test:g/shop.git" if q == "origin" else None
    )
    assert settings.registry_image == "r.test/g/shop"
    assert [(job.name, job.services, bool(job.coverage_regex)) for job in settings.test_jobs] == [
        ("unit", (), True),
        ("functional", ("db", "redis"), False),
    ]
    assert [(t.deployment, t.image) for t in settings.deploy_targets] == [("web", "web"), ("worker", "worker")]


def test_a_prod_file_that_overrides_the_ci_files_is_laid_over_them(tmp_path: Path) -> None:
    root = project(tmp_path, "docker-compose.yml", "docker-compose.override.yml", "docker-compose.prod.yml")
    base = '{"name": "blog", "services": {"app": {"build": {"context": "."}}, "db": {"image": "mysql"}}}'
    prod_alone = '{"name": "blog", "services": {"app": {"environment": {"APP_ENV": "prod"}}}}'
    merged = '{"name": "blog", "services": {"app": {"build": {"context": ".", "target": "prod"}}, "db": {}}}'
    compose = FakeCompose(
        {
            ("docker-compose.yml", "docker-compose.override.yml"): base,
            ("docker-compose.prod.yml",): prod_alone,
            ("docker-compose.yml", "docker-compose.prod.yml"): merged,
        }
    )
    plan = init.plan(Options(cwd=root), compose, git(branch="develop", url="https://gitlab.test/Team/Blog.git"))
    assert (("docker-compose.prod.yml",), True) in compose.asked  # what the prod file names, unchecked
    assert (("docker-compose.yml", "docker-compose.prod.yml"), False) in compose.asked
    settings = settings_of(plan)
    assert [p.name for p in settings.compose_files] == [
        "docker-compose.yml",
        "docker-compose.override.yml",
        "docker-compose.conveyor.yml",
    ]
    assert [p.name for p in settings.prod_compose_files] == [
        "docker-compose.yml",
        "docker-compose.prod.yml",
        "docker-compose.prod.conveyor.yml",
    ]
    assert [(i.name, i.service) for i in settings.prod_images] == [("app", "app")]
    assert settings.deployable_branches == ("develop",)
    assert any("docker-compose.override.yml is in conveyor.compose_files" in item for item in plan.todo)
    assert plan.todo[0].startswith(
        "the registry outside GitLab (GitLab sets it): CI_REGISTRY (CI_REGISTRY_IMAGE defaults to "
        "<registry>/team/blog, origin's project path), in .env"
    )
    guesses = {guess.name: guess for guess in plan.guesses}
    assert "laid over docker-compose.yml: it names its services app" in guesses["prod_compose_files"].why
    assert "docker-compose.override.yml too" in guesses["compose_files"].why


def test_without_a_prod_file(tmp_path: Path) -> None:
    root = project(tmp_path, "compose.yml", "docker-compose.yml")
    plan = init.plan(Options(cwd=root), FakeCompose({("compose.yml",): CI_MODEL}), git())
    settings = settings_of(plan)
    assert settings.prod_images == ()
    assert settings.prod_compose_files == settings.compose_files  # the settings' default
    assert settings.deployable_branches == ("main",)
    assert [o.path.name for o in plan.outputs if "conveyor" in o.path.name] == ["compose.conveyor.yml", "conveyor.yml"]
    assert any("prod images: a prod compose file" in item for item in plan.todo)
    assert "# No prod compose file was found" in output(plan, "invoke.yaml")
    assert init.gitlab_jobs(output(plan, ".gitlab/conveyor.yml")) == [
        "build-ci",
        "cleanup:ci-image",
    ]


def test_files_given_on_the_command_line(tmp_path: Path) -> None:
    root = project(tmp_path, "tasks.py", "compose/docker-compose.yml", "compose/docker-compose.gitlab.yml")
    (root / "tasks.py").write_text("from conveyor.tasks import ns\n")
    project(tmp_path, "compose/docker-compose.prod.yml", "deploy/prod.yml")
    compose = FakeCompose(
        {
            ("docker-compose.yml", "docker-compose.gitlab.yml"): CI_MODEL,
            ("docker-compose.prod.yml",): PROD_MODEL,
            ("prod.yml",): PROD_MODEL,
        }
    )
    files = ("docker-compose.yml", "docker-compose.gitlab.yml")
    plan = init.plan(Options(cwd=root / "compose", files=files, ci_service="nginx"), compose, git())
    assert plan.root == root  # the Invoke project the directory is in
    settings = settings_of(plan)
    assert [p.relative_to(root).as_posix() for p in settings.compose_files] == [
        "compose/docker-compose.yml",
        "compose/docker-compose.gitlab.yml",
        "compose/docker-compose.conveyor.yml",
    ]
    assert settings.ci_service == "nginx"
    assert settings.prod_compose_files[0].relative_to(root).as_posix() == "compose/docker-compose.prod.yml"
    assert "tasks.py" not in [o.path.name for o in plan.outputs]
    explicit = init.plan(
        Options(cwd=root, files=("compose/docker-compose.yml",), prod_files=("deploy/prod.yml",)),
        FakeCompose({("docker-compose.yml",): CI_MODEL, ("prod.yml",): PROD_MODEL}),
        git(),
    )
    assert [p.relative_to(root).as_posix() for p in settings_of(explicit).prod_compose_files] == [
        "deploy/prod.yml",
        "deploy/prod.conveyor.yml",
    ]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"files": ("nope.yml",)}, ["--file nope.yml: no such file"]),
        ({"files": ("../outside.yml",)}, ["--file ../outside.yml is outside the project"]),
        ({"files": ("compose.yaml", "compose.conveyor.yaml")}, ["compose.conveyor.yaml is one of your compose files"]),
        ({"prod_files": ("compose.conveyor.yaml",)}, ["compose.conveyor.yaml is one of your compose files"]),
    ],
)
def test_bad_file_options(tmp_path: Path, options: dict[str, Any], words: list[str]) -> None:
    root = project(tmp_path / "p", "compose.yaml", "compose.conveyor.yaml")
    project(tmp_path, "outside.yml")
    compose = FakeCompose(
        {
            ("compose.yaml",): CI_MODEL,
            ("compose.yaml", "compose.conveyor.yaml"): CI_MODEL,
        }
    )
    with pytest.raises(ConfigError) as caught:
        init.plan(Options(cwd=root, **options), compose, git())
    for word in words:
        assert word in str(caught.value)


def test_no_compose_file_says_where_to_look(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        init.plan(Options(cwd=tmp_path), FakeCompose({}), git())
    assert str(caught.value).startswith(f"no compose file in {tmp_path} (compose.yaml, compose.yml")
    project(tmp_path, "compose/docker-compose.yml")
    with pytest.raises(ConfigError) as caught:
        init.plan(Options(cwd=tmp_path), FakeCompose({}), git())
    assert caught.value.hint == "name them with --file, e.g. conveyor init --file compose/docker-compose.yml"


def test_existing_files_are_named_and_kept_unless_forced(tmp_path: Path) -> None:
    project(tmp_path, "invoke.yaml", "compose.prod.conveyor.yaml")
    with pytest.raises(ConfigError) as caught:
        shop_plan(tmp_path)
    assert caught.value.problem == (
        "invoke.yaml, compose.prod.conveyor.yaml already exist: conveyor init overwrites nothing"
    )
    assert "--force" in caught.value.hint
    plan = shop_plan(tmp_path, force=True)
    assert plan.overwrites == (tmp_path / "invoke.yaml", tmp_path / "compose.prod.conveyor.yaml")
    assert "overwrote invoke.yaml: the conveyor: section" in init.report(plan, dry_run=False)


def test_an_existing_gitlab_ci_is_kept_and_told_to_include_conveyors_file(tmp_path: Path) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text("build:\n  script: [make]\n")
    (tmp_path / "tasks.py").write_text("from invoke import task\n")
    plan = shop_plan(tmp_path)
    assert [o.path.name for o in plan.outputs if ".gitlab" in o.path.as_posix()] == ["conveyor.yml"]
    assert "tasks.py" not in [o.path.name for o in plan.outputs]
    assert plan.notes == (
        "tasks.py does not import Conveyor's tasks: add `from conveyor.tasks import ns` (or use `conveyor`)",
        ".gitlab-ci.yml exists, kept; .gitlab-ci.yml does not include .gitlab/conveyor.yml: add "
        "`include: [{local: .gitlab/conveyor.yml}]` to it",
    )
    (tmp_path / ".gitlab-ci.yml").write_text("include: [{local: .gitlab/conveyor.yml}]\n")
    assert len(shop_plan(tmp_path).notes) == 1


def test_report_lists_guesses_files_and_what_is_left(tmp_path: Path) -> None:
    plan = shop_plan(tmp_path)
    dry = init.report(plan, dry_run=True)
    assert dry[0] == f"conveyor init in {tmp_path} (dry run: nothing is written)"
    assert (
        "  ci_service: php (it has a build: section and an application's name; also built: nginx; "
        in (dry[3][: len("  ci_service: php (it has a build: section and an application's name; also built: nginx; ")])
    )
    assert "would write invoke.yaml: the conveyor: section" in dry
    assert "    conveyor:" in dry  # a dry run shows the texts
    assert "    - ${CONVEYOR_CI_CACHE_IMAGE:-shop/ci:dev}" not in dry
    assert "            - ${CONVEYOR_CI_CACHE_IMAGE:-shop/ci:dev}" in dry
    assert "would write .env.example: every setting, commented out" in dry
    assert "would write .gitlab/conveyor.yml: Conveyor's 3 GitLab jobs: build-ci, build-prod, cleanup:ci-image" in dry
    assert "would write .gitlab-ci.yml: yours, includes .gitlab/conveyor.yml" in dry
    assert not any(line.startswith("    # Conveyor's settings. Copy to .env") for line in dry)  # summarised
    assert dry[dry.index("left to fill in:") + 1].startswith("  - the registry")
    real = init.report(plan, dry_run=False)
    assert "wrote tasks.py: Conveyor's tasks for `inv`" in real and "    conveyor:" not in real


def test_yaml_scalars_are_quoted_when_yaml_would_misread_them(tmp_path: Path) -> None:
    assert init.scalar("on") == "'on'" and init.scalar("1") == "'1'" and init.scalar("php") == "php"
    root = project(tmp_path, "compose.yaml")
    odd = '{"name": "x1", "services": {"on": {"build": {"context": "."}}, "db": {"image": "y"}}}'
    plan = init.plan(Options(cwd=root), FakeCompose({("compose.yaml",): odd}), git(branch="yes"))
    settings = settings_of(plan)
    assert (settings.ci_service, settings.deployable_branches) == ("on", ("yes",))
    assert list(yaml.safe_load(output(plan, "compose.conveyor.yaml"))["services"]) == ["on"]


def test_compose_errors_are_cleaned_to_one_line(tmp_path: Path) -> None:
    logrus = f'time="2025-01-01T00:00:00Z" level=fatal msg="validating {tmp_path}/compose.yaml: \\"x\\" bad"'
    assert init.clean_compose_error(["warning", logrus, ""], tmp_path) == 'validating compose.yaml: "x" bad'
    plain = f"open {tmp_path}/compose.yaml: no such file or directory"
    assert init.clean_compose_error([plain], tmp_path) == "open compose.yaml: no such file or directory"
    assert init.clean_compose_error([], tmp_path) == "no output"


def test_one_file_for_ci_and_prod(tmp_path: Path) -> None:
    root = project(tmp_path, "compose.yaml")
    both = '{"name": "one", "services": {"app": {"build": {"context": "."}}, "web": {"build": {"context": "w"}}}}'
    compose = FakeCompose({("compose.yaml",): both})
    plan = init.plan(Options(cwd=root, prod_files=("compose.yaml",)), compose, git())
    settings = settings_of(plan)
    assert [p.name for p in settings.prod_compose_files] == ["compose.yaml", "compose.prod.conveyor.yaml"]
    assert [i.name for i in settings.prod_images] == ["app", "web"]
    assert settings.ci_service == "app"
