"""Model findings: each probe's observation against the mesh model's prediction
(docs/mental-model.md §8), cyclonus's shape: the model predicts, probes observe, a mismatch
is reported as a finding of its own, beside pass/fail, never changing it.

What "disagree" means, field by field (the judge's own comparison, `harness.judge.match`, with
the prediction in the place of the expectation):

- the newest observation is compared (for a passed probe, the state its streak confirmed;
  for a failed one, what Istio did at the end of the budget) on every field the model
  predicts: the outcome word (a predicted `status N` is the status), `served_by`, `l7`, the
  response and backend headers routes set, `attempts`; a predicted split over several
  versions means "a 2xx from a version with a positive weight" for one observation;
- a split probe's samples are judged against the predicted weights (a single `served_by` is
  a 100 % split) by the judge's `SplitCheck.evaluate` on the final counts, at the probe's
  tolerance: a finding when the counts cross its failure bound, or a sample came from a
  backend the model gives no weight, or was not a 2xx. If Istio follows the predicted weights,
  that happens with probability <= alpha (0.1 %) whenever sampling stopped (Ville's
  inequality). The samples were sized for the declared weights, so no detection rate is
  promised; the other predicted fields are checked on each kept sample;
- an uncertain prediction (CUSTOM authorizer, a fault on part of the requests) claims
  nothing: `uncertain`, no finding; a probe without an observation (not run because a step
  failed, or it could not run) is `unobserved`, no finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.judge.match import mismatch
from harness.judge.split import SplitCheck
from harness.model.outcome import Kind
from harness.model.results import ModelCheck, PredictedOutcome, ProbeResult
from harness.model.scenario import Expect, Probe, Scenario
from harness.predict import predict_scenario, probe_disagreements
from harness.report.words import describe_split

_OUTCOME_WORDS = ("allowed", "denied-l4", "denied-l7", "unreachable")


@dataclass(frozen=True)
class ProbePrediction:
    predicted: PredictedOutcome
    # The scenario's expectation says what the model says (what lint checks): when such a
    # probe fails, Istio did something neither the scenario nor the model expected.
    expectation_agrees: bool
    model_gap: str | None


def scenario_predictions(s: Scenario) -> dict[tuple[int, int], ProbePrediction]:
    """(step index, probe index) -> the prediction, for every probe of `s` (pure, offline)."""
    return {
        (item.step_index, item.probe_index): ProbePrediction(
            item.prediction.record(), not probe_disagreements(item), item.probe.model_gap
        )
        for item in predict_scenario(s)
    }


def as_expectation(p: PredictedOutcome, tolerance: float = 5.0) -> Expect:
    """The prediction in the judge's terms: what `mismatch` compares an observation with."""
    return Expect(
        outcome=p.outcome if p.outcome in _OUTCOME_WORDS else None,  # type: ignore[arg-type]
        status=p.status if p.outcome == "status" else None,
        served_by=None if p.split else p.served_by,
        split=dict(p.split) if p.split else None,
        tolerance=tolerance,
        l7=p.l7,
        headers=dict(p.headers) or None,
        backend_saw=dict(p.backend_saw) or None,
        attempts=p.attempts,
    )


def _predicted_words(reasons: str) -> list[str]:
    # The judge words a mismatch "expected X, saw Y"; against the model, X is predicted.
    return [
        "predicted " + r.removeprefix("expected ") if r.startswith("expected ") else r
        for r in reasons.split("; ")
    ]


def _split_parts(counts: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    # The checker records backends (echo's x-served-by, `<service>-<version>`: no space) and
    # the other samples by their description (`status 503`, `denied-l4 (reset)`) together.
    backends = {k: v for k, v in counts.items() if " " not in k}
    others = {k: v for k, v in counts.items() if " " in k}
    return backends, others


def _split_differences(
    result: ProbeResult, p: PredictedOutcome, tolerance: float, counts: Mapping[str, int]
) -> list[str]:
    total = sum(counts.values())
    backends, others = _split_parts(counts)
    seen = describe_split(counts)
    weights = dict(p.split) if p.split else ({p.served_by: 100.0} if p.served_by else {})
    out: list[str] = []
    if p.outcome != "allowed" or not weights:
        served = sum(backends.values())
        if served:
            out.append(f"predicted {p.describe()}, saw {served} of {total} samples served ({seen})")
    else:
        check = SplitCheck(weights, tolerance / 100.0)
        resolved: dict[str, int] = {}
        for name, n in backends.items():
            key = check.resolve(name)
            resolved[key] = resolved.get(key, 0) + n
        decision = check.evaluate(resolved, total, others)
        if decision.verdict == "fail":
            split = " / ".join(f"{k} {v:g}" for k, v in weights.items())
            out.append(f"predicted split {split} ±{tolerance:g}, saw {seen}: {decision.reason}")
    rest = as_expectation(p).model_copy(update={"split": None, "served_by": None})
    wrong = [w for w in (mismatch(o, rest) for o in result.observations) if w is not None]
    if wrong:
        kept = len(result.observations)
        first = _predicted_words(wrong[0])
        out += [f"{len(wrong)} of the {kept} kept samples: {first[0]}", *first[1:]]
    return out


def model_check(result: ProbeResult, probe: Probe, pp: ProbePrediction) -> ModelCheck:
    """The observation in `result` against the prediction: a finding when they disagree."""
    p = pp.predicted
    if p.uncertain:
        return ModelCheck("uncertain", model_gap=pp.model_gap)
    counts = result.split_counts
    if counts and sum(counts.values()):
        differences = _split_differences(result, p, probe.expect.tolerance, counts)
        observed = describe_split(counts)
    elif result.observations and result.observations[-1].kind is not Kind.ERROR:
        # (an agent's own error is no mesh decision: nothing of Istio was observed)
        newest = result.observations[-1]
        tolerance = probe.expect.tolerance
        reasons = mismatch(newest, as_expectation(p, tolerance))
        differences = _predicted_words(reasons) if reasons else []
        observed = newest.describe()
    else:
        return ModelCheck("unobserved", model_gap=pp.model_gap)
    if not differences:
        return ModelCheck("agrees", model_gap=pp.model_gap)
    finding = (
        f"model: predicted {p.describe()} at {p.enforced_by} ({p.because}), observed {observed}"
    )
    if pp.model_gap is not None:
        finding += f"; the scenario acknowledges this gap: {pp.model_gap}"
    elif pp.expectation_agrees and result.verdict == "fail":
        finding += "; neither the scenario nor the model expected this"
    return ModelCheck("disagrees", finding, differences, pp.model_gap)


def with_model(result: ProbeResult, probe: Probe, pp: ProbePrediction | None) -> ProbeResult:
    """`result` carrying the prediction and the model's check (unchanged without one)."""
    if pp is not None:
        result.predicted = pp.predicted
        result.model = model_check(result, probe, pp)
    return result
