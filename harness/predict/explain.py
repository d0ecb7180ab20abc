"""`ambient-harness explain`: each probe's predicted path, the deciding object and rule, and
the predicted outcome beside the declared expectation — a slide of the talk, generated."""

from __future__ import annotations

import json
from typing import Any

from harness.model.describe import describe_expect, probe_summary
from harness.model.scenario import Scenario
from harness.predict.agreement import Predicted, predict_scenario, probe_disagreements

ARROW = " → "


def explain_dict(s: Scenario) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"name": st.name, "probes": []} for st in s.steps]
    for item in predict_scenario(s):
        entry = probe_summary(item.probe)
        entry["predicted"] = item.prediction.as_dict()
        problems = probe_disagreements(item)
        entry["agrees"] = not problems
        if problems:
            entry["disagreements"] = problems
        steps[item.step_index]["probes"].append(entry)
    return {"scenario": s.name, "dataplane": s.dataplane, "steps": steps}


def explain_json(s: Scenario) -> str:
    return json.dumps(explain_dict(s), indent=2, ensure_ascii=False)


def _probe_lines(item: Predicted) -> list[str]:
    p, pr = item.probe, item.prediction
    hdrs = "".join(f" -H '{k}: {v}'" for k, v in p.headers.items())
    lines = [f"  {p.from_} -> {p.method} {p.url}{hdrs}"]
    lines.append(f"    path       {ARROW.join(pr.path)}")
    lines.append(f"    decided by {pr.enforced_by}: {pr.because}")
    lines.append(f"    predicted  {pr.describe()}")
    problems = probe_disagreements(item)
    verdict = "agrees" if not problems else "DISAGREES"
    lines.append(f"    expected   {describe_expect(p.expect)}  [{verdict}]")
    if p.gate is not None:
        lines.append(f"    gated on   {describe_expect(p.gate)}")
    lines += [f"      ! {m}" for m in problems]
    return lines


def explain_text(s: Scenario) -> str:
    lines = [f"{s.name} — {s.title}", f"data plane: {s.dataplane}"]
    current = -1
    for item in predict_scenario(s):
        while current < item.step_index:
            current += 1
            st = s.steps[current]
            lines += ["", f"step {current + 1}: {st.name} — {st.title}"]
            lines += [f"  apply  {rel}" for rel in st.apply]
            lines += [f"  delete {rel}" for rel in st.delete]
        lines += _probe_lines(item)
    for i in range(current + 1, len(s.steps)):
        st = s.steps[i]
        lines += ["", f"step {i + 1}: {st.name} — {st.title}", "  (no probes)"]
    return "\n".join(lines)
