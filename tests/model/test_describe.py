"""harness.model.describe: the one wording of an expectation."""

from __future__ import annotations

from typing import Any

from harness.model.describe import describe_expect
from harness.model.scenario import Expect


def ex(**kw: Any) -> Expect:
    return Expect.model_validate(kw)


def test_describe_expect_uses_the_scenarios_words() -> None:
    assert describe_expect(ex(outcome="denied-l4")) == "denied-l4"
    assert describe_expect(ex(status=418)) == "status 418"
    assert describe_expect(ex(served_by="v2")) == "served_by v2"
    assert describe_expect(ex(outcome="allowed", l7=True)) == "allowed, l7 true"
    assert describe_expect(ex(split={"v1": 90, "v2": 10})) == "split v1 90 / v2 10 ±5"
    assert (
        describe_expect(ex(headers={"x-a": "1"}, backend_saw={"x-b": "2"}, attempts=3))
        == "header x-a: 1, backend saw x-b: 2, attempts 3"
    )
