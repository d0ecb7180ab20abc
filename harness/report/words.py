"""The words every rendering of a report shares: targets, observations, times, environment.

The wording of an expectation is not here: it is `harness.model.describe` (one wording for
plan, reports, demo and failure messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from harness.judge.enforcement import NOT_APPLICABLE
from harness.model.results import Environment, ProbeResult, RunResult, ScenarioResult, Verdict

VERDICTS: Final[tuple[Verdict, ...]] = ("pass", "fail", "skipped", "error")
SYMBOL: Final[dict[str, str]] = {"pass": "✔", "fail": "✘", "skipped": "○", "error": "!"}
MATRIX_HEADER: Final = (
    "Scenario",
    "Data plane",
    "Verdict",
    "Steps passed",
    "Time to consistency (max)",
    "Duration",
)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_split(counts: Mapping[str, int]) -> str:
    """`{"reviews-v1": 180, "reviews-v2": 20}` -> `v1 90% / v2 10% (n=200)`."""
    total = sum(counts.values())
    if total == 0:
        return "no samples"
    prefixes = {name.rsplit("-", 1)[0] for name in counts if "-" in name}
    strip = len(prefixes) == 1 and all("-" in name for name in counts)

    def label(name: str) -> str:
        return name.rsplit("-", 1)[1] if strip else name

    shares = " / ".join(f"{label(k)} {100 * v / total:.0f}%" for k, v in sorted(counts.items()))
    return f"{shares} (n={total})"


def describe_observed(p: ProbeResult) -> str:
    """What was seen last, in the outcome vocabulary; a split shows its distribution."""
    if p.split_counts:
        return describe_split(p.split_counts)
    if not p.observations:
        return NOT_APPLICABLE
    obs = p.observations[-1]
    text = obs.describe()
    if p.expect.l7 is not None and obs.probe_error is None:
        text += ", L7" if obs.l7 else ", L4 only"
    if p.expect.attempts is not None and obs.attempt is not None:
        text += f", {obs.attempt} attempt(s)"
    return text


# Every rendering says what a model finding is, and that it changes nothing of the verdict.
MODEL_FINDINGS_NOTE: Final = (
    "where Istio did not do what the mesh model (harness/predict) predicts: a finding about "
    "the model or Istio's docs, beside pass/fail; it changes no verdict and not the exit code"
)
MODEL_MARK: Final[dict[str, str]] = {
    "agrees": "= model",
    "disagrees": "≠ model",
    "uncertain": "model uncertain",
    "unobserved": "not observed",
}


def describe_predicted(p: ProbeResult) -> str:
    """`denied-l4 at destination ztunnel`, or — when the result carries no prediction."""
    if p.predicted is None:
        return NOT_APPLICABLE
    at = f" at {p.predicted.enforced_by}" if p.predicted.enforced_by else ""
    return f"{p.predicted.describe()}{at}"


def describe_model(p: ProbeResult) -> str:
    """`= model`, `≠ model`, `model uncertain`, `not observed`, or — without a prediction."""
    return MODEL_MARK[p.model.verdict] if p.model is not None else NOT_APPLICABLE


def model_findings(run: RunResult) -> list[tuple[ScenarioResult, str, ProbeResult]]:
    """(scenario, step name, probe) of every model finding, in run order."""
    return [
        (sc, st.name, p)
        for sc in run.scenarios
        for st in sc.steps
        for p in st.probes
        if p.model_finding is not None
    ]


def describe_target(p: ProbeResult, *, headers: bool = True) -> str:
    """`productpage → ratings:9080/ratings/1 [x-test: istio-is-cool]`: the method only when it
    is not GET; the request headers, since two probes may differ only in them."""
    target = p.url.removeprefix("http://")
    method = "" if p.method == "GET" else f"{p.method} "
    sent = f" [{describe_headers(p.headers)}]" if headers and p.headers else ""
    return f"{p.client} → {method}{target}{sent}"


def describe_headers(headers: Mapping[str, str]) -> str:
    """`x-test: istio-is-cool; x-b: 1`."""
    return "; ".join(f"{k}: {v}" for k, v in headers.items())


def describe_identity(p: ProbeResult) -> str:
    """`ns/ambient-authz-l4/sa/bookinfo-productpage` (the trust domain left out), or the
    client's name when the result does not record its principal."""
    return p.identity.removeprefix("cluster.local/") if p.identity else p.client


def describe_call(p: ProbeResult) -> str:
    """`productpage → ratings:9080/ratings/1 [x-test: a] as ns/demo/sa/bookinfo-productpage`:
    the request and the identity it was sent with, in every report table (two probes may
    differ only in the identity)."""
    return f"{describe_target(p)} as {describe_identity(p)}"


def seconds(value: float | None) -> str:
    return NOT_APPLICABLE if value is None else f"{value:.1f} s"


def scenario_duration(s: ScenarioResult) -> str:
    return NOT_APPLICABLE if s.verdict == "skipped" else seconds(s.duration_s)


def _probes(s: ScenarioResult) -> list[ProbeResult]:
    return [p for st in s.steps for p in st.probes]


def max_time_to_consistency(s: ScenarioResult) -> float | None:
    values = [p.time_to_consistency_s for p in _probes(s) if p.time_to_consistency_s is not None]
    return max(values) if values else None


def steps_passed(s: ScenarioResult) -> str:
    if not s.steps:
        return NOT_APPLICABLE
    return f"{sum(st.verdict == 'pass' for st in s.steps)}/{len(s.steps)}"


def environment_line(env: Environment) -> str:
    parts = [f"provider {env.provider}"]
    for label, value in (
        ("Kubernetes", env.kubernetes_version),
        ("Istio", env.istio_version),
        ("Gateway API", env.gateway_api_version),
        ("kind", env.kind_version),
        ("node", env.node_image),
        ("context", env.context),
    ):
        if value:
            parts.append(f"{label} {value}")
    return " · ".join(parts)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
