"""The mesh on a cluster: Gateway API CRDs, Istio (ambient profile), enrollment, waypoints.

Istio facts used here (docs/architecture.md §5):
- Gateway API CRDs go first, server-side (the HTTPRoute CRD is too large for client-side
  apply). The experimental bundle also carries the ValidatingAdmissionPolicy (+Binding)
  `safe-upgrades.gateway.networking.k8s.io`, applied with it: it later blocks installing
  experimental CRDs over standard ones, so the channel is chosen at install.
- `istioctl install --set profile=ambient` installs istiod (Deployment) and the
  `istio-cni-node` and `ztunnel` DaemonSets in istio-system; the install is ready when istiod
  is Available, both DaemonSets are rolled out and istiod has created the GatewayClass
  `istio-waypoint`.
- Ambient enrollment is the namespace label `istio.io/dataplane-mode=ambient` (no restart);
  an enrolled pod gets the annotation `ambient.istio.io/redirection: enabled`. Sidecar
  injection (`istio-injection=enabled`) only affects pods created after the label.
- A waypoint is a Gateway of class `istio-waypoint` with the HBONE listener on 15008,
  `Programmed=True` once its Service exists (its Envoy pod, label
  `gateway.networking.k8s.io/gateway-name=<name>`, may still be starting); nothing uses it
  until labelled `istio.io/use-waypoint=<name>`.
- istiod watches alpha Gateway API kinds (TCPRoute) only with
  `PILOT_ENABLE_ALPHA_GATEWAY_API=true`, which the harness sets at install.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.host import argv as commands
from harness.host import versions
from harness.kube.client import Kube
from harness.kube.errors import KubeError, WaitTimeout
from harness.kube.objects import (
    Manifest,
    ObjectRef,
    crd_ref,
    daemonset_ref,
    deployment_ref,
    load_manifests,
    namespace_ref,
    service_ref,
)
from harness.model.topology import (
    USE_WAYPOINT,
    WAYPOINT_CLASS,
    WAYPOINT_FOR,
    WAYPOINT_PORT,
    NamespacePlan,
    WaypointPlan,
)

Output = Callable[[str], None]

ISTIO_NAMESPACE = "istio-system"
ISTIOD_SELECTOR = "app=istiod"
ISTIOD_CONTAINER = "discovery"
ZTUNNEL = "ztunnel"
ISTIO_CNI = "istio-cni-node"
GATEWAY_API_GROUP_VERSION = "gateway.networking.k8s.io/v1"
REDIRECTION_ANNOTATION = "ambient.istio.io/redirection"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode"
SIDECAR_CONTAINER = "istio-proxy"


def _quiet(_: str) -> None:
    return None


# --- readiness as data -------------------------------------------------------------------

Want = Literal["available", "rolled-out", "established", "exists", "programmed"]


@dataclass(frozen=True)
class ReadinessCheck:
    """One thing to wait for; a dry run prints these, a live run waits for them."""

    ref: ObjectRef
    want: Want

    def __str__(self) -> str:
        words = {
            "available": "Available=True",
            "rolled-out": "rolled out on every node",
            "established": "Established=True",
            "exists": "present",
            "programmed": "Programmed=True",
        }
        return f"{self.ref}: {words[self.want]}"


def wait_ready(kube: Kube, checks: Sequence[ReadinessCheck], *, timeout: float) -> None:
    """Wait for each check in turn, all within one `timeout` budget."""
    deadline = time.monotonic() + timeout
    for check in checks:
        left = max(0.0, deadline - time.monotonic())
        ref = check.ref
        if check.want == "available":
            assert ref.namespace is not None
            kube.wait_deployment_available(ref.namespace, ref.name, timeout=left)
        elif check.want == "rolled-out":
            assert ref.namespace is not None
            kube.wait_daemonset_rolled_out(ref.namespace, ref.name, timeout=left)
        elif check.want == "established":
            kube.wait_established(ref.name, timeout=left)
        elif check.want == "programmed":
            kube.wait_condition(ref, "Programmed", "True", timeout=left)
        else:
            kube.wait_exists(ref, timeout=left)


# --- Gateway API ---------------------------------------------------------------------------


def gateway_api_readiness(docs: Sequence[Manifest]) -> list[ReadinessCheck]:
    """Established=True for every CRD in the bundle."""
    return [
        ReadinessCheck(crd_ref(str(d["metadata"]["name"])), "established")
        for d in docs
        if d.get("kind") == "CustomResourceDefinition"
    ]


BUNDLE_VERSION_ANNOTATION = "gateway.networking.k8s.io/bundle-version"
_SEMVER_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def bundle_version(crd: Mapping[str, Any] | None) -> tuple[int, int, int] | None:
    """(1, 5, 1) from a Gateway API CRD's `gateway.networking.k8s.io/bundle-version`."""
    annotations = ((crd or {}).get("metadata") or {}).get("annotations") or {}
    m = _SEMVER_RE.match(str(annotations.get(BUNDLE_VERSION_ANNOTATION, "")))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def install_gateway_api(
    kube: Kube, manifest_path: Path, *, timeout: float = 120.0, output: Output = _quiet
) -> list[ObjectRef]:
    """Server-side apply the whole bundle (CRDs and the safe-upgrades policy), then wait.

    Idempotent: re-applying the same bundle is a no-op for the API server. The preflight
    surfaces the API server's refusal (e.g. the safe-upgrades policy rejecting a channel
    switch) before anything is written. A cluster with a *newer* Gateway API is left as it
    is: applying the pin there would downgrade CRDs that other controllers rely on.
    """
    docs = load_manifests(manifest_path)
    crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
    if not crds:
        raise KubeError(f"{manifest_path}: no CustomResourceDefinition in this file")
    ours = bundle_version(crds[0])
    theirs = bundle_version(kube.get(crd_ref(str(crds[0]["metadata"]["name"]))))
    if ours is not None and theirs is not None and theirs > ours:
        output(
            "the cluster has Gateway API v{}.{}.{}, newer than the pinned v{}.{}.{}: "
            "leaving it as it is".format(*theirs, *ours)
        )
        return []
    output(f"applying {len(docs)} Gateway API objects (server-side) from {manifest_path.name}")
    refs = kube.apply_step(docs, crd_timeout=timeout)
    checks = gateway_api_readiness(docs)
    output(f"waiting for {len(checks)} Gateway API CRDs to be Established")
    wait_ready(kube, checks, timeout=timeout)
    return refs


# --- Istio: detection ----------------------------------------------------------------------

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
    )


# --- Istio: install ------------------------------------------------------------------------


def istio_install_command(
    istioctl: Path,
    version: str | None = None,
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> list[str]:
    """`istioctl install --set profile=ambient --set meshConfig.accessLogFile=/dev/stdout
    --skip-confirmation` (+ --kubeconfig/--context).

    istioctl installs exactly its own release, so `version` is not a flag: it is the release
    the caller believes this binary is (checked for shape here, compared with what got
    installed by `install_istio`). `--skip-confirmation` is istioctl's long form of `-y`.
    """
    if version is not None and not versions.is_istio_release(version):
        raise ValueError(f"not an Istio release version: {version!r}")
    return commands.istioctl_install(istioctl, kubeconfig=kubeconfig, context=context)


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
    output: Output = _quiet,
) -> IstioSetup:
    """Install Istio (ambient profile) unless an istiod is already there; then wait ready.

    An existing install is left alone (said on `output`); what is off with it (another
    version, no alpha Gateway API) is reported as warnings, not changed. Either way the
    readiness checks must pass.
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
            istioctl, version, kubeconfig=kube.kubeconfig, context=kube.context
        )
        output("running: " + " ".join(argv))
        rc, tail = run_streaming(argv, timeout=install_timeout, output=output)
        if rc != 0:
            raise IstioInstallError(
                f"istioctl install exited with status {rc}; last output:\n" + "\n".join(tail)
            )
    output("waiting for istiod, istio-cni-node, ztunnel and GatewayClass istio-waypoint")
    istiod = existing.deployment if existing is not None else "istiod"
    wait_ready(kube, istio_readiness(namespace, istiod), timeout=ready_timeout)
    found = detect_istio(kube, namespace)
    if found is None:
        raise IstioInstallError(f"no istiod Deployment in {namespace} after install")
    if existing is None and found.version not in (None, version):
        msg = f"istioctl installed Istio {found.version}, not {version}: check the istioctl pin"
        warnings.append(msg)
        output(f"warning: {msg}")
    return IstioSetup(found, existing is None, warnings)


# --- enrollment ----------------------------------------------------------------------------


class EnrollmentError(KubeError):
    """A namespace cannot be enrolled as planned (e.g. pods predate sidecar injection)."""


def _has_sidecar(pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    # Native sidecars (Kubernetes >= 1.29) put istio-proxy among the init containers.
    names = [c.get("name") for c in (spec.get("containers") or [])]
    names += [c.get("name") for c in (spec.get("initContainers") or [])]
    return SIDECAR_CONTAINER in names


def require_sidecars(kube: Kube, namespace: str) -> None:
    """Every Running pod of a sidecar namespace has `istio-proxy`, or `EnrollmentError`."""
    missing = sorted(
        str((p.get("metadata") or {}).get("name"))
        for p in kube.pods(namespace)
        if (p.get("status") or {}).get("phase") == "Running" and not _has_sidecar(p)
    )
    if missing:
        raise EnrollmentError(
            f"namespace {namespace}: pods without the {SIDECAR_CONTAINER} sidecar: "
            f"{', '.join(missing)} (is istio-injection=enabled set and istiod's injection "
            "webhook working?)"
        )


def _injection_opted_out(pod: dict[str, Any]) -> bool:
    meta = pod.get("metadata") or {}
    flag = "sidecar.istio.io/inject"
    return "false" in (
        str((meta.get("labels") or {}).get(flag, "")).lower(),
        str((meta.get("annotations") or {}).get(flag, "")).lower(),
    )


def enroll_namespace(kube: Kube, plan: NamespacePlan) -> ObjectRef:
    """Create (or update) the namespace with its enrollment labels.

    Call this before any workload of the namespace is applied. Sidecar injection only
    happens when a pod is created, so for mode `sidecar` an existing pod without the
    `istio-proxy` container is an error (it would silently stay outside the mesh); ambient
    enrollment needs no restart.
    """
    if plan.mode == "sidecar" and kube.get(namespace_ref(plan.name)) is not None:
        late = [
            str((p.get("metadata") or {}).get("name"))
            for p in kube.pods(plan.name)
            if (p.get("status") or {}).get("phase") in ("Pending", "Running")
            and not _has_sidecar(p)
            and not _injection_opted_out(p)
        ]
        if late:
            raise EnrollmentError(
                f"namespace {plan.name}: pods started before sidecar injection was enabled "
                f"(no istio-proxy container): {', '.join(sorted(late))}; label the namespace "
                "before creating workloads, or delete these pods"
            )
    return kube.ensure_namespace(plan.name, plan.labels)


# --- waypoints -----------------------------------------------------------------------------


def waypoint_ref(plan: WaypointPlan) -> ObjectRef:
    return ObjectRef(GATEWAY_API_GROUP_VERSION, "Gateway", plan.namespace, plan.name)


def waypoint_manifest(plan: WaypointPlan) -> Manifest:
    """The declarative form of `istioctl waypoint apply` for this plan."""
    return {
        "apiVersion": GATEWAY_API_GROUP_VERSION,
        "kind": "Gateway",
        "metadata": {
            "name": plan.name,
            "namespace": plan.namespace,
            "labels": {WAYPOINT_FOR: plan.traffic_type},
        },
        "spec": {
            "gatewayClassName": WAYPOINT_CLASS,
            "listeners": [{"name": "mesh", "port": WAYPOINT_PORT, "protocol": "HBONE"}],
        },
    }


@dataclass(frozen=True)
class LabelChange:
    ref: ObjectRef
    labels: dict[str, str]

    def __str__(self) -> str:
        return f"{self.ref}: " + ", ".join(f"{k}={v}" for k, v in self.labels.items())


def use_waypoint_labels(plan: WaypointPlan) -> list[LabelChange]:
    """`istio.io/use-waypoint=<name>` on each Service it serves (same namespace as the
    waypoint), and on the namespace when `enroll_namespace`."""
    labels = {USE_WAYPOINT: plan.name}
    changes = [LabelChange(service_ref(plan.namespace, s), dict(labels)) for s in plan.services]
    if plan.enroll_namespace:
        changes.append(LabelChange(namespace_ref(plan.namespace), dict(labels)))
    return changes


def waypoint_pod_selector(plan: WaypointPlan) -> str:
    return f"{GATEWAY_NAME_LABEL}={plan.name}"


def apply_waypoint(
    kube: Kube, plan: WaypointPlan, *, timeout: float = 120.0, label: bool = True
) -> ObjectRef:
    """Apply the waypoint Gateway, wait for Programmed=True and a Ready waypoint pod, then
    label its users (all within `timeout`).

    Istio reports Programmed once the waypoint's Service exists, not when its Envoy is up;
    on a fresh node the proxy image is still being pulled, and labelling then would send
    the first probes into a waypoint that is not there yet. The Services must exist
    already (labelling is a patch of the existing object).
    """
    deadline = time.monotonic() + timeout
    ref = waypoint_ref(plan)
    kube.apply_step([waypoint_manifest(plan)])
    kube.wait_condition(ref, "Programmed", "True", timeout=timeout)
    left = max(0.0, deadline - time.monotonic())
    kube.wait_pod_ready(plan.namespace, waypoint_pod_selector(plan), timeout=left)
    if label:
        for change in use_waypoint_labels(plan):
            kube.label(change.ref, change.labels)
    return ref


# --- ambient redirection -------------------------------------------------------------------


@dataclass(frozen=True)
class RedirectionReport:
    namespace: str
    checked: list[str]
    offenders: list[str]
    skipped: list[str]  # Running pods that are never redirected (waypoints, opted out)

    @property
    def ok(self) -> bool:
        return not self.offenders

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.namespace}: all {len(self.checked)} running pods are redirected"
        return (
            f"{self.namespace}: pods not redirected by ambient "
            f"(no annotation {REDIRECTION_ANNOTATION}: enabled): {', '.join(self.offenders)}; "
            "check istio-cni-node on their nodes and the namespace label "
            f"{DATAPLANE_MODE_LABEL}=ambient"
        )


class RedirectionError(KubeError):
    pass


def check_ambient_redirection(kube: Kube, namespace: str) -> RedirectionReport:
    """Every Running pod of an ambient namespace must carry the redirection annotation.

    Skipped: waypoint pods (label gateway.networking.k8s.io/gateway-name), pods opted out
    with istio.io/dataplane-mode=none, and hostNetwork pods: ambient never redirects those.
    """
    checked: list[str] = []
    offenders: list[str] = []
    skipped: list[str] = []
    for pod in kube.pods(namespace):
        meta = pod.get("metadata") or {}
        name = str(meta.get("name"))
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        labels = meta.get("labels") or {}
        if (
            GATEWAY_NAME_LABEL in labels
            or labels.get(DATAPLANE_MODE_LABEL) == "none"
            or (pod.get("spec") or {}).get("hostNetwork")
        ):
            skipped.append(name)
            continue
        checked.append(name)
        if (meta.get("annotations") or {}).get(REDIRECTION_ANNOTATION) != "enabled":
            offenders.append(name)
    return RedirectionReport(namespace, checked, sorted(offenders), skipped)


def wait_ambient_redirection(
    kube: Kube, namespace: str, *, timeout: float = 30.0
) -> RedirectionReport:
    """`check_ambient_redirection` until it passes; `RedirectionError` naming the pods.

    istio-cni annotates a pod as it sets up its redirection, normally before the pod is
    Ready; the budget covers a slow istio-cni-node, not a missing one.
    """
    try:
        return kube.poll_until(
            f"the pods of {namespace}",
            lambda: check_ambient_redirection(kube, namespace),
            lambda report: report.ok,
            want=f"annotated {REDIRECTION_ANNOTATION}=enabled",
            timeout=timeout,
            describe=lambda report: report.message,
        )
    except WaitTimeout as exc:
        raise RedirectionError(exc.last_seen) from None
