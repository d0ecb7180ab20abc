"""Istio on a cluster: find an installed istiod, or install the ambient profile; wait ready.

Istio facts used here (docs/architecture.md §5):
- `istioctl install --set profile=ambient` installs istiod (Deployment) and the
  `istio-cni-node` and `ztunnel` DaemonSets in istio-system; the install is ready when istiod
  is Available, both DaemonSets are rolled out and istiod has created the GatewayClass
  `istio-waypoint`.
- istiod watches alpha Gateway API kinds (TCPRoute) only with
  `PILOT_ENABLE_ALPHA_GATEWAY_API=true`, which the harness sets at install.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.host import argv as commands
from harness.host import versions
from harness.kube.client import Kube
from harness.kube.errors import KubeError
from harness.kube.objects import ObjectRef, daemonset_ref, deployment_ref
from harness.mesh.gateway_api import GATEWAY_API_GROUP_VERSION
from harness.mesh.readiness import Output, ReadinessCheck, quiet, wait_ready
from harness.model.topology import WAYPOINT_CLASS

ISTIO_NAMESPACE = "istio-system"
ISTIOD_SELECTOR = "app=istiod"
ISTIOD_CONTAINER = "discovery"
ZTUNNEL = "ztunnel"
ISTIO_CNI = "istio-cni-node"


_RELEASE_RE = re.compile(r"^(\d+\.\d+\.\d+(?:-(?:alpha|beta|rc)[0-9A-Za-z.]*)?)")


@dataclass(frozen=True)
class IstioInstall:
    """An istiod found on the cluster; `version_source` says where the version came from."""

    namespace: str
    deployment: str
    version: str | None
    revision: str | None
    image: str | None
    version_source: str
    # istiod watches TCPRoute and the other alpha Gateway API kinds only with this flag.
    alpha_gateway_api: bool = False
    # The discovery container's environment: the istiod settings (PILOT_*, ENABLE_*).
    env: Mapping[str, str] = field(default_factory=dict)


def image_release(image: str) -> str | None:
    """`docker.io/istio/pilot:1.30.3-distroless@sha256:...` -> `1.30.3` (None if no tag)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    m = _RELEASE_RE.match(last.split(":", 1)[1])
    return m.group(1) if m else None


def istio_version_of(deployment: dict[str, Any]) -> tuple[str | None, str]:
    """Istio release of an istiod Deployment, and where it was read.

    In order: the tag of the `discovery` container image (what actually runs), then the labels
    `app.kubernetes.io/version` (recent charts), `operator.istio.io/version` (older istioctl
    installs) and `helm.sh/chart` (`istiod-<version>`). `istio.io/rev` is a revision *name*
    ("default", "1-30-3"), never read as a version.
    """
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or []
    named = [c for c in containers if c.get("name") == ISTIOD_CONTAINER] or containers
    for c in named:
        release = image_release(str(c.get("image", "")))
        if release:
            return release, f"image {c.get('image')}"
    labels = (deployment.get("metadata") or {}).get("labels") or {}
    for key in ("app.kubernetes.io/version", "operator.istio.io/version"):
        m = _RELEASE_RE.match(str(labels.get(key, "")))
        if m:
            return m.group(1), f"label {key}"
    chart = str(labels.get("helm.sh/chart", ""))
    if chart.startswith("istiod-"):
        m = _RELEASE_RE.match(chart.removeprefix("istiod-"))
        if m:
            return m.group(1), "label helm.sh/chart"
    return None, "unknown (no image tag or version label)"


def detect_istio(kube: Kube, namespace: str = ISTIO_NAMESPACE) -> IstioInstall | None:
    """The istiod Deployment (label app=istiod) in `namespace`, preferring revision default."""
    found = kube.list_objects("apps/v1", "Deployment", namespace, label_selector=ISTIOD_SELECTOR)
    if not found:
        return None

    def rank(d: dict[str, Any]) -> tuple[int, str]:
        meta = d.get("metadata") or {}
        rev = (meta.get("labels") or {}).get("istio.io/rev")
        return (0 if rev in (None, "default") else 1, str(meta.get("name")))

    dep = sorted(found, key=rank)[0]
    meta = dep.get("metadata") or {}
    version, source = istio_version_of(dep)
    containers = (((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    discovery: dict[str, Any] = next(
        (c for c in containers if c.get("name") == ISTIOD_CONTAINER), {}
    )
    env = {str(e.get("name")): str(e.get("value", "")) for e in discovery.get("env") or []}
    return IstioInstall(
        namespace=namespace,
        deployment=str(meta.get("name")),
        version=version,
        revision=(meta.get("labels") or {}).get("istio.io/rev"),
        image=str(discovery["image"]) if discovery.get("image") else None,
        version_source=source,
        alpha_gateway_api=env.get(commands.ALPHA_GATEWAY_API_FLAG, "").lower() == "true",
        env=env,
    )


# --- Istio: install ------------------------------------------------------------------------


def istio_install_command(
    istioctl: Path,
    version: str | None = None,
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
    sets: Sequence[str] = (),
) -> list[str]:
    """`istioctl install --set profile=ambient --set meshConfig.accessLogFile=/dev/stdout
    --skip-confirmation` (+ --kubeconfig/--context; `sets` adds `--set` values, e.g. the
    `hub=...` of `--image-registry`, `harness.host.images.ImagePlan.istioctl_sets`).

    istioctl installs exactly its own release, so `version` is not a flag: it is the release
    the caller believes this binary is (checked for shape here, compared with what got
    installed by `install_istio`). `--skip-confirmation` is istioctl's long form of `-y`.
    """
    if version is not None and not versions.is_istio_release(version):
        raise ValueError(f"not an Istio release version: {version!r}")
    return commands.istioctl_install(istioctl, sets=sets, kubeconfig=kubeconfig, context=context)


def istio_readiness(
    namespace: str = ISTIO_NAMESPACE, istiod: str = "istiod"
) -> list[ReadinessCheck]:
    """What "Istio ambient is ready" means; `istiod` is `istiod-<rev>` for a revisioned install."""
    return [
        ReadinessCheck(deployment_ref(namespace, istiod), "available"),
        ReadinessCheck(daemonset_ref(namespace, ISTIO_CNI), "rolled-out"),
        ReadinessCheck(daemonset_ref(namespace, ZTUNNEL), "rolled-out"),
        ReadinessCheck(
            ObjectRef(GATEWAY_API_GROUP_VERSION, "GatewayClass", None, WAYPOINT_CLASS), "exists"
        ),
    ]


class IstioInstallError(KubeError):
    """istioctl failed or timed out; the message carries its last output lines."""


@dataclass
class IstioSetup:
    install: IstioInstall
    installed_now: bool
    warnings: list[str] = field(default_factory=list)


def run_streaming(argv: Sequence[str], *, timeout: float, output: Output) -> tuple[int, list[str]]:
    """Run `argv` (no shell), passing each output line to `output`; kill it at `timeout`.

    Returns (exit code, last 40 lines); raises `IstioInstallError` on timeout.
    """
    tail: deque[str] = deque(maxlen=40)
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            output(line)
        rc = proc.wait()
    except BaseException:
        # Ctrl-C, SIGTERM (raised as KeyboardInterrupt) or a failing `output`: never leave
        # istioctl running on its own, half-way through an install.
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
        if proc.stdout is not None:
            proc.stdout.close()
    if timed_out.is_set():
        raise IstioInstallError(
            f"{Path(argv[0]).name} {' '.join(argv[1:3])} timed out after {timeout:g}s; "
            "last output:\n" + "\n".join(tail)
        )
    return rc, list(tail)


def existing_install_warnings(
    kube: Kube, existing: IstioInstall, version: str, namespace: str = ISTIO_NAMESPACE
) -> list[str]:
    """What is off with an Istio the harness found (and will not change); raises
    `IstioInstallError` when it cannot serve ambient scenarios at all."""
    missing = [
        name for name in (ISTIO_CNI, ZTUNNEL) if kube.get(daemonset_ref(namespace, name)) is None
    ]
    if missing:
        raise IstioInstallError(
            f"the installed Istio has no {' or '.join(missing)} DaemonSet in {namespace}: it "
            "is not the ambient profile, or an earlier install was interrupted. Reinstall "
            "with `istioctl install --set profile=ambient`, or use a fresh cluster "
            "(`ambient-harness cluster down` removes the harness's kind cluster); the "
            "harness never changes an existing install"
        )
    warnings = []
    if existing.version != version:
        warnings.append(
            f"the cluster runs Istio {existing.version or 'of unknown version'} "
            f"({existing.version_source}), not the requested {version}; results describe "
            "the installed version"
        )
    if not existing.alpha_gateway_api:
        flag = commands.ALPHA_GATEWAY_API_FLAG
        warnings.append(
            f"istiod runs without {flag}=true, so it ignores TCPRoute: scenarios that route "
            "TCP through a waypoint (ambient-tcproute) will fail. Reinstall with `istioctl "
            f"install --set values.pilot.env.{flag}=true` (plus your options)"
        )
    return warnings


def install_istio(
    kube: Kube,
    istioctl: Path,
    version: str,
    *,
    namespace: str = ISTIO_NAMESPACE,
    install_timeout: float = 600.0,
    ready_timeout: float = 300.0,
    pull_allowance: float = 600.0,
    sets: Sequence[str] = (),
    output: Output = quiet,
) -> IstioSetup:
    """Install Istio (ambient profile) unless an istiod is already there; then wait ready.

    An existing install is left alone (said on `output`); what is off with it (another
    version, no alpha Gateway API) is reported as warnings, not changed. Either way the
    readiness checks must pass, within `ready_timeout` plus up to `pull_allowance` seconds
    while an image pull is still in progress when it runs out (a first pull on a slow link).
    """
    warnings: list[str] = []
    existing = detect_istio(kube, namespace)
    if existing is not None:
        output(
            f"Istio {existing.version or '(version unknown)'} is already installed "
            f"(Deployment {namespace}/{existing.deployment}); leaving it alone"
        )
        warnings += existing_install_warnings(kube, existing, version, namespace)
        for msg in warnings:
            output(f"warning: {msg}")
    else:
        argv = istio_install_command(
            istioctl, version, kubeconfig=kube.kubeconfig, context=kube.context, sets=sets
        )
        output("running: " + " ".join(argv))
        rc, tail = run_streaming(argv, timeout=install_timeout, output=output)
        if rc != 0:
            raise IstioInstallError(
                f"istioctl install exited with status {rc}; last output:\n" + "\n".join(tail)
            )
    output("waiting for istiod, istio-cni-node, ztunnel and GatewayClass istio-waypoint")
    istiod = existing.deployment if existing is not None else "istiod"
    wait_ready(
        kube,
        istio_readiness(namespace, istiod),
        timeout=ready_timeout,
        output=None if output is quiet else output,
        pull_allowance=pull_allowance,
    )
    found = detect_istio(kube, namespace)
    if found is None:
        raise IstioInstallError(f"no istiod Deployment in {namespace} after install")
    if existing is None and found.version not in (None, version):
        msg = f"istioctl installed Istio {found.version}, not {version}: check the istioctl pin"
        warnings.append(msg)
        output(f"warning: {msg}")
    return IstioSetup(found, existing is None, warnings)
