from pathlib import Path
from typing import Any

import pytest

from conveyor.config.loading import load_settings
from conveyor.config.model import DEFAULT_COVERAGE_REGEX
from conveyor.errors import ConfigError
from conveyor.slug import ref_slug
from tests.support.factories import toolbox

SHA = "0123456789abcdef0123456789abcdef01234567"
ROOT = Path("/project")
REGISTRY = {"CI_REGISTRY": "127.0.0.1:5000", "CI_REGISTRY_IMAGE": "127.0.0.1:5000/conveyor/example"}


def git(answers: dict[str, str | None]) -> Any:
    return lambda question: answers.get(question)


def load(**kwargs: Any) -> Any:
    args: dict[str, Any] = {
        "project_dir": ROOT,
        "yaml_config": {},
        "environ": {},
        "dotenv": {},
        "git": git({"commit": SHA, "branch": "main"}),
    }
    args.update(kwargs)
    args["environ"] = REGISTRY | args["environ"]
    return load_settings(**args)


@pytest.mark.parametrize(
    ("ref", "slug"),
    [
        ("main", "main"),
        ("Feature/JIRA-123_Add Login", "feature-jira-123-add-login"),
        ("--weird--", "weird"),
        ("release/1.2.3", "release-1-2-3"),
        ("a" * 70, "a" * 63),
        ("x" * 62 + "/y", "x" * 62),
    ],
)
def test_ref_slug_follows_gitlab(ref: str, slug: str) -> None:
    assert ref_slug(ref) == slug


def test_precedence_flags_env_dotenv_yaml_default() -> None:
    yaml = {"compose_project": "from-yaml", "ci_image_name": "yaml-ci", "ci_service": "yaml-svc"}
    dotenv = {"CONVEYOR_CI_IMAGE_NAME": "dotenv-ci", "CONVEYOR_CI_SERVICE": "dotenv-svc"}
    environ = {"CONVEYOR_CI_SERVICE": "env-svc", "CONVEYOR_COMPOSE_PROJECT": "env-proj"}
    flags = {"compose_project": "flag-proj"}
    settings = load(yaml_config=yaml, dotenv=dotenv, environ=environ, flags=flags)
    assert settings.compose_project == "flag-proj"
    assert settings.ci_service == "env-svc"
    assert settings.ci_image_name == "dotenv-ci"
    assert settings.reports_dir == ROOT / "reports"


def test_gitlab_variables_win_over_git_and_names_are_derived_once() -> None:
    environ = {
        "CI_REGISTRY": "registry.example.com",
        "CI_REGISTRY_IMAGE": "registry.example.com/group/app",
        "CI_COMMIT_SHA": SHA,
        "CI_COMMIT_REF_NAME": "Feature/X",
        "CI_COMMIT_REF_SLUG": "feature-x",
    }
    settings = load(environ=environ, git=git({}))
    assert str(settings.images.ci_commit) == f"registry.example.com/group/app/ci:{SHA}"
    assert str(settings.images.ci_branch) == "registry.example.com/group/app/ci:feature-x"


def test_outside_gitlab_commit_and_slug_come_from_git() -> None:
    settings = load(git=git({"commit": SHA, "branch": "Feature/Login"}))
    assert settings.commit_sha == SHA
    assert settings.ref_slug == "feature-login"
    assert str(settings.images.ci_branch) == "127.0.0.1:5000/conveyor/example/ci:feature-login"


def test_no_git_and_no_commit_sha_is_one_clear_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load(git=git({}))
    assert "not a git repository" in str(caught.value)
    assert "CI_COMMIT_SHA" in str(caught.value)


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({"CI_COMMIT_SHA": "not-a-sha"}, "not a commit SHA"),
        ({"CI_REGISTRY_IMAGE": "127.0.0.1:5000/Upper/App"}, "bad image name"),
        ({"CI_REGISTRY_IMAGE": "other.io/app"}, "is not in registry"),
        ({"CONVEYOR_CI_IMAGE_NAME": "CI"}, "bad image name"),
        ({"CONVEYOR_COMPOSE_PROJECT": "Bad Name"}, "compose project name"),
        ({"CONVEYOR_REGISTRY_SCHEME": "ftp"}, "is not one of auto, http, https"),
    ],
)
def test_malformed_settings_name_themselves(environ: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(environ=environ)
    assert words in str(caught.value)


def test_test_jobs_from_yaml() -> None:
    yaml = {
        "test_jobs": {
            "unit": {"command": "sh unit.sh", "coverage": True},
            "lint": {"command": "sh lint.sh", "services": []},
            "functional": {"command": "sh f.sh", "services": ["db"], "service": "web"},
        }
    }
    settings = load(yaml_config=yaml)
    unit, lint, functional = settings.test_jobs
    assert unit.coverage_regex == DEFAULT_COVERAGE_REGEX and unit.service == "app" and unit.no_deps
    assert lint.no_deps and not lint.coverage_regex
    assert functional.services == ("db",) and functional.service == "web" and not functional.no_deps
    assert settings.job("lint") is lint
    with pytest.raises(ConfigError, match=r"unknown test job 'nope'.*unit, lint, functional"):
        settings.job("nope")


def test_job_without_command_and_bad_coverage_regex_are_rejected() -> None:
    with pytest.raises(ConfigError, match="has no command"):
        load(yaml_config={"test_jobs": {"unit": {}}})
    with pytest.raises(ConfigError, match="coverage '\\(' is not an RE2 regular expression"):
        load(yaml_config={"test_jobs": {"unit": {"command": "x", "coverage": "("}}})


def test_compose_files_from_yaml_list_and_env() -> None:
    settings = load(yaml_config={"compose_files": ["a.yml", "b.yml"]})
    assert settings.compose_files == (ROOT / "a.yml", ROOT / "b.yml")
    settings = load(environ={"CONVEYOR_COMPOSE_FILES": "x.yml:y.yml:z.yml"})
    assert settings.compose_files == (ROOT / "x.yml", ROOT / "y.yml", ROOT / "z.yml")


def test_secrets_are_not_in_repr_and_password_falls_back_to_job_token() -> None:
    settings = load(environ={"CI_JOB_TOKEN": "job-token-secret", "CI_REGISTRY_USER": "gitlab-ci-token"})
    assert "job-token-secret" not in repr(settings)
    credentials = toolbox(settings).credentials
    assert credentials is not None and (credentials.user, credentials.password) == (
        "gitlab-ci-token",
        "job-token-secret",
    )
    assert settings.secrets == ("job-token-secret",)


def test_docker_environment_passes_only_set_variables() -> None:
    settings = load(environ={"DOCKER_HOST": "tcp://docker:2376", "DOCKER_TLS_VERIFY": "1"})
    assert settings.docker_environment == {"DOCKER_HOST": "tcp://docker:2376", "DOCKER_TLS_VERIFY": "1"}


def test_no_registry_defaults_bound_to_any_project() -> None:
    with pytest.raises(ConfigError, match=r"no registry is configured \(CI_REGISTRY is not set\)"):
        load_settings(ROOT, {}, {}, {}, git({"commit": SHA, "branch": "main"}))
    bare = {"CI_REGISTRY": "registry.example.com"}
    with pytest.raises(ConfigError, match="CI_REGISTRY_IMAGE is not set and this checkout has no origin"):
        load_settings(ROOT, {}, bare, {}, git({"commit": SHA, "branch": "main"}))
    for url in ("git@gitlab.example.com:Shop/Web-App.git", "https://ci:tok@gitlab.example.com/shop/web-app.git"):
        settings = load_settings(ROOT, {}, bare, {}, git({"commit": SHA, "branch": "main", "origin": url}))
        assert settings.registry_image == "registry.example.com/shop/web-app"
    with pytest.raises(ConfigError, match="origin is not a GitLab project URL"):
        load_settings(ROOT, {}, bare, {}, git({"commit": SHA, "branch": "main", "origin": "/srv/git/app.git"}))


def test_compose_defaults_follow_compose(tmp_path: Path) -> None:
    project = tmp_path / "My Shop!"
    project.mkdir()
    (project / "compose.yaml").write_text("services: {php: {build: .}}\n")
    (project / "compose.override.yaml").write_text("services: {php: {}}\n")
    settings = load(project_dir=project)
    assert settings.compose_files == (project / "compose.yaml", project / "compose.override.yaml")
    assert settings.prod_compose_files == settings.compose_files
    assert settings.compose_project == "myshop"
    (project / "compose.yaml").write_text("name: Shop-Two\nservices: {php: {build: .}}\n")
    assert load(project_dir=project).compose_project == "shop-two"
