"""harness.host.doctor against stand-in readings: a `docker info` JSON of a 4 GB Docker Desktop,
low inotify limits in a stand-in /proc, cgroup v1; each finding and its fix text."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakes.fake_kind import script

from harness.errors import HarnessError
from harness.host import doctor
from harness.host.doctor import DockerReading, DoctorFailed, Finding, HostReadings

HERE = Path(__file__).parent
DESKTOP_4G: dict[str, Any] = json.loads((HERE / "docker_info_desktop_4g.json").read_text())
GOOD_INFO = {**DESKTOP_4G, "MemTotal": 16 * doctor.GiB}


def by_check(findings: list[Finding], check: str) -> Finding:
    (found,) = [f for f in findings if f.check == check]
    return found


def readings(**overrides: Any) -> HostReadings:
    base = HostReadings(
        system="Linux",
        python=(3, 12, 3),
        docker=DockerReading("docker", info=GOOD_INFO),
        inotify_watches=524288,
        inotify_instances=512,
        host_cgroup_v2=True,
        free_disk=(Path("/var/lib/docker"), 50 * doctor.GiB),
    )
    return replace(base, **overrides)


def test_a_healthy_host_has_no_finding_to_act_on() -> None:
    findings = doctor.host_findings(readings())
    assert {f.severity for f in findings} == {"ok"}
    doctor.raise_on_failure(findings)  # does not raise


def test_docker_desktop_with_4_gb_fails_with_the_settings_to_change() -> None:
    found = by_check(
        doctor.host_findings(readings(docker=DockerReading("docker", info=DESKTOP_4G))), "memory"
    )
    assert found.severity == "fail"
    assert found.found.startswith("docker has 3.8 GiB of memory; three kind nodes with Istio")
    assert "about 8.0 GiB" in found.found
    assert found.fix == (
        "Docker Desktop > Settings > Resources > Memory: 8 GB or more, then Apply & restart"
    )


@pytest.mark.parametrize(
    ("info", "fix"),
    [
        (
            {"Name": "colima", "OperatingSystem": "Ubuntu 24.04"},
            "colima stop && colima start --memory 8",
        ),
        (
            {"Name": "podman-machine-default", "OperatingSystem": "fedora"},
            "podman machine stop && podman machine set --memory 8192 && podman machine start",
        ),
        ({"Name": "laptop", "OperatingSystem": "Ubuntu 24.04.2 LTS"}, "`free -h`"),
    ],
)
def test_the_memory_fix_follows_the_engine(info: dict[str, str], fix: str) -> None:
    low = {**DESKTOP_4G, **info, "MemTotal": 7 * doctor.GiB}
    found = by_check(
        doctor.host_findings(readings(docker=DockerReading("docker", info=low))), "memory"
    )
    assert found.severity == "warn"  # 7 GiB: may work, said so
    assert fix in found.fix


def test_low_inotify_limits_fail_with_the_sysctl_command() -> None:
    found = by_check(
        doctor.host_findings(readings(inotify_watches=8192, inotify_instances=128)), "inotify"
    )
    assert found.severity == "fail"
    assert found.found == (
        "inotify limits too low: max_user_watches 8192 (needs 524288), max_user_instances 128 "
        '(needs 512); istio-cni and ztunnel would crash-loop with "too many open files"'
    )
    assert found.fix.startswith(
        "sudo sysctl -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512;"
    )
    assert "/etc/sysctl.d/99-kind.conf" in found.fix


def test_only_the_low_inotify_limit_is_named() -> None:
    found = by_check(doctor.host_findings(readings(inotify_instances=128)), "inotify")
    assert "max_user_instances 128" in found.found and "max_user_watches" not in found.found


def test_inotify_on_macos_is_not_a_finding() -> None:
    # Docker Desktop's limits live in its VM, which the host cannot read.
    r = readings(system="Darwin", inotify_watches=None, inotify_instances=None)
    assert [f for f in doctor.host_findings(r) if f.check == "inotify"] == []


def test_an_engine_on_cgroup_v1_fails_with_the_boot_option() -> None:
    info = {**GOOD_INFO, "OperatingSystem": "CentOS Linux 7", "Name": "old", "CgroupVersion": "1"}
    found = by_check(
        doctor.host_findings(readings(docker=DockerReading("docker", info=info))), "cgroup"
    )
    assert found.severity == "fail"
    assert "kubelet 1.35 refuses cgroup v1" in found.found
    assert "systemd.unified_cgroup_hierarchy=1" in found.fix and "sudo update-grub" in found.fix


def test_cgroup_v1_under_wsl2_points_at_wslconfig() -> None:
    info = {**GOOD_INFO, "CgroupVersion": "1"}  # Docker Desktop on an older WSL2 kernel
    found = by_check(
        doctor.host_findings(readings(docker=DockerReading("docker", info=info))), "cgroup"
    )
    assert "kernelCommandLine = cgroup_no_v1=all" in found.fix and "wsl --shutdown" in found.fix


def test_the_host_cgroup_is_the_fallback_when_the_engine_does_not_say() -> None:
    r = readings(docker=DockerReading("docker", error="down"), host_cgroup_v2=False, wsl=True)
    found = by_check(doctor.host_findings(r), "cgroup")
    assert found.found.startswith("this host runs cgroup v1")
    assert "wslconfig" in found.fix


def test_unreachable_docker_fails_and_says_how_to_start_it() -> None:
    r = readings(docker=DockerReading("docker", error="Cannot connect to the Docker daemon"))
    found = by_check(doctor.host_findings(r), "docker")
    assert found.severity == "fail"
    assert found.found == "the docker engine is not reachable: Cannot connect to the Docker daemon"
    assert "sudo systemctl start docker" in found.fix and "--context" in found.fix


def test_python_39_fails_with_the_install_command() -> None:
    found = by_check(doctor.host_findings(readings(python=(3, 9, 6))), "python")
    assert found.severity == "fail"
    assert "Python 3.9.6; the harness needs 3.11 or newer" in found.found
    assert "brew install python@3.12" in found.fix and "make setup PYTHON=python3.12" in found.fix


def test_disk_thresholds() -> None:
    low = doctor.host_findings(readings(free_disk=(Path("/var/lib/docker"), 2 * doctor.GiB)))
    assert by_check(low, "disk").severity == "fail"
    assert "docker system prune" in by_check(low, "disk").fix
    tight = doctor.host_findings(readings(free_disk=(Path("/x"), 6 * doctor.GiB)))
    assert by_check(tight, "disk").severity == "warn"


def test_a_taken_host_port_fails_with_how_to_find_its_owner() -> None:
    found = by_check(
        doctor.host_findings(readings(needed_ports=(80, 6443), busy_ports=(6443,))), "ports"
    )
    assert found.severity == "fail"
    assert found.found == "host port(s) 6443 that the kind config maps are in use"
    assert "lsof -nP -iTCP:6443 -sTCP:LISTEN" in found.fix


def test_an_existing_cluster_needs_no_container_engine() -> None:
    findings = doctor.host_findings(HostReadings("Darwin", (3, 12, 0)))
    assert [f.check for f in findings] == ["python"]


def test_failure_message_lists_only_the_failed_checks_with_their_fixes() -> None:
    findings = doctor.host_findings(
        readings(docker=DockerReading("docker", info=DESKTOP_4G), inotify_instances=128)
    )
    with pytest.raises(DoctorFailed) as err:
        doctor.raise_on_failure(findings)
    assert isinstance(err.value, HarnessError)
    text = str(err.value)
    assert "FAIL  memory" in text and "FAIL  inotify" in text and "ok  " not in text
    assert "fix: Docker Desktop > Settings" in text and "--skip-doctor" in text
    assert err.value.findings == findings


def test_rendering_shows_fix_lines_only_for_findings_to_act_on() -> None:
    lines = doctor.render_findings(
        [Finding("python", "ok", "Python 3.12.3"), Finding("disk", "warn", "6.0 GiB free", "prune")]
    )
    assert lines == [
        "ok    python   Python 3.12.3",
        "WARN  disk     6.0 GiB free",
        " " * 16 + "fix: prune",
    ]


# --- readings: stand-in docker CLI and /proc, /sys trees ---------------------------------------


def fake_proc(
    root: Path, watches: str, instances: str, version: str = "Linux version 6.8.0"
) -> Path:
    inotify = root / "proc" / "sys" / "fs" / "inotify"
    inotify.mkdir(parents=True)
    (inotify / "max_user_watches").write_text(watches + "\n")
    (inotify / "max_user_instances").write_text(instances + "\n")
    (root / "proc" / "version").write_text(version + "\n")
    return root / "proc"


def test_read_host_from_stand_in_docker_and_proc(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    script(bin_dir, "docker", f"print(json.dumps({DESKTOP_4G!r}))")
    proc = fake_proc(tmp_path, "8192", "128", "Linux version 5.10.16.3-microsoft-standard-WSL2")
    sys_fs = tmp_path / "sys"
    (sys_fs / "fs" / "cgroup").mkdir(parents=True)  # no cgroup.controllers: cgroup v1
    config = tmp_path / "kind.yaml"
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        config.write_text(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
            f"networking: {{apiServerPort: {port}}}\nnodes: [{{role: control-plane}}]\n"
        )
        r = doctor.read_host(
            engine="docker",
            disk_path=tmp_path / "cache",
            kind_config=config,
            proc=proc,
            sys_fs=sys_fs,
            system="Linux",
            search_path=str(bin_dir),
        )
    assert r.docker is not None and r.docker.info == DESKTOP_4G
    assert (r.inotify_watches, r.inotify_instances) == (8192, 128)
    assert r.host_cgroup_v2 is False and r.wsl
    assert r.needed_ports == (port,) and r.busy_ports == (port,)
    assert r.free_disk is not None and r.free_disk[0] == tmp_path  # nearest existing parent
    checks = {f.check: f.severity for f in doctor.host_findings(r)}
    # The engine reports cgroup v2 (Docker Desktop's VM), so the host's v1 is not held against it.
    assert checks == {
        "python": "ok",
        "docker": "ok",
        "memory": "fail",
        "cgroup": "ok",
        "inotify": "fail",
        "disk": "ok",
        "ports": "fail",
    }


def test_a_stopped_daemon_that_prints_json_is_unreachable(tmp_path: Path) -> None:
    # Recent docker CLIs print the client half with ServerErrors and exit 1.
    body = json.dumps({"ServerErrors": ["Cannot connect to the Docker daemon at unix:///x."]})
    script(tmp_path, "docker", f"print({body!r})\nsys.exit(1)")
    got = doctor.read_docker_info("docker", search_path=str(tmp_path))
    assert got.info is None and got.error == "Cannot connect to the Docker daemon at unix:///x."


def test_an_old_cli_with_only_stderr_is_unreachable(tmp_path: Path) -> None:
    script(
        tmp_path,
        "docker",
        "sys.stderr.write('permission denied while trying to connect\\n')\nsys.exit(1)",
    )
    got = doctor.read_docker_info("docker", search_path=str(tmp_path))
    assert got.error == "permission denied while trying to connect"


def test_no_docker_on_path(tmp_path: Path) -> None:
    assert (
        doctor.read_docker_info("docker", search_path=str(tmp_path)).error
        == "`docker` is not on PATH"
    )


def test_kind_config_host_ports() -> None:
    config = {
        "networking": {"apiServerPort": 6443},
        "nodes": [
            {
                "role": "control-plane",
                "extraPortMappings": [{"containerPort": 80, "hostPort": 8080}],
            },
            {"role": "worker"},
        ],
    }
    assert doctor.kind_config_host_ports(config) == (6443, 8080)
    assert doctor.kind_config_host_ports({"networking": {"apiServerPort": 0}}) == ()
