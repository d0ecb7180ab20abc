"""`demo --replay`: a recorded run re-narrated offline, each screen marked as a replay; and the
golden narration of the real catalogue from its recorded result (tests/fixtures/catalogue_run.py).

Regenerate after an intended change: `.venv/bin/python tests/fixtures/catalogue_run.py`, then
`AMBIENT_HARNESS_UPDATE_GOLDEN=1 pytest tests/cli/test_replay.py`, and review both diffs.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from demo_layout import catalogue_rendering, replayed, screens
from fixtures import catalogue_run
from helpers import SCENARIOS, SHIPPED_SCENARIOS, copy_scenario
from rich.console import Console

from harness.cli import demo, main
from harness.cli.demo import DemoObserver
from harness.cli.replay import REPLAY_MARK, replay
from harness.model.results import RunResult, ScenarioResult, StepResult
from harness.report.document import load_json_report

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE_GOLDEN = os.environ.get("AMBIENT_HARNESS_UPDATE_GOLDEN") == "1"
RECORDED = catalogue_run.FIXTURE


def console(width: int = 100) -> Console:
    return Console(
        file=io.StringIO(), record=True, width=width, force_terminal=False,
        color_system=None, no_color=True, legacy_windows=False,
    )  # fmt: skip


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed; if intended, regenerate with AMBIENT_HARNESS_UPDATE_GOLDEN=1"
    )


@pytest.fixture(scope="module")
def recorded() -> RunResult:
    return load_json_report(RECORDED)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    """The recorded run built again from a copy of scenarios/ that also holds a user's own
    scenario (scenarios/myteam-added/ beside the catalogue), as on a user's checkout: one
    build of the catalogue for the two tests below."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copytree(SCENARIOS, root / "scenarios")
    copy_scenario("ambient-authz-l4", root, "myteam-added")
    return root / "scenarios", catalogue_run.build(root / "scenarios")


def test_the_recorded_run_is_the_current_catalogue(rebuilt: tuple[Path, RunResult]) -> None:
    # A change to a scenario (its words, manifests or probes) changes the recorded run, and
    # so the golden narration: both show in review.
    assert catalogue_run.text(rebuilt[1]) == RECORDED.read_text(encoding="utf-8"), (
        "the catalogue changed: regenerate with `.venv/bin/python tests/fixtures/catalogue_run.py`"
    )


def test_a_users_own_scenario_is_not_in_the_recorded_run(
    rebuilt: tuple[Path, RunResult],
) -> None:
    """The recorded run is still the shipped catalogue's, so the check above does not fail
    on a user's checkout."""
    scenarios, run = rebuilt
    assert (scenarios / "myteam-added" / "scenario.yaml").is_file()
    assert [s.name for s in run.scenarios] == list(SHIPPED_SCENARIOS)


# The golden renderings are the shared ones (tests/cli/demo_layout.py): the same console,
# made once per process for every test that reads them.
def test_golden_demo_of_the_real_catalogue() -> None:
    check_golden("demo.txt", catalogue_rendering("live", 100))


@pytest.mark.parametrize(("width", "name"), [(100, "replay.txt"), (80, "replay-80.txt")])
def test_golden_replay(width: int, name: str) -> None:
    check_golden(name, catalogue_rendering("replay", width))


def test_every_screen_of_a_replay_is_marked() -> None:
    text = catalogue_rendering("replay", 100)
    shown = screens(text)
    when = "2026-06-10T09:00:00Z"
    banner = f"{REPLAY_MARK}  of {when} · fixture data (not a live run) · Istio 1.30.3"
    assert [s[0] for s in shown if banner not in s[0]] == []  # each screen opens with it
    assert text.count(REPLAY_MARK) == len(shown) > 40
    # The replay tells what the live demo told: manifests, narratives, tables, the matrix.
    live_text = catalogue_rendering("live", 100)
    for needle in ("kind: AuthorizationPolicy", "X-Test: not-istio", "The mental model"):
        assert needle in text and needle in live_text
    # The talk's L7 comparison, paired by the ambient scenario's compare_with (not by name).
    assert "authz-l7: sidecar-authz-l7 vs ambient-authz-l7-waypoint" in text
    assert "authz-l7: sidecar-authz-l7 vs ambient-authz-l7-waypoint" in live_text


def test_replay_shows_a_step_that_did_not_run() -> None:
    run = RunResult(
        catalogue_run.ENVIRONMENT,
        [
            ScenarioResult(
                "ambient-x", "x", "ambient",
                steps=[StepResult("s", "second", skipped_reason="not run: step 'first' failed")],
            )
        ],
    )  # fmt: skip
    out = console()
    replay(run, DemoObserver(out))
    assert "not run: step 'first' failed" in out.export_text()


def test_demo_replay_command_is_offline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The command line's replay (shared: tests/cli/demo_layout.py) was watched for a check.
    replay = replayed(80)
    assert not replay.docker_checked
    assert replay.code == 0
    assert REPLAY_MARK in replay.out and "13 scenarios: 13 passed" in replay.out
    monkeypatch.setattr(demo, "docker_problem", lambda: pytest.fail("Docker was checked"))
    missing = tmp_path / "nope.json"
    assert main.main(["demo", "--replay", str(missing)]) == 2
    assert f"error: cannot read {missing}" in capsys.readouterr().err


@pytest.mark.parametrize("width", [80, 100])
def test_no_url_is_broken_on_a_projector(recorded: RunResult, width: int) -> None:
    # Issue 14: at 80 columns URLs broke mid-word (`ratings:9080/ratin` / `gs/1`). A URL is
    # shown whole, or in pieces that end after a `/` (tests/cli/test_demo_screens.py checks
    # every word of every screen).
    text = catalogue_rendering("replay", width)
    urls = {p.url.removeprefix("http://") for s in recorded.scenarios for st in s.steps
            for p in st.probes}  # fmt: skip
    for url in sorted(urls):
        rest = url
        while rest not in text:  # the longest head ending in `/` on a line, then the rest
            cuts = [i + 1 for i, c in enumerate(rest) if c == "/" and rest[: i + 1] in text]
            assert cuts, url
            rest = rest[max(cuts) :]
    assert max(len(line) for line in text.splitlines()) <= width
