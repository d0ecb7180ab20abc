"""`ambient-harness plan`: what a run of a scenario would do, without a cluster."""

from __future__ import annotations

import json
from typing import Any

from harness.judge.derived import derived_words
from harness.model.describe import describe_expect, probe_summary
from harness.model.scenario import Scenario
from harness.model.topology import topology


def plan_dict(s: Scenario) -> dict[str, Any]:
    """The machine-readable plan (shape documented in the README)."""
    topo = topology(s)
    return {
        "name": s.name,
        "title": s.title,
        "dataplane": s.dataplane,
        "features": list(s.features),
        "namespaces": [
            {"name": n.name, "mode": n.mode, "labels": n.labels} for n in topo.namespaces
        ],
        "clients": [
            {"name": a.client, "namespace": a.namespace, "principal": a.principal}
            for a in topo.agents
        ],
        "backends": [
            {
                "service": e.service,
                "version": e.version,
                "namespace": e.namespace,
                "service_account": e.service_account,
                "port": e.port,
            }
            for e in topo.echoes
        ],
        "waypoints": [
            {
                "name": w.name,
                "namespace": w.namespace,
                "for": w.traffic_type,
                "services": list(w.services),
                "enroll_namespace": w.enroll_namespace,
            }
            for w in topo.waypoints
        ],
        "steps": [
            {
                "name": st.name,
                "title": st.title,
                "apply": list(st.apply),
                "delete": list(st.delete),
                "probes": [probe_summary(p) for p in st.probes],
            }
            for st in s.steps
        ],
    }


def plan_json(s: Scenario) -> str:
    return json.dumps(plan_dict(s), indent=2)


def plan_text(s: Scenario) -> str:
    d = plan_dict(s)
    lines = [f"{s.name} — {s.title}", f"  data plane: {s.dataplane}", "  namespaces:"]
    for ns in d["namespaces"]:
        labels = ", ".join(f"{k}={v}" for k, v in ns["labels"].items()) or "(not enrolled)"
        lines.append(f"    {ns['name']}  [{labels}]")
    lines.append("  clients (agents):")
    lines += [f"    {c['name']}  as {c['principal']}" for c in d["clients"]]
    if d["backends"]:
        lines.append("  backends (echo):")
        lines += [
            f"    {b['service']} {b['version']}  ns {b['namespace']}, sa {b['service_account']}, "
            f"port {b['port']}"
            for b in d["backends"]
        ]
    for w in d["waypoints"]:
        users = ", ".join(w["services"]) or "-"
        ns_use = " (namespace enrolled)" if w["enroll_namespace"] else ""
        lines.append(f"  waypoint {w['name']} in {w['namespace']}, for {w['for']}: {users}{ns_use}")
    topo = topology(s)
    for i, st in enumerate(s.steps, 1):
        lines.append(f"  step {i}: {st.name} — {st.title}")
        lines += [f"    apply  {p}" for p in st.apply]
        lines += [f"    delete {p}" for p in st.delete]
        for p in st.probes:
            hdrs = "".join(f" -H '{k}: {v}'" for k, v in p.headers.items())
            hold = f", holding {p.timing.hold:g}s" if p.timing.hold else ""
            lines.append(
                f"    probe  {p.from_} -> {p.method} {p.url}{hdrs}  "
                f"expect {describe_expect(p.expect)}{hold}"
            )
            if p.gate is not None:
                lines.append(f"           gated on {describe_expect(p.gate)}")
            lines += [f"           {words}" for words in derived_words(p, topo)]
    return "\n".join(lines)
