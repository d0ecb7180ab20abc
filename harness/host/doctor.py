"""`ambient-harness doctor`: is this machine fit to run a kind cluster with Istio ambient?

Pure functions over *readings* (what `docker info`, `/proc` and `/sys` said), so every finding
and its fix text is tested against stand-in readings; `read_host` is the only part that looks
at the machine. The likely first failures on a laptop, most likely first (issue 12):

- inotify limits: istio-cni and ztunnel crash-loop with "too many open files" on Linux hosts
  with the distribution defaults (max_user_instances 128);
- Docker's memory: three kind nodes, istiod, a ztunnel and istio-cni per node and waypoints
  need about 8 GiB; with less, OOM kills and evictions look like readiness timeouts;
- cgroup v1 hosts (older WSL2 kernels): kubelet 1.35 refuses cgroup v1 by default;
- Python below 3.11; too little disk for the images; a host port the kind config needs taken.

A `fail` finding stops `cluster up`, `make demo` and `make e2e` before anything is created;
`warn` is printed and the run goes on. `--skip-doctor` skips the checks altogether.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from harness.errors import HarnessError
from harness.host.docker import DOCKER_TIMEOUT_S, first_line

Severity = Literal["ok", "warn", "fail"]

GiB: Final = 1024**3
# About what three kind nodes with Istio ambient, a waypoint and the scenario pods use.
MEMORY_NEEDED: Final = 8 * GiB
MEMORY_MINIMUM: Final = 6 * GiB
# kind's own recommendation for hosts running several nodes (its "known issues" page).
INOTIFY_WATCHES: Final = 524288
INOTIFY_INSTANCES: Final = 512
# The node image (~1 GB unpacked), the Istio and agent images in every node, the tools.
DISK_NEEDED: Final = 10 * GiB
DISK_MINIMUM: Final = 4 * GiB
PYTHON_MINIMUM: Final = (3, 11)

INOTIFY_FIX: Final = (
    "sudo sysctl -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512; "
    "to keep it after a reboot: printf 'fs.inotify.max_user_watches = 524288\\n"
    "fs.inotify.max_user_instances = 512\\n' | sudo tee /etc/sysctl.d/99-kind.conf"
)


class DoctorFailed(HarnessError):
    """A doctor check failed: the run would fail later, and less clearly."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        failed = [f for f in self.findings if f.severity == "fail"]
        lines = ["the host is not ready for a kind cluster with Istio ambient:"]
        lines += render_findings(failed)
        lines.append("(after fixing, `ambient-harness doctor` checks again; --skip-doctor goes on)")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Finding:
    """One check's result: what was found and, unless it is fine, what to do about it."""

    check: str
    severity: Severity
    found: str
    fix: str = ""


@dataclass(frozen=True)
class DockerReading:
    """What `docker info --format '{{json .}}'` answered (info), or why it did not (error)."""

    engine: str
    info: Mapping[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class HostReadings:
    """Everything the host checks look at; `None` means "could not be read here"."""

    system: str  # platform.system(): "Linux", "Darwin"
    python: tuple[int, int, int]
    docker: DockerReading | None = None  # None: no container engine needed (existing cluster)
    inotify_watches: int | None = None
    inotify_instances: int | None = None
    host_cgroup_v2: bool | None = None
    wsl: bool = False
    free_disk: tuple[Path, int] | None = None
    busy_ports: tuple[int, ...] = ()
    needed_ports: tuple[int, ...] = ()


# --- the checks (pure) ----------------------------------------------------------------------


def check_python(version: tuple[int, int, int]) -> Finding:
    shown = ".".join(map(str, version))
    if version[:2] >= PYTHON_MINIMUM:
        return Finding("python", "ok", f"Python {shown}")
    return Finding(
        "python",
        "fail",
        f"Python {shown}; the harness needs 3.11 or newer (macOS's python3 is 3.9)",
        "install Python 3.12 (macOS: `brew install python@3.12`; Debian/Ubuntu: "
        "`sudo apt-get install python3.12-venv`) and recreate the environment: "
        "`rm -rf .venv && make setup PYTHON=python3.12`",
    )


def _gib(n: float) -> str:
    return f"{n / GiB:.1f} GiB"


def docker_flavour(info: Mapping[str, Any]) -> str:
    """ "desktop", "colima", "podman" or "engine" (a native Linux engine): the fixes differ."""
    os_name = str(info.get("OperatingSystem", ""))
    if "Docker Desktop" in os_name:
        return "desktop"
    if str(info.get("Name", "")).startswith("colima"):
        return "colima"
    if "podman" in os_name.lower() or "podman" in str(info.get("Name", "")).lower():
        return "podman"
    return "engine"


_MEMORY_FIX: Final = {
    "desktop": "Docker Desktop > Settings > Resources > Memory: 8 GB or more, then Apply & restart",
    "colima": "colima stop && colima start --memory 8",
    "podman": "podman machine stop && podman machine set --memory 8192 && podman machine start",
    "engine": "the engine uses this machine's memory: close other programs or use a machine "
    "with 8 GiB or more (`free -h` shows what is in use)",
}


def check_docker(reading: DockerReading) -> list[Finding]:
    """Reachable, enough memory, and the cgroup version the engine (or its VM) runs."""
    if reading.info is None:
        return [
            Finding(
                "docker",
                "fail",
                f"the {reading.engine} engine is not reachable: {reading.error or 'no answer'}",
                "start it (Docker Desktop; or `sudo systemctl start docker` on Linux) and check "
                f"that `{reading.engine} info` works for your user; on a cluster you already "
                "have, pass --context instead (no Docker needed)",
            )
        ]
    info = reading.info
    flavour = docker_flavour(info)
    version = info.get("ServerVersion", "?")
    found = [
        Finding(
            "docker",
            "ok",
            f"{reading.engine} {version} ({info.get('OperatingSystem', '?')}), "
            f"{info.get('NCPU', '?')} CPUs",
        )
    ]
    memory = info.get("MemTotal")
    if isinstance(memory, int) and memory > 0:
        what = (
            f"{reading.engine} has {_gib(memory)} of memory; three kind nodes with Istio "
            f"ambient need about {_gib(MEMORY_NEEDED)}"
        )
        if memory < MEMORY_MINIMUM:
            found.append(
                Finding(
                    "memory",
                    "fail",
                    what + " (with less, OOM kills surface as readiness timeouts)",
                    _MEMORY_FIX[flavour],
                )
            )
        elif memory < MEMORY_NEEDED:
            found.append(Finding("memory", "warn", what, _MEMORY_FIX[flavour]))
        else:
            found.append(Finding("memory", "ok", f"{_gib(memory)} of memory"))
    cgroup = str(info.get("CgroupVersion", ""))
    if cgroup == "1":
        found.append(cgroup_v1_finding(f"the {reading.engine} engine runs on cgroup v1", flavour))
    elif cgroup == "2":
        found.append(Finding("cgroup", "ok", f"cgroup v2 ({info.get('CgroupDriver', '?')} driver)"))
    return found


def cgroup_v1_finding(found: str, flavour: str = "engine", *, wsl: bool = False) -> Finding:
    if wsl or flavour == "desktop":
        fix = (
            "in %UserProfile%\\.wslconfig, under [wsl2], set "
            "`kernelCommandLine = cgroup_no_v1=all`, then run `wsl --shutdown` and start "
            "again (or update WSL: `wsl --update`, whose kernels default to cgroup v2)"
        )
    else:
        fix = (
            "boot with the unified hierarchy: add `systemd.unified_cgroup_hierarchy=1` to "
            "GRUB_CMDLINE_LINUX in /etc/default/grub, run `sudo update-grub` (Fedora/RHEL: "
            '`sudo grubby --update-kernel=ALL --args="systemd.unified_cgroup_hierarchy=1"`) '
            "and reboot"
        )
    return Finding(
        "cgroup",
        "fail",
        found + "; kubelet 1.35 refuses cgroup v1 by default, so the kind nodes never become Ready",
        fix,
    )


def check_inotify(watches: int | None, instances: int | None, system: str) -> list[Finding]:
    if watches is None and instances is None:
        if system == "Linux":
            return [Finding("inotify", "warn", "could not read /proc/sys/fs/inotify", INOTIFY_FIX)]
        # Docker Desktop/colima: the limits live in the VM, which the host cannot read.
        return []
    low = []
    if watches is not None and watches < INOTIFY_WATCHES:
        low.append(f"max_user_watches {watches} (needs {INOTIFY_WATCHES})")
    if instances is not None and instances < INOTIFY_INSTANCES:
        low.append(f"max_user_instances {instances} (needs {INOTIFY_INSTANCES})")
    if not low:
        return [
            Finding("inotify", "ok", f"max_user_watches {watches}, max_user_instances {instances}")
        ]
    return [
        Finding(
            "inotify",
            "fail",
            "inotify limits too low: " + ", ".join(low) + "; istio-cni and ztunnel would "
            'crash-loop with "too many open files"',
            INOTIFY_FIX,
        )
    ]


def check_disk(free: tuple[Path, int] | None) -> list[Finding]:
    if free is None:
        return []
    path, left = free
    what = f"{_gib(left)} free on {path}"
    fix = (
        "free space there; `docker system prune` removes stopped containers, unused networks "
        "and dangling images"
    )
    if left < DISK_MINIMUM:
        return [
            Finding(
                "disk", "fail", what + f"; images and tools need about {_gib(DISK_NEEDED)}", fix
            )
        ]
    if left < DISK_NEEDED:
        return [Finding("disk", "warn", what + f"; about {_gib(DISK_NEEDED)} is advisable", fix)]
    return [Finding("disk", "ok", what)]


def check_ports(needed: Sequence[int], busy: Sequence[int]) -> list[Finding]:
    if not needed:
        return [Finding("ports", "ok", "the kind config needs no fixed host port")]
    taken = [p for p in needed if p in busy]
    if not taken:
        return [Finding("ports", "ok", "host ports free: " + ", ".join(map(str, needed)))]
    shown = ", ".join(map(str, taken))
    return [
        Finding(
            "ports",
            "fail",
            f"host port(s) {shown} that the kind config maps are in use",
            f"find what holds them (`lsof -nP -iTCP:{taken[0]} -sTCP:LISTEN` or "
            f"`ss -ltnp 'sport = :{taken[0]}'`) and stop it, or change the port in the "
            "kind config",
        )
    ]


def host_findings(r: HostReadings) -> list[Finding]:
    """Every host check over `r`, in the order they are printed."""
    found = [check_python(r.python)]
    if r.docker is None:
        return found  # an existing cluster: nothing runs in a local container engine
    found += check_docker(r.docker)
    engine_cgroup = r.docker.info is not None and "CgroupVersion" in r.docker.info
    if not engine_cgroup and r.host_cgroup_v2 is False:
        found.append(cgroup_v1_finding("this host runs cgroup v1", wsl=r.wsl))
    found += check_inotify(r.inotify_watches, r.inotify_instances, r.system)
    found += check_disk(r.free_disk)
    found += check_ports(r.needed_ports, r.busy_ports)
    return found


def failed(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "fail"]


def raise_on_failure(findings: Sequence[Finding]) -> None:
    if failed(findings):
        raise DoctorFailed(findings)


_MARK: Final = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def render_findings(findings: Sequence[Finding]) -> list[str]:
    """Two lines per finding that needs action (what, then `fix:`), one when it is fine."""
    lines = []
    for f in findings:
        lines.append(f"{_MARK[f.severity]}  {f.check:<8} {f.found}")
        if f.fix and f.severity != "ok":
            lines.append(f"{'':16}fix: {f.fix}")
    return lines


# --- readings (the only part that looks at this machine) -------------------------------------


def read_docker_info(
    engine: str, *, search_path: str | None = None, timeout_s: float = DOCKER_TIMEOUT_S
) -> DockerReading:
    """`<engine> info --format '{{json .}}'`; a daemon that is down still prints JSON with
    `ServerErrors` (and exits 1) on recent CLIs, only stderr on older ones."""
    binary = shutil.which(engine, path=search_path)
    if binary is None:
        return DockerReading(engine, error=f"`{engine}` is not on PATH")
    try:
        done = subprocess.run(
            [binary, "info", "--format", "{{json .}}"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return DockerReading(engine, error=f"`{engine} info` did not answer within {timeout_s:g}s")
    except OSError as exc:
        return DockerReading(engine, error=f"cannot run {binary}: {exc}")
    try:
        info = json.loads(done.stdout)
    except ValueError:
        info = None
    errors = (info or {}).get("ServerErrors") if isinstance(info, dict) else None
    if done.returncode != 0 or not isinstance(info, dict) or errors:
        reason = (
            (errors[0] if errors else "") or first_line(done.stderr) or f"exit {done.returncode}"
        )
        return DockerReading(engine, error=str(reason))
    return DockerReading(engine, info=info)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def kind_config_host_ports(config: Mapping[str, Any]) -> tuple[int, ...]:
    """Host ports a kind config binds: networking.apiServerPort and extraPortMappings."""
    ports = []
    api_port = (config.get("networking") or {}).get("apiServerPort")
    if isinstance(api_port, int) and api_port > 0:
        ports.append(api_port)
    for node in config.get("nodes") or []:
        for mapping in node.get("extraPortMappings") or []:
            port = mapping.get("hostPort")
            if isinstance(port, int) and port > 0:
                ports.append(port)
    return tuple(sorted(set(ports)))


def port_busy(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def read_host(
    *,
    engine: str | None,
    disk_path: Path,
    kind_config: Path | None = None,
    proc: Path = Path("/proc"),
    sys_fs: Path = Path("/sys"),
    system: str | None = None,
    search_path: str | None = None,
) -> HostReadings:
    """Read this machine; `engine=None` for an existing cluster (no container engine needed).

    `proc`/`sys_fs` are parameters so tests point them at a stand-in tree.
    """
    system = system or platform.system()
    python = (sys.version_info.major, sys.version_info.minor, sys.version_info.micro)
    if engine is None:
        return HostReadings(system, python)
    docker = read_docker_info(engine, search_path=search_path)
    inotify = proc / "sys" / "fs" / "inotify"
    version_text = ""
    with contextlib.suppress(OSError):
        version_text = (proc / "version").read_text()
    cgroup_v2: bool | None = None
    if system == "Linux":
        cgroup_v2 = (sys_fs / "fs" / "cgroup" / "cgroup.controllers").is_file()
    needed: tuple[int, ...] = ()
    if kind_config is not None:
        try:
            needed = kind_config_host_ports(yaml.safe_load(kind_config.read_text()) or {})
        except (OSError, yaml.YAMLError):
            needed = ()
    # A native Linux engine keeps its images on this machine (DockerRootDir); Docker Desktop,
    # colima and podman keep them in a VM whose disk the host cannot see: then the cache.
    root = Path(str((docker.info or {}).get("DockerRootDir", "")))
    native = (
        system == "Linux" and docker.info is not None and docker_flavour(docker.info) == "engine"
    )
    if native and root.is_absolute() and root.exists():
        disk_path = root
    free_on = disk_path if disk_path.exists() else _existing_parent(disk_path)
    return HostReadings(
        system,
        python,
        docker,
        inotify_watches=_read_int(inotify / "max_user_watches") if system == "Linux" else None,
        inotify_instances=_read_int(inotify / "max_user_instances") if system == "Linux" else None,
        host_cgroup_v2=cgroup_v2,
        wsl="microsoft" in version_text.lower(),
        free_disk=(free_on, shutil.disk_usage(free_on).free),
        busy_ports=tuple(p for p in needed if port_busy(p)),
        needed_ports=needed,
    )


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(os.sep)
