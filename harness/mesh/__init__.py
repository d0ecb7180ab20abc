"""The mesh on a cluster: Gateway API CRDs, Istio (ambient profile), enrollment, waypoints.

One module per step, in the order a run takes them: `gateway_api`, `istio` (detect, install),
`enrollment` (namespaces and their pods' redirection), `waypoints`; `readiness` is what they
wait for. The names below are the package's face (`from harness import mesh`).

    KubeError (harness.kube)      the mesh's errors derive from it, hence from HarnessError
        IstioInstallError         istioctl failed or timed out, or the found Istio is unusable
        EnrollmentError           a namespace cannot be enrolled as planned
        RedirectionError          ambient pods stayed without redirection
"""

from __future__ import annotations

from harness.mesh.enrollment import (
    DATAPLANE_MODE_LABEL,
    REDIRECTION_ANNOTATION,
    SIDECAR_CONTAINER,
    EnrollmentError,
    RedirectionError,
    RedirectionReport,
    check_ambient_redirection,
    enroll_namespace,
    require_sidecars,
    wait_ambient_redirection,
)
from harness.mesh.gateway_api import (
    GATEWAY_API_GROUP_VERSION,
    bundle_version,
    gateway_api_readiness,
    install_gateway_api,
)
from harness.mesh.istio import (
    ISTIO_NAMESPACE,
    IstioInstall,
    IstioInstallError,
    IstioSetup,
    detect_istio,
    existing_install_warnings,
    install_istio,
    istio_install_command,
    istio_readiness,
    istio_version_of,
    run_streaming,
)
from harness.mesh.readiness import Output, ReadinessCheck, wait_ready
from harness.mesh.waypoints import (
    GATEWAY_NAME_LABEL,
    LabelChange,
    apply_waypoint,
    use_waypoint_labels,
    waypoint_manifest,
    waypoint_pod_selector,
    waypoint_ref,
)

__all__ = [
    "DATAPLANE_MODE_LABEL",
    "GATEWAY_API_GROUP_VERSION",
    "GATEWAY_NAME_LABEL",
    "ISTIO_NAMESPACE",
    "REDIRECTION_ANNOTATION",
    "SIDECAR_CONTAINER",
    "EnrollmentError",
    "IstioInstall",
    "IstioInstallError",
    "IstioSetup",
    "LabelChange",
    "Output",
    "ReadinessCheck",
    "RedirectionError",
    "RedirectionReport",
    "apply_waypoint",
    "bundle_version",
    "check_ambient_redirection",
    "detect_istio",
    "enroll_namespace",
    "existing_install_warnings",
    "gateway_api_readiness",
    "install_gateway_api",
    "install_istio",
    "istio_install_command",
    "istio_readiness",
    "istio_version_of",
    "require_sidecars",
    "run_streaming",
    "use_waypoint_labels",
    "wait_ambient_redirection",
    "wait_ready",
    "waypoint_manifest",
    "waypoint_pod_selector",
    "waypoint_ref",
]
