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
from harness.report.words import SYMBOL, describe_identity, describe_observed, describe_target

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
    """A sidecar and an ambient scenario the talk sets side by side: declared by either one's
    `compare_with`, else `sidecar-X` beside `ambient-X`."""

    topic: str
    sidecar: ScenarioResult
    ambient: ScenarioResult


@dataclass(frozen=True)
class ComparisonRow:
    step: str
    target: str
    sidecar: ProbeResult | None
    ambient: ProbeResult | None

    @property
    def identity(self) -> str:
        """`as ns/a/sa/bookinfo-productpage`, or each side's when they differ (each scenario has
        its own namespaces): `as ns/a/sa/x (sidecar), ns/b/sa/x (ambient)`."""
        sides = [(p, plane) for p, plane in ((self.sidecar, "sidecar"), (self.ambient, "ambient"))]
        seen = [(describe_identity(p), plane) for p, plane in sides if p is not None]
        if len({who for who, _ in seen}) == 1:
            return f"as {seen[0][0]}"
        return "as " + ", ".join(f"{who} ({plane})" for who, plane in seen)


def _topic(sidecar: str, ambient: str) -> str:
    """What the pair is about: the shared part of the two names (`authz-l7` for
    `sidecar-authz-l7` and `ambient-authz-l7-waypoint`), whole words only."""
    left = sidecar.removeprefix("sidecar-").split("-")
    right = ambient.removeprefix("ambient-").split("-")
    common = []
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        common.append(a)
    return "-".join(common) or f"{'-'.join(left)} / {'-'.join(right)}"


def pair_scenarios(scenarios: Sequence[ScenarioResult]) -> list[Pair]:
    """Declared pairs (`compare_with`, from either side, to a scenario of the other data plane
    in this run), then name pairs for the scenarios that declare none; in the order the sidecar
    scenarios appear. A scenario may be in several pairs; a pair is listed once."""
    by_name = {s.name: s for s in scenarios}
    found: dict[tuple[str, str], tuple[ScenarioResult, ScenarioResult]] = {}
    for s in scenarios:
        partner = by_name.get(s.compare_with) if s.compare_with else None
        if partner is not None and {s.dataplane, partner.dataplane} == {"sidecar", "ambient"}:
            side, amb = (s, partner) if s.dataplane == "sidecar" else (partner, s)
            found.setdefault((side.name, amb.name), (side, amb))
    ambient = {
        s.name.removeprefix("ambient-"): s
        for s in scenarios
        if s.name.startswith("ambient-") and s.compare_with is None
    }
    for s in scenarios:
        topic = s.name.removeprefix("sidecar-")
        if s.name.startswith("sidecar-") and s.compare_with is None and topic in ambient:
            found.setdefault((s.name, ambient[topic].name), (s, ambient[topic]))
    order = {s.name: i for i, s in enumerate(scenarios)}
    pairs = sorted(found.values(), key=lambda p: (order[p[0].name], order[p[1].name]))
    return [Pair(_topic(side.name, amb.name), side, amb) for side, amb in pairs]


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
