"""`demo --replay REPORT --scenario NAME` replays only what was asked for, and the pauses'
labels are cut at a word, never inside one."""

from __future__ import annotations

import re

import pytest
from demo_layout import replayed
from fixtures import catalogue_run

from harness.cli import main
from harness.cli.demo_screens import fit_words
from harness.cli.replay import REPLAY_MARK

RECORDED = str(catalogue_run.FIXTURE)


def test_replay_selects_the_scenarios_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["demo", "--replay", RECORDED, "--color", "never", "--width", "100"]
    assert main.main([*args, "--scenario", "ambient-authz-l4"]) == 0
    out = capsys.readouterr().out
    assert REPLAY_MARK in out
    shown = set(re.findall(r"╭─ ([a-z0-9-]+) ─", out))
    assert shown == {"ambient-authz-l4"}
    assert "1 scenario: 1 passed" in out


def test_replay_of_a_scenario_the_report_lacks_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main.main(["demo", "--replay", RECORDED, "--scenario", "nosuch"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"error: {RECORDED} does not record scenario(s) nosuch; it records: sidecar-authz-l4, "
    )


def test_fit_words_cuts_at_a_word() -> None:
    title = "show step 1/1: Allow only productpage's identity: enforced by the ratings sidecar"
    assert fit_words(title, 200) == title
    assert (
        fit_words(title, 70)
        == "show step 1/1: Allow only productpage's identity: enforced by the …"
    )
    assert fit_words(title, 52) == "show step 1/1: Allow only productpage's identity …"
    assert fit_words("abcdefghij", 5) == "abc …"  # one word longer than the room: cut it


@pytest.mark.parametrize("width", [80, 100])
def test_no_pause_label_ends_inside_a_word(width: int) -> None:
    # `demo --replay RECORDED --color never --width W` (shared: tests/cli/demo_layout.py).
    replay = replayed(width)
    assert replay.code == 0
    out = replay.out
    labels = [ln for ln in out.splitlines() if "⏸" in ln]
    cut = [ln for ln in labels if "…" in ln]
    assert cut  # the catalogue has titles longer than a pause line
    # Each cut label ends with a whole word of its title, then " …".
    assert [ln for ln in cut if not re.search(r"\w …  ┄", ln)] == []


def test_the_mental_model_matrix_names_each_callers_identity() -> None:
    replay = replayed(100)
    assert replay.code == 0
    matrix = replay.out.split("The mental model: same policy", 1)[1]
    rows = re.findall(r"^[a-z0-9-]+ →", matrix, re.M)  # each row's caller
    idents = re.findall(r"^as (bookinfo-[a-z]+)\s", matrix, re.M)
    assert rows and len(idents) == len(rows)
    assert {"bookinfo-productpage", "bookinfo-reviews"} <= set(idents)
