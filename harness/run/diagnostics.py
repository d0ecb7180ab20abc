"""What to collect when a step fails, so the failure explains itself afterwards.

Sections, most useful first (the total budget is spent in this order):
  probes                  the last probe outcomes (passed in by the runner)
  manifests               the step's manifests, as applied
  authorization-policies  each AuthorizationPolicy's status conditions (istiod's verdict)
  events                  the scenario namespaces' events
  ztunnel-config          `istioctl ztunnel-config workloads` per namespace (HBONE = enrolled)
  waypoint-<name>         the waypoint pods' logs (access log: the L7 decision)
  ztunnel-<node>          ztunnel logs from the nodes hosting the scenario's pods (L4)
  pod-<ns>-<pod>          agent / echo pod logs, every container

Every collector is independent: one that fails (no istioctl, API error) records its error in
its own section and the others still run. Each section is capped (`Limits.per_item_bytes`,
keeping the end of logs and the beginning of everything else) and all sections together are
capped (`Limits.total_bytes`; a section that no longer fits is replaced by a one-line
"omitted" marker, the only text allowed past the budget); cuts are marked in the text.
Sections are written to `<artifacts>/<scenario>/<step>/<section>.txt` and returned as a
`Diagnostics` object whose `report_sections()` the pytest plugin attaches to the report.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.host import argv as commands
from harness.kube.client import Kube
from harness.kube.errors import api_error_text
from harness.kube.status import failing_conditions, format_conditions, format_event
from harness.mesh.istio import ISTIO_NAMESPACE
from harness.mesh.waypoints import GATEWAY_NAME_LABEL
from harness.model.describe import describe_expect
from harness.model.results import ProbeResult
from harness.model.topology import WaypointPlan

KiB = 1024
MiB = 1024 * KiB
_MIN_USEFUL = 256  # below this many bytes of budget left, a section is omitted, not cut
Keep = Literal["head", "tail"]


@dataclass(frozen=True)
class Limits:
    per_item_bytes: int = 256 * KiB
    total_bytes: int = 5 * MiB
    log_tail_lines: int = 2000
    command_timeout_s: float = 30.0


@dataclass
class Section:
    name: str  # file-safe: the file is `<name>.txt`
    title: str
    text: str
    truncated: bool = False
    error: str | None = None  # the collector failed; `text` says how


@dataclass
class Diagnostics:
    scenario: str
    step: str
    sections: list[Section] = field(default_factory=list)
    directory: Path | None = None
    write_error: str | None = None

    def report_sections(self) -> list[tuple[str, str]]:
        """(title, text) pairs for pytest's `item.add_report_section` / report.sections."""
        return [(s.title, s.text) for s in self.sections]

    def section(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def total_bytes(self) -> int:
        return sum(len(s.text.encode()) for s in self.sections)


@dataclass(frozen=True)
class Request:
    """What the runner knows about the failed step."""

    scenario: str
    step: str
    namespaces: Sequence[str]
    manifests: Mapping[str, str] = field(default_factory=dict)  # path -> YAML text
    probes: Sequence[ProbeResult] = ()
    waypoints: Sequence[WaypointPlan] = ()


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


CommandRunner = Callable[[Sequence[str], float], CommandResult]


def run_command(argv: Sequence[str], timeout: float) -> CommandResult:
    """Run argv (no shell) with a timeout; output decoded with replacement."""
    proc = subprocess.run(
        list(argv),
        capture_output=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return CommandResult(
        proc.returncode,
        proc.stdout.decode("utf-8", errors="replace"),
        proc.stderr.decode("utf-8", errors="replace"),
    )


# --- size caps -------------------------------------------------------------------------------


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return s or "section"


def cap(text: str, limit: int, keep: Keep = "head") -> tuple[str, bool]:
    """`text` cut to at most `limit` UTF-8 bytes (marker included), and whether it was cut."""
    data = text.encode()
    if len(data) <= limit:
        return text, False
    marker_len = len(f"\n[... truncated {len(data)} bytes ...]\n".encode())
    room = max(0, limit - marker_len)
    dropped = len(data) - room
    marker = f"\n[... truncated {dropped} bytes ...]\n"
    if keep == "tail":
        body = data[len(data) - room :].decode("utf-8", errors="ignore")
        out = marker.lstrip("\n") + body
    else:
        body = data[:room].decode("utf-8", errors="ignore")
        out = body + marker
    encoded = out.encode()
    if len(encoded) > limit:  # only when the limit is smaller than the marker itself
        out = encoded[:limit].decode("utf-8", errors="ignore")
    return out, True


# --- formatting -------------------------------------------------------------------------------


def format_probes(probes: Sequence[ProbeResult]) -> str:
    if not probes:
        return "(no probe results)"
    lines: list[str] = []
    for p in probes:
        lines.append(f"{p.verdict.upper()}  {p.client} -> {p.method} {p.url}")
        lines.append(f"  expected: {describe_expect(p.expect)}")
        if p.headers:
            lines.append(f"  headers: {p.headers}")
        lines.append(f"  attempts: {p.attempts}")
        if p.split_counts:
            lines.append(f"  split counts: {p.split_counts}")
        if p.message:
            lines += ["  " + m for m in p.message.splitlines()]
        for o in p.observations:
            extra = f" served_by={o.served_by}" if o.served_by else ""
            detail = f" detail={o.detail}" if o.detail else ""
            lines.append(
                f"  observed: {o.describe()} l7={str(o.l7).lower()} "
                f"{o.elapsed_ms:.0f}ms{extra}{detail}"
            )
    return "\n".join(lines)


def format_manifests(manifests: Mapping[str, str]) -> str:
    if not manifests:
        return "(the step applied no manifests)"
    return "\n".join(f"# --- {path}\n{text.rstrip()}\n" for path, text in manifests.items())


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


# --- collectors ------------------------------------------------------------------------------


class _Collector:
    """Runs the collectors against one cluster for one failed step."""

    def __init__(
        self,
        kube: Kube,
        req: Request,
        limits: Limits,
        istioctl: Path | None,
        runner: CommandRunner,
    ) -> None:
        self.kube = kube
        self.req = req
        self.limits = limits
        self.istioctl = istioctl
        self.runner = runner
        self._pods: dict[str, list[dict[str, Any]]] = {}

    def pods(self, namespace: str) -> list[dict[str, Any]]:
        if namespace not in self._pods:
            self._pods[namespace] = self.kube.pods(namespace)
        return self._pods[namespace]

    def pod_log_text(self, pod: Mapping[str, Any]) -> str:
        """All containers of one pod (and the previous run of restarted ones)."""
        meta = pod.get("metadata") or {}
        ns, name = str(meta.get("namespace")), str(meta.get("name"))
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        restarts = {
            c.get("name"): int(c.get("restartCount") or 0)
            for key in ("containerStatuses", "initContainerStatuses")
            for c in status.get(key) or []
        }
        parts: list[str] = []
        # Native sidecars are init containers with restartPolicy Always: Istio injects
        # istio-proxy that way on recent Kubernetes, and its access log is where a sidecar
        # scenario's L7 decision shows. One-shot init containers (istio-init) are skipped.
        init = spec.get("initContainers") or []
        sidecars = [c for c in init if c.get("restartPolicy") == "Always"]
        containers = [str(c.get("name")) for c in [*(spec.get("containers") or []), *sidecars]]
        for c in containers:
            head = (
                f"== {ns}/{name} container {c} (node {spec.get('nodeName', '?')}, phase "
                f"{status.get('phase', '?')}, restarts {restarts.get(c, 0)})"
            )
            runs = [False, True] if restarts.get(c, 0) > 0 else [False]
            for previous in runs:
                label = " [previous run]" if previous else ""
                try:
                    # tailLines only: the API's limitBytes keeps the *start* of the window,
                    # and the end of a log is what explains a failure (capped locally).
                    text = self.kube.pod_logs(
                        ns, name, c, tail_lines=self.limits.log_tail_lines, previous=previous
                    )
                except Exception as e:  # one container's logs must not hide the others'
                    text = f"(logs unavailable: {_brief(e)})"
                if not text.strip():
                    text = why_no_logs(pod, c)
                parts.append(f"{head}{label} ==\n{text.rstrip()}\n")
        return "\n".join(parts)

    # Each collector yields (name, title, text, keep); exceptions are caught by `collect`.

    def probes(self) -> Iterator[tuple[str, str, str, Keep]]:
        yield "probes", "probe outcomes", format_probes(self.req.probes), "head"

    def manifests(self) -> Iterator[tuple[str, str, str, Keep]]:
        yield "manifests", "step manifests", format_manifests(self.req.manifests), "head"

    def authorization_policies(self) -> Iterator[tuple[str, str, str, Keep]]:
        lines: list[str] = []
        for ns in self.req.namespaces:
            pols = self.kube.list_objects("security.istio.io/v1", "AuthorizationPolicy", ns)
            if not pols:
                lines.append(f"{ns}: no AuthorizationPolicy")
            for p in pols:
                spec = p.get("spec") or {}
                where = "targetRefs" if spec.get("targetRefs") else "selector"
                lines.append(
                    f"{ns}/{_name(p)} action={spec.get('action', 'ALLOW')} via {where}: "
                    f"{format_conditions(p)}"
                )
        yield "authorization-policies", "AuthorizationPolicy status", "\n".join(lines), "head"

    def events(self) -> Iterator[tuple[str, str, str, Keep]]:
        lines: list[str] = []
        for ns in self.req.namespaces:
            evs = self.kube.events(ns)
            lines.append(f"== events in {ns} ({len(evs)}) ==")
            lines += [format_event(e) for e in evs]
        yield "events", "namespace events", "\n".join(lines), "tail"

    def ztunnel_config(self) -> Iterator[tuple[str, str, str, Keep]]:
        if self.istioctl is None:
            raise RuntimeError("istioctl is not available")
        parts: list[str] = []
        for ns in self.req.namespaces:
            argv = commands.istioctl_ztunnel_workloads(
                self.istioctl,
                workload_namespace=ns,
                kubeconfig=self.kube.kubeconfig,
                context=self.kube.context,
            )
            res = self.runner(argv, self.limits.command_timeout_s)
            shown = " ".join(argv[1:])
            text = res.stdout.rstrip()
            if res.returncode != 0:
                text += f"\n(exit status {res.returncode}) {res.stderr.strip()}"
            parts.append(f"$ istioctl {shown}\n{text}\n")
        yield "ztunnel-config", "istioctl ztunnel-config workloads", "\n".join(parts), "head"

    def waypoint_logs(self) -> Iterator[tuple[str, str, str, Keep]]:
        for w in self.req.waypoints:
            pods = self.kube.pods(w.namespace, f"{GATEWAY_NAME_LABEL}={w.name}")
            text = "\n".join(self.pod_log_text(p) for p in pods) or (
                f"no pods with label {GATEWAY_NAME_LABEL}={w.name} in {w.namespace}"
            )
            yield slug(f"waypoint-{w.namespace}-{w.name}"), f"waypoint {w.name} logs", text, "tail"

    def ztunnel_logs(self) -> Iterator[tuple[str, str, str, Keep]]:
        nodes = {
            str((p.get("spec") or {}).get("nodeName"))
            for ns in self.req.namespaces
            for p in self.pods(ns)
            if (p.get("spec") or {}).get("nodeName")
        }
        if not nodes:
            yield "ztunnel", "ztunnel logs", "no scenario pod is scheduled on a node", "head"
            return
        ztunnels = self.kube.pods(ISTIO_NAMESPACE, "app=ztunnel")
        by_node = {str((z.get("spec") or {}).get("nodeName")): z for z in ztunnels}
        for node in sorted(nodes):
            z = by_node.get(node)
            text = self.pod_log_text(z) if z else f"no ztunnel pod on node {node}"
            yield slug(f"ztunnel-{node}"), f"ztunnel logs ({node})", text, "tail"

    def pod_logs(self) -> Iterator[tuple[str, str, str, Keep]]:
        for ns in self.req.namespaces:
            for p in self.pods(ns):
                labels = (p.get("metadata") or {}).get("labels") or {}
                if GATEWAY_NAME_LABEL in labels:
                    continue  # in its waypoint section
                name = _name(p)
                yield slug(f"pod-{ns}-{name}"), f"logs {ns}/{name}", self.pod_log_text(p), "tail"


def why_no_logs(pod: Mapping[str, Any], container: str) -> str:
    """Why a container's log is empty: the API server answers 204 with no text for a pod that
    is not on a node, and an empty log for a container that has not started."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if not spec.get("nodeName"):
        why = "; ".join(failing_conditions(pod)) or f"phase {status.get('phase', '?')}"
        return f"(no logs: the pod is not scheduled on a node: {why})"
    for key in ("containerStatuses", "initContainerStatuses"):
        for c in status.get(key) or []:
            waiting = (c.get("state") or {}).get("waiting")
            if c.get("name") == container and waiting:
                reason = ": ".join(
                    str(x) for x in (waiting.get("reason"), waiting.get("message")) if x
                )
                return f"(no logs: the container has not started: {reason or 'waiting'})"
    return "(no logs: the container wrote nothing)"


def _brief(e: BaseException) -> str:
    """An error in one line, without the client's dump of response headers."""
    return (api_error_text(e) or f"{type(e).__name__}: {e}")[:500]


def collect(
    kube: Kube,
    req: Request,
    *,
    artifacts_dir: Path | None = None,
    istioctl: Path | None = None,
    limits: Limits | None = None,
    runner: CommandRunner = run_command,
) -> Diagnostics:
    """Collect every section (see the module docstring); never raises for a collector."""
    lim = limits or Limits()
    c = _Collector(kube, req, lim, istioctl, runner)
    collectors: list[tuple[str, str, Callable[[], Iterator[tuple[str, str, str, Keep]]]]] = [
        ("probes", "probe outcomes", c.probes),
        ("manifests", "step manifests", c.manifests),
        ("authorization-policies", "AuthorizationPolicy status", c.authorization_policies),
        ("events", "namespace events", c.events),
        ("ztunnel-config", "istioctl ztunnel-config workloads", c.ztunnel_config),
        ("waypoints", "waypoint logs", c.waypoint_logs),
        ("ztunnel", "ztunnel logs", c.ztunnel_logs),
        ("pods", "pod logs", c.pod_logs),
    ]
    diag = Diagnostics(req.scenario, req.step)
    budget = lim.total_bytes
    for name, title, fn in collectors:
        error: str | None = None
        try:
            produced = list(fn())
        except Exception as e:  # independence: record it in this section and go on
            error = _brief(e)
            produced = [(name, title, f"collector {name} failed: {error}", "head")]
        for sec_name, sec_title, text, keep in produced:
            capped, cut = cap(text, lim.per_item_bytes, keep)
            if len(capped.encode()) > budget:
                cut = True
                capped = cap(capped, budget, keep)[0] if budget > _MIN_USEFUL else ""
                if not capped:
                    # The marker of an omitted section is the only text past the budget.
                    capped = f"[omitted: total budget of {lim.total_bytes} bytes used up]"
            budget = max(0, budget - len(capped.encode()))
            diag.sections.append(Section(sec_name, sec_title, capped, cut, error))
    if artifacts_dir is not None:
        write(diag, artifacts_dir)
    return diag


def write(diag: Diagnostics, artifacts_dir: Path) -> None:
    """`<artifacts>/<scenario>/<step>/<section>.txt`; a write failure is recorded, not raised."""
    target = artifacts_dir / slug(diag.scenario) / slug(diag.step)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for s in diag.sections:
            (target / f"{s.name}.txt").write_text(s.text + "\n", encoding="utf-8")
        diag.directory = target
    except OSError as e:
        diag.write_error = f"could not write diagnostics to {target}: {e}"
