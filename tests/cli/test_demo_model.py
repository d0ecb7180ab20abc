"""The demo shows, per probe, what the mesh model predicted when the observation disagrees
(a model finding), briefly: the talk's point is the mental model."""

from __future__ import annotations

import copy

import pytest
from demo_layout import (
    HEIGHT,
    broken_words,
    catalogue_rendering,
    console,
    narrate_live,
    screens,
    vocabulary,
)
from fixtures import catalogue_run

from harness.cli.demo_observer import DemoObserver
from harness.cli.replay import replay
from harness.model.results import ModelCheck, PredictedOutcome, RunResult
from harness.report.document import load_json_report


def with_a_finding() -> tuple[RunResult, str]:
    """The recorded run, where the model predicted a reset for the reviews probe of
    ambient-authz-l4's policy step but ratings answered (a finding; the probe still passed)."""
    run = copy.deepcopy(load_json_report(catalogue_run.FIXTURE))
    sc = next(s for s in run.scenarios if s.name == "ambient-authz-l4")
    probe = sc.steps[1].probes[1]
    probe.predicted = PredictedOutcome("allowed", enforced_by="destination ztunnel", l7=False)
    probe.model = ModelCheck(
        "disagrees",
        finding="model: predicted allowed at destination ztunnel, observed denied-l4 (reset)",
        differences=["outcome: predicted allowed, observed denied-l4"],
    )
    return run, "≠ model: allowed (200), l7 false at destination ztunnel"


def test_a_model_finding_is_on_the_probes_row() -> None:
    run, note = with_a_finding()
    out = console(100)
    replay(run, DemoObserver(out, height=HEIGHT))
    text = out.export_text()
    # In the observed column, under the observation.
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if "≠ model: allowed (200), l7 false at" in line)
    assert "denied-l4 (reset)" in lines[row - 1] and "destination ztunnel" in lines[row + 1]
    assert note.startswith("≠ model: allowed (200), l7 false at")
    assert text.count("≠ model:") == 2  # the row, and the caption saying what it means
    assert "≠ model: the mesh model's prediction (a finding, no verdict changed)" in text
    # The tally counts it, and the closing summary spells it out.
    assert "1 model finding (no verdict changed)" in text
    assert "model: predicted allowed at destination ztunnel, observed denied-l4" in text


def test_no_model_line_where_the_model_agrees() -> None:
    text = catalogue_rendering("replay", 100)
    assert "≠ model" not in text and "model finding" not in text


@pytest.mark.parametrize("width", [80, 100])
def test_a_finding_keeps_the_screens_on_the_projector(width: int) -> None:
    run, note = with_a_finding()
    out = console(width)
    narrate_live(run, DemoObserver(out, height=HEIGHT))
    text = out.export_text()
    assert [len(s) for s in screens(text) if len(s) > HEIGHT] == []
    assert max(len(line) for line in text.splitlines()) <= width
    words = vocabulary(run) | set(note.split())
    assert broken_words(text.splitlines(), words) == []
    assert "≠ model: allowed" in text
