"""harness.judge.split: the sequential split check, on seeded simulations and hand-made counts."""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest

from harness.judge.split import SplitCheck, run_split
from harness.model.outcome import Outcome, ProbeError
from harness.model.scenario import Expect


def feed(check: SplitCheck, truth: Mapping[str, float], seed: int) -> SplitCheck:
    """Sample `reviews-<version>` from `truth` with a seeded RNG until a verdict."""
    rng = random.Random(seed)
    names = [f"reviews-{k}" for k in truth]
    weights = list(truth.values())
    while check.verdict == "undecided":
        check.observe(rng.choices(names, weights)[0])
    return check


def check_9010(**kw: int) -> SplitCheck:
    return SplitCheck({"v1": 90, "v2": 10}, 0.05, **kw)


def test_truth_as_expected_passes() -> None:
    for seed in range(20):
        c = feed(check_9010(), {"v1": 0.9, "v2": 0.1}, seed)
        assert c.verdict == "pass", (seed, c.summary())
        assert not c.decided_at_cap
    # The median is the benchmark's business; here: a typical run needs far fewer than 500.
    samples = sorted(feed(check_9010(), {"v1": 0.9, "v2": 0.1}, s).samples for s in range(20))
    assert samples[10] < 300


def test_truth_50_50_fails_fast() -> None:
    for seed in range(20):
        c = feed(check_9010(), {"v1": 0.5, "v2": 0.5}, seed)
        assert c.verdict == "fail", seed
        assert c.samples < 80
        assert c.reason.startswith(f"v2 share {c.counts['v2'] / c.samples:.1%} after ")
        assert "samples is over 10% ±5pp (likelihood ratio " in c.reason


def test_truth_80_20_fails() -> None:
    verdicts = [feed(check_9010(), {"v1": 0.8, "v2": 0.2}, s).verdict for s in range(20)]
    assert verdicts == ["fail"] * 20


def test_truth_100_0_fails_on_the_under_side() -> None:
    c = check_9010()
    for _ in range(200):
        c.observe("reviews-v1")
        if c.verdict != "undecided":
            break
    assert c.verdict == "fail"
    assert c.reason.startswith(f"v2 share 0.0% after {c.samples} samples is under 10% ±5pp")
    assert c.samples < 100


def test_undecided_until_enough_samples() -> None:
    c = check_9010()
    # Exactly the expected proportions, 9:1, for 50 samples: still too few to pass.
    for i in range(50):
        c.observe("reviews-v2" if i % 10 == 9 else "reviews-v1")
    assert c.verdict == "undecided"
    assert c.samples == 50
    assert c.counts == {"v1": 45, "v2": 5}
    # ... and with enough of them it passes.
    for i in range(150):
        c.observe("reviews-v2" if i % 10 == 9 else "reviews-v1")
        if c.verdict != "undecided":
            break
    assert c.verdict == "pass"
    assert c.samples < 200


def test_zero_weight_backend_fails_on_its_first_sample() -> None:
    c = SplitCheck({"v1": 70, "v2": 30, "v3": 0}, 0.05)
    for _ in range(10):
        c.observe("reviews-v1")
    assert c.verdict == "undecided"
    c.observe("reviews-v3")
    assert c.verdict == "fail"
    assert c.samples == 11
    assert c.reason == "zero-weight backend v3 served 1 request(s)"


def test_unknown_backend_fails_on_its_first_sample() -> None:
    c = check_9010()
    c.observe("reviews-v1")
    c.observe("ratings-v1")  # resolves to v1: suffix match, like Outcome.served_by_matches
    assert c.verdict == "undecided"
    c.observe("reviews-v4")
    assert c.verdict == "fail"
    assert c.counts == {"v1": 2, "reviews-v4": 1}
    assert "unexpected backend reviews-v4" in c.reason


def test_names_resolve_exactly_then_by_longest_suffix() -> None:
    c = SplitCheck({"v2": 1, "canary-v2": 1, "reviews-v1": 2}, 0.05)
    assert c.resolve("reviews-v1") == "reviews-v1"
    assert c.resolve("reviews-canary-v2") == "canary-v2"
    assert c.resolve("reviews-v2") == "v2"
    assert c.resolve("reviews-xv2") == "reviews-xv2"


def test_percentages_and_fractions_are_normalised() -> None:
    a = SplitCheck({"v1": 90, "v2": 10}, 0.05)
    b = SplitCheck({"v1": 0.9, "v2": 0.1}, 0.05)
    c = SplitCheck({"v1": 9, "v2": 1}, 0.05)
    assert a.expected == pytest.approx({"v1": 0.9, "v2": 0.1})
    assert b.expected == pytest.approx(a.expected)
    assert c.expected == pytest.approx(a.expected)
    # Same decisions for the same samples.
    for check in (a, b, c):
        feed(check, {"v1": 0.9, "v2": 0.1}, seed=7)
    assert a.samples == b.samples == c.samples
    assert a.verdict == b.verdict == c.verdict == "pass"


def test_deterministic_for_a_seed() -> None:
    runs = [feed(check_9010(), {"v1": 0.85, "v2": 0.15}, seed=3) for _ in range(2)]
    assert runs[0].samples == runs[1].samples
    assert runs[0].counts == runs[1].counts
    assert runs[0].verdict == runs[1].verdict


def test_from_expect_uses_percent_and_points() -> None:
    e = Expect.model_validate({"split": {"v1": 80, "v2": 20}, "tolerance": 10})
    c = SplitCheck.from_expect(e, max_samples=300)
    assert c.expected == pytest.approx({"v1": 0.8, "v2": 0.2})
    assert c.tolerance == pytest.approx(0.10)
    assert c.max_samples == 300
    with pytest.raises(ValueError, match="no split"):
        SplitCheck.from_expect(Expect.model_validate("allowed"), max_samples=300)


@pytest.mark.parametrize(
    ("expected", "tolerance", "message"),
    [
        ({}, 0.05, "empty"),
        ({"v1": -1, "v2": 2}, 0.05, "negative"),
        ({"v1": 0, "v2": 0}, 0.05, "all be zero"),
        ({"v1": 90, "v2": 10}, 5, "fraction"),
    ],
)
def test_invalid_arguments(expected: dict[str, float], tolerance: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SplitCheck(expected, tolerance)


def test_single_backend_at_100_percent() -> None:
    c = SplitCheck({"v1": 100}, 0.05)
    for _ in range(100):
        c.observe("reviews-v1")
        if c.verdict != "undecided":
            break
    assert c.verdict == "pass"
    assert c.samples < 40
    c = SplitCheck({"v1": 100, "v2": 0}, 0.05)
    c.observe("reviews-v2")
    assert c.verdict == "fail"


def test_at_the_default_cap_a_share_outside_the_tolerance_has_already_failed() -> None:
    # So for 90/10 at 1000 samples "pass unless failed" never passes a share outside ±5pp.
    # (Shares near the boundary inside it can fail too: the indifference zone.)
    c = check_9010(max_samples=1000)
    verdicts = {}
    for hits in range(1001):
        decision = c.evaluate({"v1": 1000 - hits, "v2": hits}, 1000)
        verdicts[hits] = decision.verdict
        if abs(hits / 1000 - 0.1) > 0.05 + 1e-12:
            assert decision.verdict == "fail" and not decision.at_cap, hits
    assert verdicts[100] == verdicts[130] == verdicts[75] == "pass"


def test_cap_passes_what_the_evidence_cannot_reject() -> None:
    c = check_9010(max_samples=1000)
    decision = c.evaluate({"v1": 860, "v2": 140}, 1000)  # 14%: indifference zone
    assert decision.verdict == "pass" and decision.at_cap
    assert decision.reason == (
        "cap of 1000 samples reached without significant deviation; "
        "every share within the tolerance"
    )
    assert c.evaluate({"v1": 859, "v2": 140}, 999).verdict == "undecided"
    # A small cap: 16% of 200 is outside the tolerance but not significant at alpha.
    c = check_9010(max_samples=200)
    decision = c.evaluate({"v1": 168, "v2": 32}, 200)
    assert decision.verdict == "pass" and decision.at_cap
    assert "although v2 16.0% vs 10.0% is outside the tolerance" in decision.reason


def test_verdict_is_final() -> None:
    c = check_9010()
    feed(c, {"v1": 0.9, "v2": 0.1}, seed=1)
    assert c.verdict == "pass"
    c.observe("reviews-v9")
    assert c.verdict == "pass"


def test_summary() -> None:
    c = check_9010()
    for i in range(200):
        if c.verdict != "undecided":
            break
        c.observe("reviews-v2" if i % 10 == 9 else "reviews-v1")
    n = c.samples
    v2 = c.counts["v2"] / n
    assert c.summary() == (
        f"pass after {n} samples: v1 {1 - v2:.1%} (expected 90% ±5pp), "
        f"v2 {v2:.1%} (expected 10% ±5pp)"
    )
    c = check_9010()
    c.observe("reviews-v3")
    assert c.summary() == (
        "fail after 1 samples: v1 0.0% (expected 90% ±5pp), v2 0.0% (expected 10% ±5pp), "
        "reviews-v3 100.0% (unexpected) — unexpected backend reviews-v3 served 1 request(s)"
    )


def test_three_backends_round_robin_fails() -> None:
    c = feed(
        SplitCheck({"v1": 60, "v2": 30, "v3": 10}, 0.05),
        {"v1": 1 / 3, "v2": 1 / 3, "v3": 1 / 3},
        seed=5,
    )
    assert c.verdict == "fail"
    assert c.samples < 200


# -- run_split ---------------------------------------------------------------------------


def test_run_split_feeds_served_by_until_a_verdict() -> None:
    rng = random.Random(11)
    seen: list[Outcome] = []

    def sample() -> Outcome:
        return Outcome(status=200, served_by="reviews-v2" if rng.random() < 0.1 else "reviews-v1")

    c = run_split(sample, check_9010(), on_outcome=seen.append)
    assert c.verdict == "pass"
    assert len(seen) == c.samples == sum(c.counts.values())


def test_run_split_non_2xx_is_recorded_and_fails() -> None:
    seq = [Outcome(status=200, served_by="reviews-v1")] * 5 + [
        Outcome(status=503, body_excerpt="no healthy upstream")
    ]
    it = iter(seq)
    c = run_split(lambda: next(it), check_9010())
    assert c.verdict == "fail"
    assert c.samples == 6
    assert c.counts == {"v1": 5}
    assert c.others == {"status 503 (no healthy upstream)": 1}
    assert c.reason == "a sample was not served by a backend: status 503 (no healthy upstream)"
    assert "status 503 (no healthy upstream) ×1" in c.summary()


def test_run_split_a_backends_own_error_is_not_a_sample_of_it() -> None:
    # echo's /status/503 carries x-served-by: served by v1, but not "traffic reached v1 fine".
    seq = iter([Outcome(status=200, served_by="reviews-v1"), Outcome(503, served_by="reviews-v1")])
    c = run_split(lambda: next(seq), check_9010())
    assert c.verdict == "fail"
    assert c.counts == {"v1": 1}
    assert c.others == {"status 503": 1}


def test_run_split_denials_and_missing_served_by_fail() -> None:
    c = run_split(lambda: Outcome(status=502, probe_error=ProbeError.RESET), check_9010())
    assert c.verdict == "fail" and c.others == {"denied-l4 (reset)": 1}
    c = run_split(lambda: Outcome(status=200), check_9010())
    assert c.verdict == "fail" and c.others == {"2xx without x-served-by": 1}


def test_run_split_stops_at_the_cap() -> None:
    # Alternate v1 x6, v2 x1 ... (14.3% v2): in the indifference zone for 90/10 ±5.
    calls = 0

    def sample() -> Outcome:
        nonlocal calls
        calls += 1
        return Outcome(status=200, served_by="reviews-v2" if calls % 7 == 0 else "reviews-v1")

    c = run_split(sample, check_9010(max_samples=120))
    assert c.samples == calls == 120  # undecided until the cap, then not one sample more
    assert (c.verdict, c.decided_at_cap) == ("pass", True)
    assert c.reason == (
        "cap of 120 samples reached without significant deviation; every share within the tolerance"
    )
