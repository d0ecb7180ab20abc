"""Sidecar/ambient pairs: the same policy on both data planes, probe by probe.

`pair_scenarios` finds the twins, `comparison_rows` lines their probes up, `comparison_cell`
says what one side saw and who enforced it; Markdown, HTML and the demo render these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from harness.judge.enforcement import NOT_APPLICABLE, enforcement_point
from harness.model.describe import describe_expect
from harness.model.results import ProbeResult, ScenarioResult
from harness.report.words import SYMBOL, describe_observed, describe_target

COMPARISON_HEADER: Final = (
    "Step",
    "Client → destination",
    "Sidecar",
    "Enforced by",
    "Ambient",
    "Enforced by",
)


@dataclass(frozen=True)
class Pair:
    """`sidecar-X` and `ambient-X`: the same policy on both data planes."""

    topic: str
    sidecar: ScenarioResult
    ambient: ScenarioResult


@dataclass(frozen=True)
class ComparisonRow:
    step: str
    target: str
    sidecar: ProbeResult | None
    ambient: ProbeResult | None


def pair_scenarios(scenarios: Sequence[ScenarioResult]) -> list[Pair]:
    """Pairs by name, in the order the sidecar scenarios appear."""
    ambient = {
        s.name.removeprefix("ambient-"): s for s in scenarios if s.name.startswith("ambient-")
    }
    pairs = []
    for s in scenarios:
        topic = s.name.removeprefix("sidecar-")
        if s.name.startswith("sidecar-") and topic in ambient:
            pairs.append(Pair(topic, s, ambient[topic]))
    return pairs


def _probe_key(p: ProbeResult) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    return (p.client, p.method, p.url, tuple(sorted(p.headers.items())))


def _match_probes(
    step: str, left: list[ProbeResult], right: list[ProbeResult]
) -> list[ComparisonRow]:
    rows: list[ComparisonRow] = []
    remaining = list(right)
    for p in left:
        match = next((q for q in remaining if _probe_key(q) == _probe_key(p)), None)
        if match is not None:
            remaining.remove(match)
        rows.append(ComparisonRow(step, describe_target(p), p, match))
    rows += [ComparisonRow(step, describe_target(q), None, q) for q in remaining]
    return rows


def comparison_rows(pair: Pair) -> list[ComparisonRow]:
    """Steps of the same name side by side, probes matched by client and request.

    When the two scenarios share no step name, their last probing steps are compared.
    """
    ambient_steps = {st.name: st for st in pair.ambient.steps}
    rows: list[ComparisonRow] = []
    for st in pair.sidecar.steps:
        if st.name in ambient_steps:
            rows += _match_probes(st.name, st.probes, ambient_steps[st.name].probes)
    if rows:
        return rows
    left = [st for st in pair.sidecar.steps if st.probes]
    right = [st for st in pair.ambient.steps if st.probes]
    if not (left and right):
        return []
    name = (
        left[-1].name if left[-1].name == right[-1].name else f"{left[-1].name} / {right[-1].name}"
    )
    return _match_probes(name, left[-1].probes, right[-1].probes)


@dataclass(frozen=True)
class Cell:
    """One side of a comparison row: what was seen, who decided, and a miss if it failed."""

    observed: str
    enforced_by: str
    miss: str = ""  # "✘ expected denied-l7" when the probe did not pass

    @property
    def text(self) -> str:
        return f"{self.observed} {self.miss}" if self.miss else self.observed


def comparison_cell(p: ProbeResult | None, dataplane: str) -> Cell:
    if p is None:
        return Cell(NOT_APPLICABLE, NOT_APPLICABLE)
    miss = (
        "" if p.verdict == "pass" else f"{SYMBOL[p.verdict]} expected {describe_expect(p.expect)}"
    )
    return Cell(describe_observed(p), enforcement_point(dataplane, p, p.waypoint), miss)
