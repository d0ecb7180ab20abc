"""The doctor runs before anything is created: a failed check leaves no kind cluster and no
API write behind; --skip-doctor goes on; the dry run says the doctor would run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes.fake_apiserver import FakeApiServer
from fakes.fake_kind import calls, install_fake_kind, kubeconfig_text

from harness.cli.main import main
from harness.host import doctor, existing
from harness.host.doctor import HostReadings

REPO = Path(__file__).resolve().parents[2]
SCENARIO = str(REPO / "scenarios" / "ambient-authz-l4")


@pytest.fixture
def old_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host reads as macOS's python3 (3.9): a failed doctor check."""

    def read_host(**kwargs: object) -> HostReadings:
        return HostReadings(system="Linux", python=(3, 9, 6), host_cgroup_v2=True)

    monkeypatch.setattr(doctor, "read_host", read_host)


def test_a_failed_doctor_check_creates_no_kind_cluster(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api: FakeApiServer,
    old_python: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bin_dir = install_fake_kind(tmp_path, monkeypatch, api.url)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")  # the fake docker
    assert main(["run", "--cluster=kind", SCENARIO]) == 1
    err = capsys.readouterr().err
    assert "Python 3.9.6" in err and "DoctorFailed" in err
    assert not any("create" in argv for argv in calls(tmp_path)), calls(tmp_path)
    assert api.patches() == [] and api.calls("POST") == []


def test_skip_doctor_goes_on_to_create_the_cluster(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api: FakeApiServer,
    old_python: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bin_dir = install_fake_kind(tmp_path, monkeypatch, api.url)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")  # the fake docker
    main(["run", "--cluster=kind", "--skip-doctor", "--keep-cluster", SCENARIO])
    err = capsys.readouterr().err
    assert "doctor skipped (--skip-doctor)" in err
    assert any("create" in argv for argv in calls(tmp_path)), err
    # Then the images, pulled once on the host and loaded into the nodes.
    assert "pulling image 1/5: docker.io/istio/pilot:" in err, err


def test_a_failed_doctor_check_writes_nothing_to_an_existing_cluster(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api: FakeApiServer,
    old_python: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The API server stand-in has no /version: `up`'s reachability check is answered here.
    monkeypatch.setattr(existing, "api_reachable", lambda *a: (True, "Kubernetes v1.36.0"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(api.url))
    assert main(["run", f"--kubeconfig={kubeconfig}", SCENARIO]) == 1
    assert "Python 3.9.6" in capsys.readouterr().err
    assert api.patches() == [] and api.calls("POST") == [] and api.calls("DELETE") == []


def test_the_dry_run_says_the_doctor_would_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--dry-run", SCENARIO]) == 0
    assert "doctor: the host checks" in capsys.readouterr().out
    assert main(["run", "--dry-run", "--skip-doctor", SCENARIO]) == 0
    assert "doctor: skipped (--skip-doctor)" in capsys.readouterr().out


def test_the_dry_run_preloads_images_and_passes_the_registry_to_istioctl(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--dry-run", "--image-registry=gcr.io/istio-release", SCENARIO]) == 0
    out = capsys.readouterr().out
    assert "run docker pull gcr.io/istio-release/ztunnel:" in out
    assert "load docker-image --name=ambient-harness" in out
    assert "--set hub=gcr.io/istio-release" in out
    assert out.index("docker pull") < out.index("istioctl")
