"""The doctor's cluster checks, and `preflight`: every check a run makes before set-up.

For a cluster you already have (`--context`), what changes outcomes is how its istiod
and Gateway API were installed (docs/architecture.md §5). The catalogue's expectations were
checked against the harness's own install: `PILOT_ENABLE_ALPHA_GATEWAY_API=true` and every
other istiod setting at Istio's default, Gateway API v1.5.1 experimental. The checks below
compare a found install with that; pure functions over `ClusterReadings`, like the host
checks in `harness.host.doctor`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from harness.host import argv as commands
from harness.host import doctor, versions
from harness.host.doctor import Finding
from harness.host.existing import unreachable_text
from harness.kube.client import Kube
from harness.kube.objects import crd_ref
from harness.mesh.gateway_api import bundle_version, parse_version
from harness.mesh.istio import ISTIO_NAMESPACE, detect_istio
from harness.model.scenario import Scenario

GATEWAY_CRD: Final = "gateways.gateway.networking.k8s.io"
CHANNEL_ANNOTATION: Final = "gateway.networking.k8s.io/channel"
SAFE_UPGRADES_POLICY: Final = "safe-upgrades.gateway.networking.k8s.io"
# istiod settings whose value changes what the catalogue's scenarios observe, and the value
# the harness's own install runs with ("false": Istio's default, the harness leaves it).
OUTCOME_SETTINGS: Final[Mapping[str, str]] = {
    commands.ALPHA_GATEWAY_API_FLAG: "true",
    "PILOT_AUTO_ALLOW_WAYPOINT_POLICY": "false",
    "ENABLE_LAYERED_WAYPOINT_AUTHORIZATION_POLICIES": "false",
}


@dataclass(frozen=True)
class ClusterReadings:
    """What the cluster checks look at: istiod's environment (None: no istiod found) and the
    Gateway CRD's metadata (None: Gateway API not installed)."""

    istiod_env: Mapping[str, str] | None
    istio_version: str | None = None
    gateway_crd: Mapping[str, Any] | None = None


def read_cluster(kube: Kube, namespace: str = ISTIO_NAMESPACE) -> ClusterReadings:
    found = detect_istio(kube, namespace)
    crd = kube.get(crd_ref(GATEWAY_CRD))
    return ClusterReadings(
        dict(found.env) if found is not None else None,
        found.version if found is not None else None,
        crd,
    )


def check_istio_settings(env: Mapping[str, str] | None, version: str | None) -> list[Finding]:
    if env is None:
        return [
            Finding(
                "istio", "ok", f"no istiod: the harness installs Istio {versions.ISTIO_VERSION}"
            )
        ]
    found = [Finding("istio", "ok", f"istiod {version or '(version unknown)'} found")]
    for name, wanted in OUTCOME_SETTINGS.items():
        value = env.get(name, "false").lower() or "false"
        if value == wanted:
            found.append(Finding("istio", "ok", f"{name}={value}"))
            continue
        if name == commands.ALPHA_GATEWAY_API_FLAG:
            what = (
                f"istiod runs with {name}={value}: it ignores TCPRoute, so scenarios routing TCP "
                "through a waypoint (ambient-tcproute) fail"
            )
        else:
            what = (
                f"istiod runs with {name}={value}, the harness's own install with {wanted} "
                "(Istio's default): expectations of waypoint authorization scenarios were "
                "checked against the default and may not hold here"
            )
        found.append(
            Finding(
                "istio",
                "warn",
                what,
                f"reinstall with `istioctl install --set values.pilot.env.{name}={wanted}` "
                "(plus your own options), or read those scenarios' results in that light",
            )
        )
    return found


def check_gateway_api(crd: Mapping[str, Any] | None) -> list[Finding]:
    ours = f"{versions.GATEWAY_API_VERSION} {versions.GATEWAY_API_CHANNEL}"
    if crd is None:
        return [Finding("gateway", "ok", f"no Gateway API CRDs: the harness installs {ours}")]
    annotations = (crd.get("metadata") or {}).get("annotations") or {}
    channel = str(annotations.get(CHANNEL_ANNOTATION, "unknown"))
    theirs = bundle_version(crd)
    shown = "v{}.{}.{}".format(*theirs) if theirs else "of unknown version"
    pinned = parse_version(versions.GATEWAY_API_VERSION)
    if channel != versions.GATEWAY_API_CHANNEL:
        url = versions.GATEWAY_API_CRDS.artifact.url
        return [
            Finding(
                "gateway",
                "fail",
                f"Gateway API {shown} {channel} channel; the harness needs {ours} (TCPRoute), "
                f"and applying it over {channel} CRDs is refused by the admission policy "
                f"{SAFE_UPGRADES_POLICY}",
                "use a cluster without Gateway API CRDs, or switch this one: `kubectl delete "
                f"validatingadmissionpolicy {SAFE_UPGRADES_POLICY}` (if present), then "
                f"`kubectl apply --server-side -f {url}`",
            )
        ]
    if theirs is not None and pinned is not None and theirs < pinned:
        return [
            Finding(
                "gateway",
                "warn",
                f"Gateway API {shown} {channel}: the harness upgrades it to {ours} "
                "(server-side apply), which other controllers on this cluster will see",
                "use a throw-away cluster if that upgrade is not wanted",
            )
        ]
    return [Finding("gateway", "ok", f"Gateway API {shown} {channel}")]


_SAFE_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ALPHA_ROUTE_KINDS: Final = frozenset({"TCPRoute", "TLSRoute", "UDPRoute"})


def manifest_kinds(scenario: Scenario) -> set[str]:
    """Every `kind` the scenario's steps apply (unreadable files count as none: lint says why)."""
    kinds: set[str] = set()
    for step in scenario.steps:
        for name in step.apply:
            try:
                # libyaml when built in: the pure loader is ~10x slower on every doctor run
                text = (scenario.directory / name).read_text()
                docs = list(yaml.load_all(text, Loader=_SAFE_LOADER))
            except (OSError, yaml.YAMLError):
                continue
            kinds |= {str(d.get("kind")) for d in docs if isinstance(d, dict)}
    return kinds


def depends_on(scenario: Scenario, setting: str) -> bool:
    """Whether the scenario's outcome depends on this istiod setting."""
    kinds = manifest_kinds(scenario)
    if setting == commands.ALPHA_GATEWAY_API_FLAG:
        return bool(kinds & ALPHA_ROUTE_KINDS)
    # The waypoint authorization settings: ambient policies enforced at a waypoint.
    return (
        scenario.dataplane == "ambient"
        and bool(scenario.waypoints)
        and ("AuthorizationPolicy" in kinds)
    )


def scenario_findings(
    env: Mapping[str, str] | None, scenarios: Sequence[Scenario]
) -> list[Finding]:
    """One warning per scenario whose expectation depends on an istiod setting that differs
    from the harness's install (no istiod: the harness installs it, nothing to say)."""
    if env is None:
        return []
    found = []
    for name, wanted in OUTCOME_SETTINGS.items():
        value = env.get(name, "false").lower() or "false"
        if value == wanted:
            continue
        for scenario in scenarios:
            if depends_on(scenario, name):
                found.append(
                    Finding(
                        "scenario",
                        "warn",
                        f"{scenario.name}: its expectations assume {name}={wanted}, this istiod "
                        f"runs {value}: a failure there may be this setting, not the mesh",
                        f"reinstall with `istioctl install --set values.pilot.env.{name}="
                        f"{wanted}`, or leave {scenario.name} out of this run",
                    )
                )
    return found


def cluster_findings(r: ClusterReadings, scenarios: Sequence[Scenario] = ()) -> list[Finding]:
    return (
        check_istio_settings(r.istiod_env, r.istio_version)
        + check_gateway_api(r.gateway_crd)
        + scenario_findings(r.istiod_env, scenarios)
    )


def preflight(
    *,
    kind: bool,
    cache_dir: Path,
    kind_config: Path | None = None,
    engine: str = "docker",
    kube: Callable[[], Kube] | None = None,
    scenarios: Sequence[Scenario] = (),
    output: Callable[[str], None] | None = None,
) -> list[Finding]:
    """Every check before set-up; raises `DoctorFailed` on a failed one, before anything is
    created. `kind`: a kind cluster will be made or reused (the container engine and host
    limits matter); `kube`: connects to an existing cluster (its Istio and Gateway API);
    `scenarios`: those about to run, each warned about when it depends on an istiod setting
    the cluster has otherwise."""
    readings = doctor.read_host(
        engine=engine if kind else None, disk_path=cache_dir, kind_config=kind_config
    )
    findings = doctor.host_findings(readings)
    if kube is not None:
        try:
            cluster = read_cluster(kube())
        except Exception as exc:  # the kubernetes client raises many types (config, urllib3)
            findings.append(
                Finding(
                    "cluster",
                    "fail",
                    "cannot read the cluster: "
                    + (unreachable_text(exc) or f"{type(exc).__name__}: {exc}"),
                    "check the context: `kubectl --context CONTEXT get nodes` must work "
                    "(and --kubeconfig, if the context is not in ~/.kube/config)",
                )
            )
        else:
            findings += cluster_findings(cluster, scenarios)
    if output is not None:
        for line in doctor.render_findings(findings):
            output(line)
    doctor.raise_on_failure(findings)
    return findings
