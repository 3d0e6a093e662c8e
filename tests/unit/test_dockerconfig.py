"""The run's temporary Docker config: no credentials for the run's registry, the user's helpers kept for
every other registry, the user's plugins linked in, and the directory gone afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from conveyor.docker.config import for_run, temporary_config


def test_the_run_registry_loses_its_credentials_and_other_registries_keep_their_helpers() -> None:
    user = {
        "auths": {"https://r.test:5000/v1/": {"auth": "dTpw"}, "ghcr.io": {}, "quay.io": {"auth": "eDp5"}},
        "credsStore": "desktop",
        "credHelpers": {"r.test:5000": "ecr-login", "gcr.io": "gcloud"},
        "currentContext": "ci",
    }
    result = for_run(user, "r.test:5000")
    assert result["auths"] == {"ghcr.io": {}, "quay.io": {"auth": "eDp5"}}
    assert "credsStore" not in result  # docker login would otherwise write the password into the store
    assert result["credHelpers"] == {"gcr.io": "gcloud", "ghcr.io": "desktop", "quay.io": "desktop"}
    assert result["currentContext"] == "ci" and user["credsStore"] == "desktop"  # the user's dict untouched


def test_the_directory_links_the_plugins_and_is_removed(tmp_path: Path) -> None:
    user_dir = tmp_path / "user"
    (user_dir / "cli-plugins").mkdir(parents=True)
    (user_dir / "cli-plugins" / "docker-compose").write_text("plugin")
    (user_dir / "config.json").write_text(json.dumps({"auths": {"r.test": {"auth": "c2VjcmV0"}}}))
    with temporary_config(user_dir, "r.test") as directory:
        assert (directory / "cli-plugins" / "docker-compose").read_text() == "plugin"
        assert json.loads((directory / "config.json").read_text())["auths"] == {}
        assert oct(directory.stat().st_mode & 0o777) == "0o700"
    assert not directory.exists()
    with temporary_config(tmp_path / "no-such-dir", "r.test") as directory:
        assert json.loads((directory / "config.json").read_text()) == {"auths": {}, "credHelpers": {}}
