"""Issue 14: the demo on a projector. Every screen of the real catalogue (its recorded run),
live narration and replay, at 80 and 100 columns: at most 30 lines, no line over the width,
no word broken, `denied-l7 (403 RBAC: access denied)` on at most two lines, each step's table
on a screen of its own under the step's title; long texts folded, shown in full on `m`.
"""

from __future__ import annotations

import copy
import random
import re

import pytest
from demo_layout import (
    HEIGHT,
    CatalogueRenderings,
    broken_words,
    catalogue_rendering,
    colour_console,
    console,
    screens,
    vocabulary,
)
from fakes.keys import ScriptedKeys
from fixtures import catalogue_run
from helpers import SCENARIOS
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from harness.cli.demo import talk_order
from harness.cli.demo_observer import DESCRIPTION_LINES, NARRATIVE_LINES, DemoObserver
from harness.cli.demo_screens import FOLD_MARK, KEY_HELP, ScreenWriter, fold, text_height
from harness.cli.demo_tables import (
    MAX_WORD,
    MatrixRow,
    lines_at,
    matrix_table,
    probe_table,
    rows_height,
)
from harness.cli.replay import replay
from harness.judge.enforcement import attribute
from harness.model.results import ModelCheck, PredictedOutcome, RunResult
from harness.report.document import load_json_report
from harness.report.words import describe_observed

WIDTHS = (80, 100)


@pytest.fixture(scope="module")
def recorded() -> RunResult:
    return load_json_report(catalogue_run.FIXTURE)


@pytest.fixture(scope="module")
def renderings() -> CatalogueRenderings:
    return CatalogueRenderings()


@pytest.mark.parametrize("kind", ["live", "replay"])
@pytest.mark.parametrize("width", WIDTHS)
def test_every_screen_fits_the_projector(
    renderings: CatalogueRenderings, recorded: RunResult, kind: str, width: int
) -> None:
    text = renderings[kind, width]
    shown = screens(text)
    assert len(shown) > 40  # the catalogue's 13 scenarios, 30 steps: many screens
    assert [len(s) for s in shown if len(s) > HEIGHT] == []
    assert [line for line in text.splitlines() if len(line) > width] == []
    assert broken_words(text.splitlines(), vocabulary(recorded)) == []


def test_the_broken_word_measure_finds_a_broken_word(recorded: RunResult) -> None:
    # The measure itself: the old rendering's fold of a URL, and a path break it allows.
    words = vocabulary(recorded)
    assert broken_words(["│ ratings:9080/ratin │", "│ gs/1 │"], {"ratings:9080/ratings/1"})
    assert broken_words(["allow   x", "ed,   y"], words) == ["allow|ed,"]
    assert broken_words(["ratings.ambient-mtls-strict:9080/", "ratings/1"], words) == []


@pytest.mark.parametrize("kind", ["live", "replay"])
@pytest.mark.parametrize("width", WIDTHS)
def test_an_rbac_denial_takes_at_most_two_lines(
    renderings: CatalogueRenderings, kind: str, width: int
) -> None:
    lines = renderings[kind, width].splitlines()
    starts = [i for i, line in enumerate(lines) if "denied-l7 (403" in line]
    assert len(starts) > 10
    for i in starts:
        assert "denied)" in lines[i] or "denied)" in lines[i + 1], lines[i : i + 3]


@pytest.mark.parametrize("width", WIDTHS)
def test_each_step_has_manifest_screens_then_its_table_screen(
    renderings: CatalogueRenderings, recorded: RunResult, width: int
) -> None:
    shown = screens(renderings["replay", width])
    tables = [s for s in shown if any(line.startswith("from → to") for line in s)]
    by_name = {sc.name: sc for sc in recorded.scenarios}
    steps = [st for n in talk_order(by_name) for st in by_name[n].steps if st.probes]
    assert len(tables) == len(steps)
    for screen, st in zip(tables, steps, strict=True):
        # The step's title opens the table's screen (under the replay's banner) ...
        assert screen[1].startswith("Step ") and st.title.split()[0] in screen[1]
        # ... and no manifest shares it.
        assert not any(line.startswith("╭─ apply ") for line in screen)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_manifest_longer_than_a_screen_is_cut_into_titled_pieces(
    renderings: CatalogueRenderings, width: int
) -> None:
    shown = screens(renderings["live", width])
    retries = "apply manifests/ratings-route-retries.yaml"  # 45 lines
    pieces = [s for s in shown if any(retries in line for line in s)]
    assert len(pieces) == 2
    assert any(f"{retries} (1/2)" in line for line in pieces[0])
    assert any(f"{retries} (2/2)" in line for line in pieces[1])
    # The second piece repeats the step's title.
    assert pieces[1][0].startswith("Step 4/4 retry on 503")
    assert "(continued)" in " ".join(pieces[1][:2])


def test_urls_break_only_after_a_slash() -> None:
    from harness.cli.demo_manifests import break_word, wrap_line

    principal = "cluster.local/ns/ambient-authz-l7-no-waypoint/sa/bookinfo-productpage"
    assert break_word(principal, 40) == [
        "cluster.local/ns/",
        "ambient-authz-l7-no-waypoint/sa/",
        "bookinfo-productpage",
    ]
    lines = wrap_line(f"              - {principal}", 60)
    assert [line.strip() for line in lines] == [
        "- cluster.local/ns/",
        "ambient-authz-l7-no-waypoint/sa/",
        "bookinfo-productpage",
    ]
    assert lines[1].startswith(" " * 18)  # under the item, not under its dash
    assert all(len(line) <= 60 for line in lines)
    comment = wrap_line("  # " + "word " * 20, 40)
    assert all(line.startswith("  # ") for line in comment)
    assert MAX_WORD >= 40


def test_a_manifest_is_rendered_as_rich_wraps_it() -> None:
    # Manifest lines are wrapped beforehand and rendered without rich's wrapping where they
    # fit, and put in the panel's frame without rich's layers (harness/cli/demo_manifests.py
    # `Wrapped`, `FramedPanel`, whose lines a screen prints): byte for byte what rich's
    # wrapping of the same text in a panel shows, in colour, at the width they were wrapped
    # for and narrower (the terminal shrank before the panel was printed), with a tab and a
    # control code as well.
    from rich.segment import SegmentLines

    from harness.cli.demo_manifests import FramedPanel, Wrapped, manifest_panels

    framed = 0

    yaml = SCENARIOS / "ambient-authz-l7-no-waypoint/manifests/ratings-deny-header.yaml"
    text = yaml.read_text(encoding="utf-8")
    principal = "cluster.local/ns/ambient-authz-l7-no-waypoint/sa/bookinfo-productpage"
    for extra in ("", f"\n# a comment\twith a tab\n  - {principal}", "\nkey: \x07bell\n---\n"):
        for width in (30, 60, 100):
            for panel in manifest_panels("apply x.yaml", text + extra, width, 200):
                wrapped = panel.renderable
                assert isinstance(wrapped, Wrapped)
                for shown in (width, width - 7):
                    ours, rich_own = colour_console(shown), colour_console(shown)
                    ours.print(panel)
                    rich_own.print(Panel(wrapped.text, title=panel.title, title_align="left",
                                         box=panel.box))  # fmt: skip
                    assert ours.file.getvalue() == rich_own.file.getvalue(), (extra, width, shown)  # type: ignore[attr-defined]
                    assert isinstance(panel, FramedPanel)
                    lines = panel.lines(ours, ours.options)
                    if lines is not None:
                        framed += 1
                        screen = colour_console(shown)
                        screen.print(SegmentLines(lines, new_lines=True))
                        assert screen.file.getvalue() == rich_own.file.getvalue()  # type: ignore[attr-defined]
    assert framed >= 6


def test_lines_at_wraps_as_rich_does() -> None:
    out = console(100)
    for text in ("denied-l7 (403 RBAC: access denied)", "allowed (200, ratings-v1), L4 only"):
        for width in range(10, 40):
            assert lines_at(text, width) == len(Text(text).wrap(out, width)), (text, width)


# --- folding -------------------------------------------------------------------------------


def test_fold_keeps_the_first_paragraph_or_sentences() -> None:
    out = console(80)
    short = "One line."
    assert fold(out, short, 76, 6) is None
    long = " ".join(["A sentence of several words here."] * 12) + "\n\nSecond paragraph."
    folded = fold(out, long, 76, 3)
    assert folded is not None and folded.endswith(FOLD_MARK)
    assert text_height(out, folded, 76) <= 3
    assert folded.startswith("A sentence of several words here.")
    paragraphs = "First paragraph, short.\n\n" + "More words follow here. " * 30
    assert fold(out, paragraphs, 76, 6) == f"First paragraph, short. {FOLD_MARK}"


def fold_one_at_a_time(out: Console, text: str, width: int, max_lines: int) -> str | None:
    """What `fold` finds, found by wrapping one sentence (then one word) more at a time."""
    if text_height(out, text, width) <= max_lines:
        return None
    mark = f" {FOLD_MARK}"
    first = text.split("\n\n", 1)[0]
    if text_height(out, first + mark, width) <= max_lines:
        return first + mark
    kept = ""
    for sentence in re.split(r"(?<=[.!?:])\s+(?=[A-Z`'\"(])", first):
        candidate = f"{kept} {sentence}".strip()
        if text_height(out, candidate + mark, width) > max_lines:
            break
        kept = candidate
    if not kept:
        for word in first.split():
            candidate = f"{kept} {word}".strip()
            if text_height(out, candidate + " …" + mark, width) > max_lines:
                break
            kept = candidate
        kept += " …"
    return kept + mark


def test_fold_by_bisection_keeps_what_one_at_a_time_keeps() -> None:
    # Seeded: sentences of short words, now and then a word longer than a line (a URL),
    # several paragraphs, at widths and folds from tight to roomy.
    rng = random.Random(15)
    out = console(100)

    def sentence() -> str:
        words = [
            "x" * rng.randint(30, 70) if rng.random() < 0.05 else "w" * rng.randint(1, 12)
            for _ in range(rng.randint(1, 16))
        ]
        return " ".join([words[0].capitalize(), *words[1:]]) + rng.choice(".!:")

    for _ in range(80):
        text = "\n\n".join(
            " ".join(sentence() for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 3))
        )
        width, max_lines = rng.randint(8, 100), rng.randint(1, 8)
        assert fold(out, text, width, max_lines) == fold_one_at_a_time(
            out, text, width, max_lines
        ), (text, width, max_lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_long_descriptions_are_folded_on_the_screen(
    renderings: CatalogueRenderings, recorded: RunResult, width: int
) -> None:
    text = renderings["replay", width]
    out = console(width)
    longest = max(recorded.scenarios, key=lambda s: len(s.description or ""))
    assert text_height(out, longest.description or "", width - 4) > DESCRIPTION_LINES
    assert text.count(FOLD_MARK) >= 10
    # The last sentence of the longest description is not on any screen.
    last = " ".join((longest.description or "").split()).rsplit(". ", 1)[-1]
    assert " ".join(last.split()[-4:]) not in " ".join(text.split())
    assert NARRATIVE_LINES < DESCRIPTION_LINES


def replay_with(keys: list[str], recorded: RunResult, width: int = 100) -> tuple[str, ScriptedKeys]:
    out = console(width)
    script = ScriptedKeys(keys)
    replay(recorded, DemoObserver(out, interactive=True, keys=script, height=HEIGHT))
    return out.export_text(), script


def test_m_shows_the_folded_rest_then_the_screen_again(recorded: RunResult) -> None:
    first = next(s for s in recorded.scenarios if s.name == "sidecar-authz-l4")
    description = " ".join((first.description or "").split())
    tail = " ".join(description.split()[-6:])
    text, keys = replay_with(["m", "\n", "\n"], recorded)
    before, _, after = text.partition("sidecar-authz-l4: the description")
    assert FOLD_MARK in before and tail not in " ".join(before.split())
    assert "press Enter to continue · m: more" in before  # the key is on screen
    assert tail in " ".join(after.split())  # the whole description
    assert "press Enter to return to the screen" in after
    # After `back`, the folded screen is shown again, then Enter goes on.
    again = after.split("sidecar-authz-l4 ───", 1)[1]
    assert FOLD_MARK in again
    assert keys.read[:4] == ["m", "\n", "\n", None]
    assert "(no more input: continuing without pauses)" in text


def test_enter_pages_through_every_screen(recorded: RunResult) -> None:
    text, keys = replay_with(["\n"] * 500, recorded)
    prompts = [line for line in text.splitlines() if line.startswith("⏸  press Enter to")]
    assert len(prompts) == len([k for k in keys.read if k is not None])
    assert len(prompts) == len(screens(catalogue_rendering("replay", 100))) - 1
    assert "┄┄┄" not in text  # the prompts are the boundaries
    assert any("run" in p or "show step 1/1" in p for p in prompts)


def test_other_keys_are_ignored_and_space_goes_on(recorded: RunResult) -> None:
    text, keys = replay_with(["x", " "], recorded)
    assert keys.read[:3] == ["x", " ", None]
    prompts = [line for line in text.splitlines() if line.startswith("⏸  press Enter to")]
    assert len(prompts) == 3 and prompts[0] == prompts[1]  # asked again after `x`


def test_the_key_help_is_on_screen_and_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    with pytest.raises(SystemExit):
        main.main(["demo", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert " ".join(KEY_HELP.split()) in help_text
    assert "--color" in help_text and "--cast" in help_text and "--width" in help_text


def test_a_table_taller_than_a_screen_is_cut_between_rows(recorded: RunResult) -> None:
    sc = next(s for s in recorded.scenarios if s.name == "sidecar-authz-l7")
    step = sc.steps[0]
    step.probes = step.probes * 4  # 16 rows: more than 30 lines
    out = console(80)
    replay(RunResult(recorded.environment, [sc]), DemoObserver(out, height=HEIGHT))
    shown = screens(out.export_text())
    assert [len(s) for s in shown if len(s) > HEIGHT] == []
    tables = [s for s in shown if any(line.startswith("from → to") for line in s)]
    assert len(tables) >= 2
    assert all(any("Step 1/1" in line for line in s) for s in tables)


def test_the_rows_of_a_table_are_never_taller_than_the_table(recorded: RunResult) -> None:
    # A cut between rows skips, unrendered, a try whose rows alone (`rows_height`) are taller
    # than the room: the cut trying each one finds, as long as the rows are never taller than
    # the table rich renders. Seeded: probe tables and matrices of 1 to 10 rows, with failures
    # and model notes, at widths from too narrow for the columns (no estimate) to roomy.
    rng = random.Random(15)
    probes = [p for sc in recorded.scenarios for st in sc.steps for p in st.probes]
    bounds = []
    for _ in range(10):
        rows = [copy.deepcopy(rng.choice(probes)) for _ in range(rng.randint(1, 10))]
        for p in rng.sample(rows, len(rows) // 3):
            p.verdict, p.message = "fail", "still allowed after 30 s"
            p.predicted = PredictedOutcome("denied-l4", enforced_by="destination ztunnel")
            p.model = ModelCheck("disagrees", finding="model: predicted denied-l4")
        width = rng.choice([20, 40, 60, 80, 100])
        out = console(width)
        matrix = [MatrixRow("s", p.url, (describe_observed(p), "ztunnel*"), None) for p in rows]
        tables = [
            probe_table(rows, lambda p: attribute("ambient", p, p.waypoint), "x", width=width),
            matrix_table("t", matrix, width=width),
        ]
        for table in tables:
            bound = rows_height(out, table, {})
            if bound:  # (0 is no estimate: the columns are narrowed)
                assert bound <= len(out.render_lines(table, out.options, pad=False)), width
            bounds.append(bound)
    assert 0 in bounds and max(bounds) > HEIGHT  # both kinds of width, and tall tables


def test_a_screen_writer_splits_a_block_taller_than_a_screen() -> None:
    out = console(40)
    writer = ScreenWriter(out, height=10)
    writer.add("\n".join(f"line {i}" for i in range(25)))
    shown = screens(out.export_text())
    assert [len(s) for s in shown] == [10, 10, 7]
    assert re.match(r"^line 0$", shown[0][0])


def test_a_block_measured_before_the_terminal_narrowed_is_cut_to_it() -> None:
    out = console(40)
    writer = ScreenWriter(out, height=10)
    block = Text("x" * 40)
    assert writer.height_of(block) == 1  # measured at 40 columns
    out.width = 20
    writer.add(block)
    assert out.export_text().splitlines()[0] == "x" * 20


def test_single_keys_from_a_terminal() -> None:
    import os
    import select

    from harness.cli.demo_screens import TerminalKeys, keys_for

    master, slave = os.openpty()
    typed: list[bytes] = []
    with open(slave, encoding="utf-8") as tty_in:
        assert isinstance(keys_for(tty_in), TerminalKeys)
        keys = TerminalKeys(tty_in, waiting=lambda: os.write(master, typed.pop(0)))
        assert not keys.echoes
        for press, key in (
            (b"m", "m"),
            (b"M", "m"),
            (b"\n", "\n"),
            (b" ", " "),
            (b"\x1b[A", "\x1b"),
        ):
            typed.append(press)
            assert keys.read_key() == key  # no Enter needed after `m`
        os.write(master, b"\n")  # typed ahead, while no prompt waited: dropped
        assert select.select([slave], [], [], 10)[0]  # (it has reached the terminal)
        typed.append(b"m")
        assert keys.read_key() == "m"
        typed.append(b"\x04")  # Ctrl-D: the end of input
        assert keys.read_key() is None
