"""harness.judge.match: matching one outcome against an expectation."""

from __future__ import annotations

import pytest
from outcomes import (
    AGENT_ERROR,
    ALLOWED,
    ALLOWED_V2,
    DNS,
    EOF_,
    FAULT,
    RBAC,
    REFUSED,
    RESET,
    TIMEOUT,
    ex,
)

from harness.judge.match import mismatch
from harness.model.outcome import Outcome
from harness.model.scenario import Expect

# -- mismatch: the outcome vocabulary --------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "word"),
    [
        (ALLOWED, "allowed"),
        (Outcome(status=204), "allowed"),
        (RESET, "denied-l4"),
        (EOF_, "denied-l4"),
        (RBAC, "denied-l7"),
        (REFUSED, "unreachable"),
        (TIMEOUT, "unreachable"),
        (DNS, "unreachable"),
    ],
)
def test_each_word_matches_its_signal_and_no_other(outcome: Outcome, word: str) -> None:
    assert mismatch(outcome, ex(outcome=word)) is None
    for other in ("allowed", "denied-l4", "denied-l7", "unreachable"):
        if other != word:
            reason = mismatch(outcome, ex(outcome=other))
            assert reason == f"expected {other}, saw {outcome.describe()}"


def test_non_2xx_statuses_and_agent_errors_match_no_word() -> None:
    for outcome in (
        FAULT,
        Outcome(status=503),
        Outcome(status=403, body_excerpt="nope"),
        AGENT_ERROR,
    ):
        for word in ("allowed", "denied-l4", "denied-l7", "unreachable"):
            assert mismatch(outcome, ex(outcome=word)) is not None


def test_shorthand_string_expectation() -> None:
    assert mismatch(RESET, Expect.model_validate("denied-l4")) is None


def test_status_is_exact_and_never_matches_the_agents_own_502() -> None:
    assert mismatch(FAULT, ex(status=418)) is None
    assert (
        mismatch(FAULT, ex(status=403))
        == "expected status 403, saw status 418 (fault filter abort)"
    )
    assert mismatch(Outcome(status=502), ex(status=502)) is None  # an upstream's own 502
    assert mismatch(RESET, ex(status=502)) == "expected status 502, saw denied-l4 (reset)"
    assert mismatch(Outcome(status=200), ex(outcome="allowed", status=200)) is None
    assert mismatch(Outcome(status=201), ex(outcome="allowed", status=200)) is not None


def test_served_by_version_or_full_name() -> None:
    assert mismatch(ALLOWED_V2, ex(served_by="v2")) is None
    assert mismatch(ALLOWED_V2, ex(served_by="reviews-v2")) is None
    assert mismatch(ALLOWED, ex(served_by="v2")) == "expected served_by v2, saw reviews-v1"
    assert mismatch(Outcome(status=200), ex(served_by="v2")) == (
        "expected served_by v2, saw no x-served-by"
    )
    # Suffix match needs the dash: v2 does not match reviews-xv2.
    assert mismatch(Outcome(status=200, served_by="reviews-xv2"), ex(served_by="v2")) is not None


def test_l7_both_ways() -> None:
    with_envoy = Outcome(status=200, l7=True)
    assert mismatch(with_envoy, ex(l7=True)) is None
    assert mismatch(ALLOWED, ex(l7=False)) is None
    assert mismatch(ALLOWED, ex(l7=True)) == "expected l7 true, saw l7 false"
    assert mismatch(with_envoy, ex(l7=False)) == "expected l7 false, saw l7 true"


def test_response_headers_case_insensitive_names_exact_values() -> None:
    o = Outcome(status=200, headers={"x-route": "canary"})
    assert mismatch(o, ex(headers={"X-Route": "canary"})) is None
    assert mismatch(o, ex(headers={"x-route": "Canary"})) == (
        "expected response header x-route: Canary, saw 'canary'"
    )
    assert mismatch(o, ex(headers={"x-other": "1"})) == (
        "expected response header x-other: 1, it was absent"
    )
    # Outcome headers given with upper-case names still match.
    assert (
        mismatch(Outcome(status=200, headers={"X-Route": "a"}), ex(headers={"x-route": "a"}))
        is None
    )


def test_backend_saw_case_insensitive_names() -> None:
    o = Outcome(status=200, backend_headers={"x-forwarded-client-cert": "By=spiffe://x"})
    assert mismatch(o, ex(backend_saw={"X-Forwarded-Client-Cert": "By=spiffe://x"})) is None
    reason = mismatch(o, ex(backend_saw={"x-added": "yes"}))
    assert reason == "expected backend to see x-added: yes, it was absent"


def test_attempts() -> None:
    assert mismatch(Outcome(status=200, attempt=3), ex(attempts=3)) is None
    assert mismatch(Outcome(status=200, attempt=1), ex(attempts=3)) == "expected attempts 3, saw 1"
    assert mismatch(ALLOWED, ex(attempts=2)) == "expected attempts 2, saw no attempt count"


def test_split_per_observation_means_2xx_from_a_positive_weight_backend() -> None:
    e = ex(split={"v1": 90, "v2": 10, "v3": 0})
    assert mismatch(ALLOWED_V2, e) is None
    assert mismatch(Outcome(status=200, served_by="reviews-v3"), e) is not None
    assert mismatch(RBAC, e) == "expected allowed (split), saw denied-l7 (403 RBAC: access denied)"


def test_every_field_must_hold_and_all_reasons_are_listed() -> None:
    e = ex(outcome="allowed", served_by="v2", l7=True)
    assert mismatch(Outcome(status=200, served_by="reviews-v2", l7=True), e) is None
    reason = mismatch(ALLOWED, e)
    assert reason == "expected served_by v2, saw reviews-v1; expected l7 true, saw l7 false"
