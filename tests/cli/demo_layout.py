"""Measures of the demo's layout on a projector: screens, widths, broken words, colours.

A *screen* is what the speaker sees between two pauses; the non-interactive rendering marks
each boundary with a dim `┄┄┄ ⏸ ... ┄┄┄` line (the footer, where --interactive prompts).
A *broken word* is a word of the source (a description, a manifest, a cell) found split over
two consecutive lines, except after a `/` (a path or URL may break there).

    .venv/bin/python tests/cli/demo_layout.py     # the figures at 80 and 100 columns,
                                                  # and the CPU time of one rendering

`catalogue_rendering` renders the recorded catalogue once per test run for each kind, width
and colour mode: the tests that only read a rendering share it instead of each narrating the
13 scenarios again (0.15 s of CPU or more a rendering). `replayed` does the same for the
command line's replay (`demo --replay ... --cast ...`). Under xdist the first worker to ask
makes it and the others read it (`once_per_run`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from unittest import mock

if __name__ == "__main__":
    sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).parents[2])]

from fixtures import catalogue_run
from helpers import SCENARIOS
from rich.console import Console

from harness.cli.demo import talk_order
from harness.cli.demo_observer import DemoObserver
from harness.cli.demo_style import demo_console
from harness.cli.replay import replay
from harness.model.describe import describe_expect
from harness.model.results import RunResult
from harness.model.scenario import Scenario, load_scenario
from harness.report.document import load_json_report
from harness.report.words import describe_observed, describe_target

HEIGHT = 30
BOUNDARY = re.compile(r"^┄+(\s+⏸ .*\s+┄+)?$")
SGR = re.compile(r"\x1b\[([0-9;]*)m")
FRAME = re.compile(r"[│╭╮╰╯─━┃┄]")


def console(width: int) -> Console:
    """The golden files' console: no colour, explicit width, never the environment's."""
    return Console(
        file=io.StringIO(), record=True, width=width, height=HEIGHT, force_terminal=False,
        color_system=None, no_color=True, legacy_windows=False, _environ={},
    )  # fmt: skip


def screens(text: str) -> list[list[str]]:
    """The screens of a non-interactive rendering, each with its footer line."""
    out: list[list[str]] = [[]]
    for line in text.splitlines():
        out[-1].append(line)
        if BOUNDARY.match(line):
            out.append([])
    return [s for s in out if any(line.strip() for line in s)]


def vocabulary(run: RunResult) -> set[str]:
    """Every word the rendering may show, from the recorded run."""
    words: set[str] = set()

    def add(*texts: str | None) -> None:
        for t in texts:
            if t:
                words.update(t.split())

    for sc in run.scenarios:
        add(sc.name, sc.title, sc.description, *sc.references)
        for st in sc.steps:
            add(st.title, st.narrative, *st.manifests, *st.manifests.values())
            for p in st.probes:
                add(describe_target(p), describe_observed(p), describe_expect(p.expect))
                add(p.identity, p.message)
    return words


def broken_words(lines: list[str], words: set[str]) -> list[str]:
    """`head` + `tail` on consecutive lines that make a word (not a break after `/`)."""
    tokens = [FRAME.sub(" ", line).split() for line in lines]
    found = []
    for upper, lower in itertools.pairwise(tokens):
        for head in upper:
            for tail in lower:
                whole = head + tail
                half = head not in words or tail not in words
                if whole in words and half and not head.endswith("/"):
                    found.append(f"{head}|{tail}")
    return found


@dataclass
class Figures:
    width: int
    lines: int
    screens: int
    tall: list[int]  # heights of the screens over HEIGHT lines
    wide: int  # lines over the width
    broken: list[str]
    sgr: list[str]

    def __str__(self) -> str:
        return (
            f"{self.width} columns: {self.lines} lines, {self.screens} screens, "
            f"{len(self.tall)} over {HEIGHT} lines, {self.wide} lines over the width, "
            f"{len(self.broken)} broken words {self.broken[:4]}; SGR {self.sgr}"
        )


@functools.cache
def catalogue_scenario(name: str) -> Scenario:
    """A scenario of the catalogue, loaded once per process: the narration only reads it."""
    return load_scenario(SCENARIOS / name)


def narrate_live(recorded: RunResult, observer: DemoObserver) -> None:
    """The live demo's hooks, in the runner's order, on the real scenarios and recorded results."""
    by_name = {s.name: s for s in recorded.scenarios}
    for name in talk_order(by_name):
        scenario, result = catalogue_scenario(name), by_name[name]
        observer.scenario_started(scenario)
        for step, sr in zip(scenario.steps, result.steps, strict=True):
            observer.step_started(scenario, step, sr.manifests)
            for p in sr.probes:
                observer.probe_finished(scenario, step, p)
            observer.step_finished(scenario, sr)
        observer.scenario_finished(result)
    observer.finish(recorded)


def colour_console(width: int) -> Console:
    """The demo's own console as `--color always --width W --height 30` makes it."""
    return demo_console(io.StringIO(), color="always", width=width, height=HEIGHT, environ={})


def _output(out: Console, colour: bool) -> str:
    """What a coloured console wrote (its codes), or what a plain one shows."""
    return out.file.getvalue() if colour else out.export_text()  # type: ignore[attr-defined]


# The observer is given no height: the screens are the demo's default, 30 lines in a pipe
# (SCREEN_HEIGHT), the terminal's height (30 here) in colour; the golden files are these.
def render_live(run: RunResult, width: int, *, colour: bool = False) -> str:
    out = colour_console(width) if colour else console(width)
    narrate_live(run, DemoObserver(out))
    return _output(out, colour)


def render_replay(run: RunResult, width: int, *, colour: bool = False) -> str:
    out = colour_console(width) if colour else console(width)
    replay(run, DemoObserver(out))
    return _output(out, colour)


def recorded_run() -> RunResult:
    """The recorded run of the catalogue, loaded afresh: a test may change its copy."""
    return load_json_report(catalogue_run.FIXTURE)


def once_per_run(key: str, make: Callable[[], Any]) -> Any:
    """`make()` (JSON data), made once per test run: under xdist by the first worker that
    asks, while the others wait for it (a lock) and read what it wrote. The files are the
    run's own (named by the run's xdist id, in the suite's cache directory, which the run
    makes and removes): nothing is read from another run."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    cache = os.environ.get("AMBIENT_HARNESS_SUITE_CACHE")
    if not run or not cache:
        return make()  # one process: functools.cache shares it
    directory = Path(cache) / f"demo-renderings-{run}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key}.json"
    with (directory / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed (or the worker dies)
        if path.exists():
            return json.loads(path.read_bytes())
        made = make()
        path.with_suffix(".part").write_bytes(json.dumps(made).encode())
        path.with_suffix(".part").replace(path)
        return made


@functools.cache
def catalogue_rendering(kind: Literal["live", "replay"], width: int, colour: bool = False) -> str:
    """The recorded catalogue narrated live (the runner's hooks on the real scenarios) or
    replayed, at `width`: plain, as the golden files' console exports it, or in colour, as the
    demo's console writes it. Rendered once per test run; a rendering is deterministic, so a
    test reading the shared one checks what its own would show. (Save one thing: the live
    narration in colour runs rich's spinner, whose thread may draw a frame more or less of it;
    only the colour test reads that rendering, for its codes.)"""
    render = render_live if kind == "live" else render_replay
    made = once_per_run(
        f"{kind}-{width}-{'colour' if colour else 'plain'}",
        lambda: render(recorded_run(), width, colour=colour),
    )
    assert isinstance(made, str)
    return made


@dataclass(frozen=True)
class CommandReplay:
    """What `demo --replay RECORDED --color never --width W --cast FILE` did."""

    code: int
    out: str
    err: str
    cast_path: str  # removed since; the messages name it
    cast: str
    cast_mode: int
    docker_checked: bool  # whether the command asked if Docker runs


@functools.cache
def replayed(width: int) -> CommandReplay:
    """The command line's replay of the recorded catalogue at `width`, run in a test process
    once per test run for the tests that only read what it printed and recorded."""
    return CommandReplay(**once_per_run(f"command-{width}", lambda: asdict(_replay(width))))


def _replay(width: int) -> CommandReplay:
    from harness.cli import demo, main

    checked: list[bool] = []
    directory = Path(tempfile.mkdtemp(prefix="ambient-harness-replay-"))
    path = directory / "replay.cast"
    argv = ["demo", "--replay", str(catalogue_run.FIXTURE), "--color", "never",
            "--width", str(width), "--cast", str(path)]  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    try:
        with (
            mock.patch.object(demo, "docker_problem", lambda: checked.append(True)),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = main.main(argv)
        cast, mode = path.read_text(encoding="utf-8"), path.stat().st_mode & 0o777
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return CommandReplay(code, out.getvalue(), err.getvalue(), str(path), cast, mode, bool(checked))


class CatalogueRenderings:
    """`renderings["live", 80]`: the plain rendering, made when first asked for (an xdist
    worker running one of the tests renders only what that test reads)."""

    def __getitem__(self, key: tuple[Literal["live", "replay"], int]) -> str:
        return catalogue_rendering(*key)


def measure(run: RunResult, width: int) -> Figures:
    ansi = render_replay(run, width, colour=True)
    text = SGR.sub("", ansi)
    shown = screens(text)
    lines = text.splitlines()
    return Figures(
        width,
        len(lines),
        len(shown),
        [len(s) for s in shown if len(s) > HEIGHT],
        sum(1 for line in lines if len(line) > width),
        broken_words(lines, vocabulary(run)),
        sorted(Counter(SGR.findall(ansi))),
    )


def rendering_cpu_s(run: RunResult, width: int, repeat: int = 5) -> float:
    """The least CPU time of a plain replay of `run` at `width` (the first, warming up, aside)."""
    times = []
    for _ in range(repeat + 1):
        start = time.process_time()
        render_replay(run, width)
        times.append(time.process_time() - start)
    return min(times[1:])


if __name__ == "__main__":
    recorded = recorded_run()
    for w in (80, 100):
        print(measure(recorded, w))
        print(f"  one replay at {w} columns: {rendering_cpu_s(recorded, w):.3f} s of CPU")
