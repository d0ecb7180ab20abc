"""harness.host.existing: a cluster you already have, behind a loopback /version server."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.fake_kind import ApiServer, kubeconfig_text
from helpers import closed_port

from harness.host.cluster import ClusterError, ClusterProvider
from harness.host.existing import ExistingProvider


def test_existing_cluster_is_used_and_never_deleted(version_api: ApiServer, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(version_api.url, "mine"))
    provider = ExistingProvider(kubeconfig, "mine")
    assert isinstance(provider, ClusterProvider)
    assert "Kubernetes v1.35.8" in provider.up()
    status = provider.status()
    assert (status.exists, status.reachable, status.context) == (True, True, "mine")
    message = provider.down()
    assert "never deletes" in message
    assert version_api.requests == ["GET /version/", "GET /version/"]  # down() sent nothing
    assert provider.commands() == []
    assert "never created or deleted" in provider.describe()


def test_existing_cluster_pins_the_current_context(version_api: ApiServer, tmp_path: Path) -> None:
    """kubectl and istioctl then get --context explicitly: a `kubectl config use-context`
    in another terminal during the run cannot retarget them at another cluster."""
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(version_api.url, "mine"))
    provider = ExistingProvider(kubeconfig)
    assert provider.context is None
    provider.up()
    assert provider.context == "mine"
    assert "context 'mine'" in provider.describe()


def test_existing_cluster_unreachable(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(f"http://127.0.0.1:{closed_port()}", "mine"))
    provider = ExistingProvider(kubeconfig, "mine")
    with pytest.raises(ClusterError, match=r"API server http://127.0.0.1:\d+: connection refused$"):
        provider.up()
    assert provider.status().reachable is False


def test_existing_cluster_missing_kubeconfig_or_context(
    version_api: ApiServer, tmp_path: Path
) -> None:
    with pytest.raises(ClusterError, match="does not exist"):
        ExistingProvider(tmp_path / "absent").up()
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(version_api.url, "mine"))
    with pytest.raises(ClusterError, match="cannot load kubeconfig"):
        ExistingProvider(kubeconfig, "other").up()
