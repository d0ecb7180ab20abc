"""`demo --cast FILE`: an asciinema v2 recording of the narration (live run or replay)."""

from __future__ import annotations

import argparse
import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from demo_layout import HEIGHT, SGR, catalogue_rendering, replayed, screens
from fakes.keys import ScriptedKeys
from fixtures import catalogue_run

from harness.cli import main
from harness.cli.demo import observer_for, save_cast
from harness.cli.demo_cast import CAST_PAUSE_S, CastRecorder
from harness.cli.demo_observer import DemoObserver
from harness.cli.demo_style import demo_console
from harness.cli.replay import replay
from harness.report.document import load_json_report


class Clock:
    """1 ms per reading: time moves, nobody sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def parse_cast(text: str) -> tuple[dict[str, Any], list[list[Any]]]:
    """asciicast v2: a header object, then [time, code, data] events in time order."""
    lines = text.splitlines()
    header = json.loads(lines[0])
    events = [json.loads(line) for line in lines[1:]]
    assert header["version"] == 2
    assert isinstance(header["width"], int) and isinstance(header["height"], int)
    assert isinstance(header["timestamp"], int) and isinstance(header["title"], str)
    times = [e[0] for e in events]
    assert all(
        isinstance(e[0], float | int) and e[1] == "o" and isinstance(e[2], str) for e in events
    )
    assert times == sorted(times) and times[0] >= 0
    return header, events


def args(**kw: Any) -> argparse.Namespace:
    base = {"color": "always", "width": 80, "height": HEIGHT, "interactive": False}
    return argparse.Namespace(**{**base, **kw})


def test_a_replay_cast_is_the_rendering_with_pauses_as_gaps(tmp_path: Path) -> None:
    run = load_json_report(catalogue_run.FIXTURE)
    shown = io.StringIO()
    observer, cast = observer_for(args(cast=tmp_path / "talk.cast"), out=shown, clock=Clock())
    assert cast is not None
    replay(run, observer)
    save_cast(cast, observer, args(cast=tmp_path / "talk.cast"), "the talk", now=lambda: 1.7e9)
    header, events = parse_cast((tmp_path / "talk.cast").read_text(encoding="utf-8"))
    assert header == {"version": 2, "width": 80, "height": HEIGHT, "timestamp": 1700000000,
                      "title": "the talk", "env": {"TERM": "xterm-256color"}}  # fmt: skip
    output = "".join(e[2] for e in events)
    # What the terminal got, with the \r a terminal's line discipline adds ...
    assert "\n" not in output.replace("\r\n", "")
    assert output.replace("\r\n", "\n") == shown.getvalue()
    # ... which is the non-interactive rendering, colours included (the demo's console with
    # --color always --width 80 --height 30: tests/cli/demo_layout.py).
    assert output.replace("\r\n", "\n") == catalogue_rendering("replay", 80, colour=True)
    assert SGR.search(output)
    # One pause per screen boundary, each a gap of CAST_PAUSE_S; no other gap.
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(events)]
    boundaries = len(screens(SGR.sub("", shown.getvalue()))) - 1
    assert sum(1 for g in gaps if g >= CAST_PAUSE_S) == boundaries > 40
    assert all(g < 0.1 for g in gaps if g < CAST_PAUSE_S)


def test_an_interactive_cast_keeps_the_real_waits() -> None:
    clock = Clock()
    cast = CastRecorder(None, clock)
    out = demo_console(cast, color="never", width=100, height=HEIGHT, environ={})  # type: ignore[arg-type]

    class SlowKeys(ScriptedKeys):
        def read_key(self) -> str | None:
            clock.now += 12.5  # the speaker talks
            return super().read_key()

    run = load_json_report(catalogue_run.FIXTURE)
    observer = DemoObserver(out, interactive=True, keys=SlowKeys(["\n", "\n"]), height=HEIGHT)
    replay(run, observer)
    gaps = [b[0] - a[0] for a, b in zip(cast.events, cast.events[1:], strict=False)]
    assert sum(1 for g in gaps if g >= 12.5) == 3  # two keys, then the end of input
    assert not any(CAST_PAUSE_S <= g < 12.5 for g in gaps)  # no synthetic pause


def test_demo_replay_cast_from_the_command_line() -> None:
    # `demo --replay RECORDED --color never --width 100 --cast FILE`, run in this process
    # (shared: tests/cli/demo_layout.py).
    replay = replayed(100)
    assert replay.code == 0
    header, events = parse_cast(replay.cast)
    assert header["width"] == 100 and header["height"] == HEIGHT
    assert "2026-06-10T09:00:00Z" in header["title"]
    assert "".join(e[2] for e in events).replace("\r\n", "\n") == replay.out
    assert f"cast: {replay.cast_path}" in replay.err
    assert oct(replay.cast_mode) == "0o644"


class NarratingRunner:
    """Stands in for harness.run.session.run_scenarios: calls the observer's hooks as the
    runner does, each probe passing; `interrupt` raises ^C after the first scenario."""

    def __init__(self, interrupt: bool = False) -> None:
        self.interrupt = interrupt

    def run_scenarios(self, scenarios: list[Any], options: Any, observer: Any, *, into: Any) -> Any:
        from harness.model.results import Environment, ScenarioResult, StepResult

        into.environment = Environment(provider="existing")
        for s in scenarios:
            observer.scenario_started(s)
            steps = []
            for step in s.steps:
                observer.step_started(s, step, {})
                sr = StepResult(step.name, step.title)
                observer.step_finished(s, sr)
                steps.append(sr)
            result = ScenarioResult(s.name, s.title, s.dataplane, steps=steps)
            observer.scenario_finished(result)
            into.scenarios.append(result)
            if self.interrupt:
                raise KeyboardInterrupt
        return into


@pytest.mark.parametrize("interrupt", [False, True])
def test_a_live_demo_writes_its_cast_even_when_interrupted(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    interrupt: bool,
) -> None:
    import sys
    import types

    module = types.ModuleType("harness.run.session")
    module.run_scenarios = NarratingRunner(interrupt).run_scenarios  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "harness.run.session", module)
    path = tmp_path / "live.cast"
    argv = ["demo", "--context", "prod", "--scenario", "ambient-authz-l4", "--cast", str(path)]
    assert main.main(argv) == (130 if interrupt else 0)
    out = capsys.readouterr()
    header, events = parse_cast(path.read_text(encoding="utf-8"))
    assert header["title"] == "ambient-harness demo"
    shown = "".join(e[2] for e in events).replace("\r\n", "\n")
    assert shown == out.out and f"cast: {path}" in out.err
    assert "Step 2/2" in shown and "1 scenario: 1 passed" in shown
