"""Argument lists for kind, istioctl and kubectl.

Pure functions: they build `list[str]` (never a shell string) so the same list is both run
and printed by a dry run. Paths to the binaries are passed in; nothing here looks anything up.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

Argv = list[str]


def _cluster_flags(kubeconfig: Path | None, context: str | None) -> Argv:
    """`--kubeconfig` / `--context`, shared by kubectl and istioctl."""
    flags: Argv = []
    if kubeconfig is not None:
        flags += ["--kubeconfig", str(kubeconfig)]
    if context is not None:
        flags += ["--context", context]
    return flags


# --- kind -----------------------------------------------------------------------------------


def kind_version(kind: Path) -> Argv:
    return [str(kind), "version"]


def kind_get_clusters(kind: Path) -> Argv:
    return [str(kind), "get", "clusters"]


def kind_create(
    kind: Path,
    name: str,
    *,
    kubeconfig: Path | None = None,
    image: str | None = None,
    config: Path | None = None,
    wait: str | None = None,
) -> Argv:
    """`kind create cluster`; with wait=None the list is exactly what pytest-kind runs."""
    argv = [str(kind), "create", "cluster", f"--name={name}"]
    if kubeconfig is not None:
        argv.append(f"--kubeconfig={kubeconfig}")
    if image is not None:
        argv.append(f"--image={image}")
    if config is not None:
        argv += ["--config", str(config)]
    if wait is not None:
        argv += ["--wait", wait]
    return argv


def kind_delete(kind: Path, name: str, *, kubeconfig: Path | None = None) -> Argv:
    argv = [str(kind), "delete", "cluster", f"--name={name}"]
    if kubeconfig is not None:
        argv.append(f"--kubeconfig={kubeconfig}")
    return argv


def kind_get_nodes(kind: Path, name: str) -> Argv:
    """One node container name per line (`<name>-control-plane`, `<name>-worker`, ...)."""
    return [str(kind), "get", "nodes", f"--name={name}"]


def container_images(engine: str, containers: Sequence[str]) -> Argv:
    """`<container> <image>` per line: the image each node container was created from."""
    return [engine, "inspect", "--format", "{{.Name}} {{.Config.Image}}", *containers]


def kind_export_kubeconfig(kind: Path, name: str, *, kubeconfig: Path) -> Argv:
    return [str(kind), "export", "kubeconfig", f"--name={name}", f"--kubeconfig={kubeconfig}"]


def kind_context(name: str) -> str:
    """The kubeconfig context kind writes for a cluster."""
    return f"kind-{name}"


# --- istioctl -------------------------------------------------------------------------------


def istioctl_version(istioctl: Path) -> Argv:
    """Client version only, as JSON: `{"clientVersion": {"version": "1.30.3", ...}}`."""
    return [str(istioctl), "version", "--remote=false", "-o", "json"]


ALPHA_GATEWAY_API_FLAG = "PILOT_ENABLE_ALPHA_GATEWAY_API"


def istioctl_install(
    istioctl: Path,
    *,
    profile: str = "ambient",
    access_log: bool = True,
    sets: Sequence[str] = (),
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> Argv:
    """`istioctl install --set profile=ambient ... --skip-confirmation`.

    Access logs on stdout make ztunnel/waypoint decisions visible in `kubectl logs`.
    """
    argv = [str(istioctl), "install", "--set", f"profile={profile}"]
    if access_log:
        argv += ["--set", "meshConfig.accessLogFile=/dev/stdout"]
    # TCPRoute/TLSRoute are alpha in Gateway API; istiod ignores them without this flag, and
    # the catalogue's ambient-tcproute scenario routes TCP through a waypoint.
    argv += ["--set", f"values.pilot.env.{ALPHA_GATEWAY_API_FLAG}=true"]
    for item in sets:
        argv += ["--set", item]
    argv.append("--skip-confirmation")
    return argv + _cluster_flags(kubeconfig, context)


def istioctl_ztunnel_workloads(
    istioctl: Path,
    *,
    workload_namespace: str | None = None,
    node: str | None = None,
    output: str | None = None,
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> Argv:
    """What ztunnel knows about workloads (protocol HBONE = enrolled; WAYPOINT column)."""
    argv = [str(istioctl), "ztunnel-config", "workloads"]
    if workload_namespace is not None:
        argv += ["--workload-namespace", workload_namespace]
    if node is not None:
        argv += ["--node", node]
    if output is not None:
        argv += ["-o", output]
    return argv + _cluster_flags(kubeconfig, context)


# --- kubectl --------------------------------------------------------------------------------


def kubectl_version_client(kubectl: Path) -> Argv:
    """Client version only, as JSON: `{"clientVersion": {"gitVersion": "v1.35.8", ...}}`."""
    return [str(kubectl), "version", "--client", "-o", "json"]


def kubectl_wait_nodes_ready(
    kubectl: Path,
    *,
    timeout: str = "180s",
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> Argv:
    return [
        str(kubectl),
        *_cluster_flags(kubeconfig, context),
        "wait",
        "--for=condition=Ready",
        "nodes",
        "--all",
        f"--timeout={timeout}",
    ]
