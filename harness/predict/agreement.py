"""Expectation against prediction: where a scenario says something the model does not.

`disagreements` lists, in words, every field of an `Expect` the prediction contradicts;
`contradictions` does it for a whole scenario at each probe's file:line (for lint). An
uncertain prediction (CUSTOM authorizer, a fault on part of the requests) contradicts nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from harness.model.files import SCENARIO_FILE
from harness.model.scenario import Expect, Probe, Scenario, Step
from harness.model.source import Document, Problem, load_documents
from harness.predict.path import predict_probe
from harness.predict.prediction import ALLOWED, STATUS, Prediction
from harness.predict.world import Manifests, worlds


@dataclass(frozen=True)
class Predicted:
    step_index: int
    step: Step
    probe_index: int
    probe: Probe
    prediction: Prediction


def predict_scenario(s: Scenario, manifests: Manifests | None = None) -> Iterator[Predicted]:
    """Every probe of every step, predicted on the world as it is at that step. `manifests`:
    the scenario's manifests already parsed (lint), by normalised relative path."""
    for i, (step, world) in enumerate(worlds(s, manifests)):
        for j, probe in enumerate(step.probes):
            yield Predicted(i, step, j, probe, predict_probe(world, probe))


def _served(expected: str, actual: str) -> bool:
    return actual == expected or actual.endswith(f"-{expected}")


def _distribution(p: Prediction) -> dict[str, float]:
    if p.split:
        return dict(p.split)
    if p.served_by:
        return {p.served_by.rsplit("-", 1)[-1]: 100.0}
    return {}


def disagreements(expect: Expect, p: Prediction, probe: Probe, *, gate: bool = False) -> list[str]:
    """What in `expect` the prediction contradicts. A gate only needs to be possible: a
    version in the split may answer it."""
    if p.uncertain:
        return []
    out: list[str] = []
    said = p.describe  # worded only when a message needs it (most probes agree)
    if expect.outcome is not None and expect.outcome != p.outcome:
        out.append(f"expects {expect.outcome}, the model predicts {said()}")
    if expect.status is not None and (
        p.outcome not in (ALLOWED, STATUS) or p.status != expect.status
    ):
        out.append(f"expects status {expect.status}, the model predicts {said()}")
    if expect.served_by is not None:
        if gate and p.split:
            if not any(_served(expect.served_by, v) for v in p.split):
                out.append(
                    f"gates on served_by {expect.served_by}, which no route can reach ({said()})"
                )
        elif p.served_by is None or not _served(expect.served_by, p.served_by):
            out.append(f"expects served_by {expect.served_by}, the model predicts {said()}")
    if expect.split is not None:
        pred = _distribution(p)
        keys = set(pred) | set(expect.split)
        if any(abs(pred.get(k, 0.0) - expect.split.get(k, 0.0)) > expect.tolerance for k in keys):
            out.append(f"expects split {expect.split}, the model predicts {pred or said()}")
    if expect.l7 is not None and p.l7 != expect.l7:
        out.append(f"expects l7 {str(expect.l7).lower()}, the model predicts {said()}")
    for name, value in (expect.headers or {}).items():
        if p.headers.get(name.lower()) != value:
            out.append(f"expects response header {name}: {value}, the model predicts {said()}")
    if expect.backend_saw:
        seen = {k.lower(): v for k, v in probe.headers.items()} if p.l7 is not None else {}
        seen.update(p.backend_saw)
        for name, value in expect.backend_saw.items():
            if seen.get(name.lower()) != value:
                out.append(
                    f"expects the backend to see {name}: {value}, the model predicts {said()}"
                )
    if expect.attempts is not None and p.attempts != expect.attempts:
        out.append(
            f"expects attempts {expect.attempts}, the model predicts {p.attempts or 'none counted'}"
        )
    return out


def probe_disagreements(item: Predicted) -> list[str]:
    out = disagreements(item.probe.expect, item.prediction, item.probe)
    if item.probe.gate is not None:
        out += [
            f"gate: {m}"
            for m in disagreements(item.probe.gate, item.prediction, item.probe, gate=True)
        ]
    return out


def contradictions(
    s: Scenario, doc: Document | None = None, predicted: Iterable[Predicted] | None = None
) -> list[Problem]:
    """Every expectation of `s` the model contradicts, at the probe's expect (file:line),
    each message ending with the model's reason. `doc`: the scenario file's document when the
    caller has parsed it already (lint), so the file is not parsed again; `predicted`: the
    scenario's predictions when the caller has them (lint predicts a scenario once)."""
    file = s.directory / SCENARIO_FILE
    docs = [doc] if doc is not None else (load_documents(file) if file.is_file() else [])
    out = []
    for item in predict_scenario(s) if predicted is None else predicted:
        if item.probe.model_gap is not None:
            continue  # acknowledged: the scenario says why it expects otherwise
        for message in probe_disagreements(item):
            loc: list[str | int] = ["steps", item.step_index, "probes", item.probe_index, "expect"]
            line = docs[0].line_of(loc) if docs else 1
            where = f"steps[{item.step_index}].probes[{item.probe_index}].expect"
            because = item.prediction.because
            out.append(
                Problem(
                    file, line, f"{where}: {message} ({item.prediction.enforced_by}: {because})"
                )
            )
    return out
