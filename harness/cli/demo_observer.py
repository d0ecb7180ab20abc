"""The demo's narration of a run, screen by screen (harness/cli/demo_screens.py).

For every step the speaker sees the manifests being applied (one screen, or more when they
are long: the step's title is repeated), then, on the next screen, a table of the probes: who
called whom, what was expected, what the mesh did, and which component enforced it. At the
end, the *mental-model matrix* puts each sidecar scenario beside its ambient twin: the same
policy, a different enforcement point.

`DemoObserver` only renders what the runner reports (harness/run/events.py), so it is tested from
constructed results; the replay (harness/cli/replay.py) drives the same screens from a report.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Final, TextIO, TypeVar

from rich import box
from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.status import Status
from rich.table import Table
from rich.text import Text

from harness.cli.demo_fixed_table import CellLines
from harness.cli.demo_manifests import FramedPanel, manifest_panels
from harness.cli.demo_screens import (
    Block,
    KeySource,
    More,
    ScreenWriter,
    fold,
    keys_for,
)
from harness.cli.demo_style import demo_console, style
from harness.cli.demo_tables import (
    STYLE,
    Attributor,
    MatrixRow,
    fold_long_words,
    marked,
    matrix_table,
    probe_table,
    rows_height,
    short_identity,
)
from harness.judge.enforcement import attribute, scenario_attribution
from harness.model.results import ProbeResult, RunResult, ScenarioResult, StepResult
from harness.model.scenario import Scenario, Step
from harness.report.comparison import ComparisonRow, Pair, comparison_rows, pair_scenarios
from harness.report.summary import (
    failure_summary,
    model_findings_summary,
    summarize,
    summary_line,
)
from harness.report.words import (
    SYMBOL,
    describe_observed,
    environment_line,
    seconds,
    steps_passed,
)
from harness.run.events import RunObserver

R = TypeVar("R")
VERDICT_WORD: Final = {"pass": "passed", "fail": "failed", "skipped": "skipped", "error": "error"}
# Folded beyond these many lines at the screen's width. A description over six lines is a wall
# of text on a projector (the speaker tells it), and six keep the scenario's screen, with up
# to six references, within 30 lines; a narrative over three would push a 20-line manifest off
# its step's screen.
DESCRIPTION_LINES: Final = 6
NARRATIVE_LINES: Final = 3
MATRIX_TITLE: Final = "The mental model: same policy, different enforcement point"


def _paragraphs(text: str) -> str:
    """YAML block text keeps its line breaks; let the terminal wrap paragraphs instead."""
    blocks = [" ".join(b.split()) for b in text.strip().split("\n\n")]
    return "\n\n".join(b for b in blocks if b)


def _step_number(scenario: Scenario, step: Step) -> int:
    for i, s in enumerate(scenario.steps, start=1):
        if s.name == step.name:
            return i
    return 0


class DemoObserver(RunObserver):
    """Narrates a run on a rich console, a screen at a time; `keys` (or `stream`, read a line
    at a time) answers the --interactive pauses."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        interactive: bool = False,
        stream: TextIO | None = None,
        keys: KeySource | None = None,
        height: int | None = None,
        on_boundary: Callable[[], None] | None = None,
    ) -> None:
        self.console = console if console is not None else demo_console()
        if keys is None and interactive:
            keys = keys_for(stream if stream is not None else sys.stdin)
        self.writer = ScreenWriter(
            self.console,
            height=height,
            interactive=interactive,
            keys=keys,
            on_boundary=on_boundary,
        )
        self.banner: Text | None = None  # on every screen (the replay's mark)
        self.scenarios: dict[str, Scenario] = {}
        self.results: list[ScenarioResult] = []
        self._status: Status | None = None
        self._probes_done = 0
        self._cells: CellLines = {}  # the tables' rendered cells: they repeat from table to table

    @property
    def interactive(self) -> bool:
        return self.writer.interactive

    # --- progress -------------------------------------------------------------------------

    def _spin(self, message: str) -> None:
        """A spinner on a terminal; nothing in a log (the outcome line follows anyway)."""
        self.stop_progress()
        if self.console.is_terminal:
            self._status = self.console.status(Text(message), spinner_style=style("phase"))
            self._status.start()

    def stop_progress(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def phase(self, message: str) -> None:
        if self.console.is_terminal:
            self._spin(f"{message} …")
        else:
            self.writer.add(Text.assemble(("▸ ", style("phase")), message, " …"))

    def phase_done(self, message: str, elapsed_s: float) -> None:
        self.stop_progress()
        self.writer.add(
            Text.assemble(("✔ ", style("pass")), message, (f" ({elapsed_s:.1f} s)", style("note")))
        )

    # --- headers ----------------------------------------------------------------------------

    def _header(self, *lines: RenderableType) -> Callable[[], list[RenderableType]]:
        banner = self.banner

        def header() -> list[RenderableType]:
            return [*([banner] if banner is not None else []), *lines]

        return header

    def _heading(self, number: int, total: int, title: str, suffix: str = "") -> Text:
        return Text.assemble(
            (f"Step {number}/{total} ", style("heading")), (title, style("title")), suffix
        )

    # --- scenarios and steps ----------------------------------------------------------------

    def scenario_started(self, scenario: Scenario) -> None:
        self.stop_progress()
        self.scenarios[scenario.name] = scenario
        self.show_scenario(
            scenario.name,
            scenario.title,
            scenario.description,
            scenario.references,
            scenario.dataplane,
        )

    def show_scenario(
        self,
        name: str,
        title: str,
        description: str,
        references: Sequence[str],
        dataplane: str,
    ) -> None:
        """The scenario's screen: its title, its description (folded when long), references."""
        self.writer.header = self._header()
        self.writer.boundary(f"see the next scenario: {name}")
        full = _paragraphs(description)
        folded = fold(self.console, full, self.console.width - 4, DESCRIPTION_LINES)
        body: list[RenderableType] = [Text(folded or full)]
        if references:
            inner = self.console.width - 6  # the panel's frame and the bullet
            refs = Text(
                "\n".join(f"• {fold_long_words(r, inner)}" for r in references),
                style=style("note"),
            )
            body += [Text(""), refs]
        panel = FramedPanel(
            Group(*body),
            title=Text(name, style=style("title")),
            title_align="left",
            subtitle=Text(f"{dataplane} data plane"),
            subtitle_align="right",
            box=box.ROUNDED,
        )
        more = [More(f"{name}: the description", full)] if folded else []
        rule = Rule(Text(title, style=style("title")), style=style("rule"))
        self.writer.add(rule, panel, more=more)

    def step_started(self, scenario: Scenario, step: Step, manifests: dict[str, str]) -> None:
        self.stop_progress()
        number, total = _step_number(scenario, step), len(scenario.steps)
        self.show_step(number, total, step.title, step.narrative, manifests, step.delete)
        self.writer.boundary(f"run step {number}/{total}: {step.title}")
        self.open_results(number, total, step.title)
        self._probes_done = 0
        self._spin(f"step {number}/{total}: applying and probing …")

    def show_step(
        self,
        number: int,
        total: int,
        title: str,
        narrative: str | None,
        manifests: Mapping[str, str],
        deleted: Sequence[str],
    ) -> None:
        """A step's screen(s), up to its probes: the title, the narrative, each manifest."""
        self.writer.header = self._header()
        if number > 1:
            self.writer.boundary(f"see step {number}/{total}: {title}")
        heading = self._heading(number, total, title)
        first: list[Block] = [Block(heading, gap=True)]
        more: list[More] = []
        if narrative:
            full = _paragraphs(narrative)
            folded = fold(self.console, full, self.console.width, NARRATIVE_LINES)
            first.append(Block(Text(folded or full, style=style("narrative"))))
            if folded:
                more.append(More(f"Step {number}/{total}: the narrative", full))
        # Every piece of a manifest fits the screen under the step's heading and narrative.
        fixed = sum(self.writer.height_of(r) for r in self._header(heading)())
        fixed += sum(self.writer.height_of(b.renderable) for b in first[1:])
        room = self.writer.height - 2 - fixed
        panels = [
            panel
            for path, text in manifests.items()
            for panel in manifest_panels(
                f"{'delete' if path in deleted else 'apply'} {path}",
                text,
                self.console.width,
                room,
            )
        ]
        self.writer.add(*first, *panels[:1], more=more)
        self.writer.header = self._header(self._heading(number, total, title, " (continued)"))
        for panel in panels[1:]:
            self.writer.add(panel)

    def open_results(self, number: int, total: int, title: str) -> None:
        """The results' screen opens with the step's title again."""
        self.writer.header = self._header()
        self.writer.add(Block(self._heading(number, total, title)))
        self.writer.header = self._header(self._heading(number, total, title, " (continued)"))

    def probe_finished(self, scenario: Scenario, step: Step, result: ProbeResult) -> None:
        self._probes_done += 1
        if self._status is not None:
            mark = SYMBOL[result.verdict]
            self._status.update(
                Text(f"probed {self._probes_done}/{len(step.probes)}: {result.client} {mark}")
            )

    def step_finished(self, scenario: Scenario, result: StepResult) -> None:
        self.stop_progress()
        self.show_results(result, lambda p: scenario_attribution(scenario, p), scenario.namespace)

    def show_results(
        self, result: StepResult, attribution: Attributor, home: str | None = None
    ) -> None:
        """The probe table of a step (in pieces that fit a screen), each failure's message,
        and the step's error."""
        if result.skipped_reason:
            self.writer.add(Text(result.skipped_reason, style=style("note")))
        for table in self._tables(result.probes, attribution, home):
            self.writer.add(table)
        for p in result.probes:
            if p.verdict != "pass" and p.message:
                self.writer.add(Text(f"{p.client}: {p.message}", style=style("fail")))
        if result.error:
            self.writer.add(Text(f"step error: {result.error}", style=style("fail")))

    def _tables(
        self, probes: Sequence[ProbeResult], attribution: Attributor, home: str | None
    ) -> list[Table]:
        width = self.console.width
        return self._fit_rows(
            probes,
            lambda rows: probe_table(rows, attribution, home, width=width, rendered=self._cells),
        )

    def _fit_rows(self, rows: Sequence[R], make: Callable[[Sequence[R]], Table]) -> list[Table]:
        """A table, cut between rows into tables that each fit a screen under the header: the
        most rows that fit, tried one fewer at a time. Once the first try is too tall, a try
        whose rows alone (`rows_height`) are too tall is not rendered."""
        room = self.writer.height - 2 - self._header_height()  # the footer, a blank line
        known: dict[tuple[str, int, bool, str], int] = {}
        tables: list[Table] = []
        rest = list(rows)
        while rest:
            n = len(rest)
            table = make(rest[:n])
            while n > 1 and self.writer.height_of(table) > room:
                n -= 1
                table = make(rest[:n])
                while n > 1 and rows_height(self.console, table, known) > room:
                    n -= 1
                    table = make(rest[:n])
            tables.append(table)
            rest = rest[n:]
        return tables

    def _header_height(self) -> int:
        header = self.writer.header
        return 0 if header is None else sum(self.writer.height_of(r) for r in header())

    def scenario_finished(self, result: ScenarioResult) -> None:
        self.stop_progress()
        self.results.append(result)
        verdict = result.verdict
        line = Text.assemble(
            (f"{SYMBOL[verdict]} {result.name} {VERDICT_WORD[verdict]}", STYLE[verdict]),
            f" ({steps_passed(result)} steps, {seconds(result.duration_s)})",
        )
        lines = [line] + [
            Text(reason, style=STYLE[verdict])
            for reason in (result.skipped_reason, result.error)
            if reason
        ]
        self.writer.add(Block(Group(*lines), gap=True))

    # --- the end ----------------------------------------------------------------------------

    def enforcement(self, result: ScenarioResult, probe: ProbeResult) -> str:
        scenario = self.scenarios.get(result.name)
        if scenario is not None:
            return marked(scenario_attribution(scenario, probe))
        return marked(attribute(result.dataplane, probe, probe.waypoint))

    def render_matrix(self, results: Sequence[ScenarioResult] | None = None) -> None:
        """Sidecar and ambient twins side by side: same policy, different enforcement point."""
        pairs = pair_scenarios(self.results if results is None else results)
        if not pairs:
            return
        rule = Rule(Text(MATRIX_TITLE), style=style("rule"))
        width = self.console.width
        self.writer.header = self._header()
        self.writer.boundary("see the mental model")
        self.writer.add(rule)
        continued = Rule(Text(MATRIX_TITLE + " (continued)"), style=style("rule"))
        self.writer.header = self._header(continued)
        for pair in pairs:
            rows = [
                MatrixRow(
                    row.step,
                    f"{row.target}\nas {_twin_identity(pair, row)}",
                    self._cell(pair.sidecar, row.sidecar),
                    self._cell(pair.ambient, row.ambient),
                )
                for row in comparison_rows(pair)
            ]
            title = f"{pair.topic}: {pair.sidecar.name} vs {pair.ambient.name}"
            for table in self._fit_rows(
                rows, partial(matrix_table, title, width=width, rendered=self._cells)
            ):
                self.writer.add(Block(table, gap=True))

    def _cell(self, result: ScenarioResult, probe: ProbeResult | None) -> tuple[str, str] | None:
        if probe is None:
            return None
        return describe_observed(probe), self.enforcement(result, probe)

    def finish(self, run: RunResult) -> None:
        """The matrix, the tally and, if anything failed, expected vs observed."""
        self.stop_progress()
        self.render_matrix(run.scenarios or self.results)
        s = summarize(run)
        self.writer.header = self._header()
        self.writer.boundary("see the tally")
        verdict = "pass" if s.failed == s.errors == 0 else "fail"
        self.writer.add(
            Text(summary_line(s), style=STYLE[verdict]),
            Text(environment_line(run.environment), style=style("note")),
        )
        failures = failure_summary(run)
        if failures:
            self.writer.add(Block(Text(failures), gap=True))
        findings = model_findings_summary(run)
        if findings:
            text = Text(findings)
            text.stylize(style("finding"), 0, findings.find(":"))
            self.writer.add(Block(text, gap=True))


def _twin_identity(pair: Pair, row: ComparisonRow) -> str:
    """The caller's identity, short (each twin in its own namespace): one name when both twins
    call as the same service account, else each side's."""
    names = {
        side: short_identity(probe, home.name)
        for side, probe, home in (
            ("sidecar", row.sidecar, pair.sidecar),
            ("ambient", row.ambient, pair.ambient),
        )
        if probe is not None
    }
    if len(set(names.values())) <= 1:
        return next(iter(names.values()), "?")
    return ", ".join(f"{name} ({side})" for side, name in names.items())
