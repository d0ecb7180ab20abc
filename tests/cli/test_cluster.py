"""`ambient-harness cluster up|down|status` (harness.cli.cluster) with stand-in kind/docker
and a loopback /version server."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from fakes.fake_kind import ApiServer, calls, kubeconfig_text, script

from harness.cli.cluster import cluster_command
from harness.cli.exitcodes import EXIT_NO_DOCKER


def cli_args(action: str, **overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "action": action,
        "cluster": "kind",  # the CLI's default for `cluster`
        "cluster_name": "demo",
        "kube_context": None,
        "kubeconfig": None,
        "keep_cluster": False,
        "skip_doctor": True,  # the doctor has its own test below
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def test_cluster_command_on_an_existing_cluster(version_api: ApiServer, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(version_api.url, "mine"))
    out = io.StringIO()
    args = cli_args("status", kube_context="mine", kubeconfig=str(kubeconfig))
    assert cluster_command(args, out) == 0
    assert "existing cluster 'mine': exists, reachable" in out.getvalue()
    out = io.StringIO()
    assert (
        cluster_command(cli_args("down", kube_context="mine", kubeconfig=str(kubeconfig)), out) == 0
    )
    assert "never deletes" in out.getvalue()
    assert all(r.startswith("GET ") for r in version_api.requests)


def test_cluster_command_without_docker_fails_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path / "cache"))
    assert cluster_command(cli_args("up"), io.StringIO()) == EXIT_NO_DOCKER  # as run and demo
    assert "error: kind runs Kubernetes nodes as containers" in capsys.readouterr().err
    assert not (tmp_path / "cache" / "bin").exists()


def test_cluster_command_down_deletes_even_with_keep(
    fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "clusters").write_text("demo\n")
    monkeypatch.setenv("PATH", str(fake_bin))  # docker found here
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path / "cache"))
    out = io.StringIO()
    assert cluster_command(cli_args("down", keep_cluster=True), out) == 0
    assert out.getvalue() == "deleted kind cluster 'demo'\n"
    assert (tmp_path / "clusters").read_text().split() == []


def test_cluster_command_status_of_a_missing_kind_cluster(
    fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(fake_bin))
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path / "cache"))
    out = io.StringIO()
    assert cluster_command(cli_args("status"), out) == 1
    assert out.getvalue().startswith("kind cluster 'demo': does not exist")


def test_cluster_command_up_leaves_the_cluster_running(
    fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(fake_bin))
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path / "cache"))
    out = io.StringIO()
    assert cluster_command(cli_args("up"), out) == 0
    lines = out.getvalue().splitlines()
    assert "left running afterwards" in lines[0]
    assert lines[1].startswith("created kind cluster 'demo'")
    assert (tmp_path / "clusters").read_text().split() == ["demo"]


def test_cluster_up_runs_the_doctor_first_and_stops_before_creating_anything(
    fake_bin: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The stand-in docker answers `docker info` with a 4 GB Docker Desktop.
    info = (Path(__file__).parents[1] / "host" / "docker_info_desktop_4g.json").read_text()
    script(fake_bin, "docker", f"print({info.strip()!r})")
    monkeypatch.setenv("PATH", str(fake_bin))
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path / "cache"))
    out = io.StringIO()
    assert cluster_command(cli_args("up", skip_doctor=False), out) == 1
    assert "FAIL  memory   docker has 3.8 GiB of memory" in out.getvalue()
    err = capsys.readouterr().err
    assert err.startswith("error: the host is not ready for a kind cluster")
    assert "fix: Docker Desktop > Settings > Resources > Memory" in err
    assert calls(tmp_path) == []  # kind never ran: nothing was created
    assert not (tmp_path / "clusters").exists()
