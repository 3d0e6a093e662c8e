"""Where the cluster configuration comes from, and that importing conveyor.kube stays cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.kube.errors import ClusterError
from conveyor.kube.kubeconfig import ConfigSource, choose_config


def test_explicit_kubeconfig_wins(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("{}")
    chosen = choose_config("/x/config", "/env/config", tmp_path, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert chosen == ConfigSource("/x/config", "--kubeconfig")


def test_then_kubeconfig_variable(tmp_path: Path) -> None:
    assert choose_config(None, "/a:/b", tmp_path, {}) == ConfigSource("/a:/b", "KUBECONFIG")


def test_then_home_config(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("{}")
    assert choose_config(None, None, tmp_path, {"KUBERNETES_SERVICE_HOST": "h"}).origin == "~/.kube/config"


def test_then_in_cluster(tmp_path: Path) -> None:
    assert choose_config(None, "", tmp_path, {"KUBERNETES_SERVICE_HOST": "h"}) == ConfigSource("", "in-cluster")


def test_nothing_configured_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ClusterError) as raised:
        choose_config(None, None, tmp_path, {})
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith("no Kubernetes configuration found: pass --kubeconfig")


def test_importing_conveyor_kube_does_not_import_the_kubernetes_client() -> None:
    code = "import sys, conveyor.kube, conveyor.kube.__main__; sys.exit('kubernetes' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_in_cluster_reads_the_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor.kube import kubeconfig as cluster_module

    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    (tmp_path / "namespace").write_text("team-a\n")
    monkeypatch.setattr(cluster_module, "SERVICE_ACCOUNT_DIR", tmp_path)
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    loaded = cluster_module.load_cluster(environ=environ, verify=False)
    assert (loaded.connection.source, loaded.connection.namespace, loaded.connection.server) == (
        "in-cluster",
        "team-a",
        "https://10.0.0.1:443",
    )
    assert (
        loaded.connection.describe() == "context in-cluster, namespace team-a (https://10.0.0.1:443, from in-cluster)"
    )


def test_in_cluster_without_a_token_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor.kube import kubeconfig as cluster_module

    monkeypatch.setattr(cluster_module, "SERVICE_ACCOUNT_DIR", tmp_path)
    with pytest.raises(ClusterError) as raised:
        cluster_module.load_cluster(environ={"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"})
    assert str(raised.value).startswith("cannot load the in-cluster configuration: ")
    assert "\n" not in str(raised.value)
