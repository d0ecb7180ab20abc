"""The demo's tables: the probes of a step (who called whom — method, headers, identity —,
expected, observed, the verdict, the component that enforced it, starred because it is
inferred) and the mental-model matrix.

Laid out for a projector at 80 and 100 columns: the widths are computed here, not left to
rich, so that no column is narrower than its longest word (no word is broken; a word longer
than `MAX_WORD`, a URL, breaks after a `/`) and an observed outcome takes at most two lines
(`denied-l7 (403 RBAC: access denied)` never three).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.cli.demo_fixed_table import CellLines, FixedTable
from harness.cli.demo_manifests import break_word
from harness.cli.demo_style import VERDICT_ROLE, style
from harness.judge.enforcement import INFERRED, Attribution
from harness.model.describe import describe_expect
from harness.model.results import ProbeResult
from harness.report.words import (
    SYMBOL,
    describe_identity,
    describe_observed,
    describe_predicted,
    describe_target,
    seconds,
)

STYLE: Final = {v: style(r) for v, r in VERDICT_ROLE.items()}

Attributor = Callable[[ProbeResult], Attribution]
INFERENCE_MARK: Final = "*"
INFERENCE_NOTE: Final = f"{INFERENCE_MARK} {INFERRED}, not observed"
MAX_WORD: Final = 44  # a longer word breaks after a `/` rather than squeezing every column
GAP: Final = 1  # rich's SIMPLE boxes put one column of space between two columns
PAD: Final = 2  # and each column has a space either side (none at the table's edges)


def marked(a: Attribution) -> str:
    """`ztunnel*`: the starred component is an inference (see the caption). What it is
    inferred from is in the observed column; the reports spell it out (`Attribution.text`)."""
    return a.shown if a.component is None else f"{a.component}{INFERENCE_MARK}"


def longest_word(texts: Sequence[str], least: int = 1) -> int:
    return max([least, *(len(w) for t in texts for w in t.split())])


def lines_at(text: str, width: int) -> int:
    """How many lines `text` takes wrapped between words at `width` (as rich wraps)."""
    lines, current = 0, -1
    for line in text.splitlines() or [""]:
        lines, current = lines + 1, -1
        for word in line.split():
            if current >= 0 and current + 1 + len(word) <= width:
                current += 1 + len(word)
            elif current < 0:
                current = len(word)
            else:
                lines, current = lines + 1, len(word)
    return lines


def within_lines(texts: Sequence[str], lines: int, cap: int) -> int:
    """The narrowest width at which every text takes at most `lines` lines (at most `cap`)."""
    width = longest_word(texts)
    while width < cap and any(lines_at(t, width) > lines for t in texts):
        width += 1
    return width


@dataclass
class Column:
    floor: int  # the longest word: narrower would break one
    least: int  # what the column would like at least (an outcome on two lines)
    most: int  # every cell on one line
    share: int  # how the room beyond `least` is shared
    first: bool = False  # served before the others (outcomes on one line when they can be)


def allot(columns: Sequence[Column], room: int) -> list[int]:
    """Each column its least width (or, when they do not all fit, as little above its floor
    as they need), then the rest shared by `share` up to each one's most."""
    widths = [max(c.floor, c.least) for c in columns]
    over = sum(widths) - room
    for i in sorted(range(len(columns)), key=lambda i: -columns[i].share):
        give = min(max(0, over), widths[i] - columns[i].floor)
        widths[i] -= give
        over -= give
    spare = room - sum(widths)
    served = [i for i, c in enumerate(columns) if c.first]
    while spare > 0 and served:  # a column at a time, so that twins grow alike
        served = [i for i in served if widths[i] < columns[i].most]
        for i in served[:spare]:
            widths[i] += 1
            spare -= 1
    while spare > 0:
        open_ = [i for i, c in enumerate(columns) if widths[i] < c.most]
        if not open_:
            break
        total = sum(columns[i].share for i in open_)
        given = 0
        for i in open_:
            add = min(columns[i].most - widths[i], max(1, spare * columns[i].share // total))
            add = min(add, spare - given)
            widths[i] += add
            given += add
        spare -= given
        if given == 0:
            break
    return widths


def room_for(width: int, columns: int) -> int:
    return width - (columns - 1) * (GAP + PAD)


def fold_long_words(text: str, longest: int = MAX_WORD) -> str:
    """Words longer than `longest`, broken after a `/` on lines of their own."""
    return " ".join(
        "\n".join(break_word(w, longest)) if len(w) > longest else w for w in text.split(" ")
    )


MODEL_NOTE_MARK: Final = "≠ model:"


def model_note(p: ProbeResult) -> str | None:
    """`≠ model: denied-l4 at destination ztunnel` when the observation disagrees with the
    mesh model's prediction (a model finding), else None."""
    if p.model is None or p.model.verdict != "disagrees" or p.predicted is None:
        return None
    return f"{MODEL_NOTE_MARK} {describe_predicted(p)}"


def short_identity(p: ProbeResult, home: str | None) -> str:
    """`bookinfo-productpage`, or `other-ns/bookinfo-productpage` outside the namespace `home`:
    short enough for a projector; the reports carry the full principal."""
    principal = p.identity or ""
    parts = principal.split("/")
    if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa":
        return parts[4] if parts[2] == home else f"{parts[2]}/{parts[4]}"
    return describe_identity(p)


def _table(rendered: CellLines | None, caption: bool = True) -> Table:
    return FixedTable(
        cells=rendered,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        caption=Text(INFERENCE_NOTE, style=style("note")) if caption else None,
        caption_justify="right",
    )


def probe_table(
    probes: Sequence[ProbeResult],
    attribution: Attributor,
    home: str | None = None,
    *,
    width: int | None = None,
    rendered: CellLines | None = None,
) -> Table:
    """from → to (as whom), expected, observed, ✔/✘, enforced by (after how long); at most
    `width` columns wide (no limit: every cell on one line). `rendered`: the rendered cells of
    the console's tables so far (harness/cli/demo_fixed_table.py)."""
    room = room_for(width, 5) - 1 if width is not None else 10_000
    longest = min(MAX_WORD, room // 2)
    targets = [fold_long_words(describe_target(p), longest) for p in probes]
    idents = [fold_long_words("as " + short_identity(p, home), longest) for p in probes]
    expected = [describe_expect(p.expect) for p in probes]
    observed = [describe_observed(p) for p in probes]
    # The talk is about the mental model: where the model predicted otherwise, say what.
    disagree = [model_note(p) for p in probes]
    enforced = [marked(attribution(p)) for p in probes]
    afters = [f"after {seconds(p.time_to_consistency_s)}" for p in probes]
    two_lines = within_lines(observed, 2, cap=room // 3)
    widths = allot(
        [
            _column([*targets, *idents, "from → to"], share=4),
            _column([*expected, "expected"], share=2),
            _column(
                [*observed, *filter(None, disagree), "observed"],
                share=5,
                least=two_lines,
                first=True,
            ),
            _column([*enforced, *afters, "enforced by"], share=1, least=11),
        ],
        room,
    )
    table = _table(rendered)
    if any(disagree):
        table.caption = Text.assemble(
            (f"{MODEL_NOTE_MARK} the mesh model's prediction (a finding, no verdict changed)",
             style("finding")),
            "\n",
            (INFERENCE_NOTE, style("note")),
        )  # fmt: skip
    for header, w in zip(("from → to", "expected", "observed"), widths[:3], strict=True):
        table.add_column(header, width=w, overflow="fold")
    table.add_column("", width=1, no_wrap=True)
    table.add_column("enforced by", width=widths[3], overflow="fold")
    for p, target, ident, exp, obs, note, comp, after in zip(
        probes, targets, idents, expected, observed, disagree, enforced, afters, strict=True
    ):
        table.add_row(
            Text.assemble(target, "\n", (ident, style("note"))),
            Text(exp),
            Text.assemble(obs, *(("\n", (note, style("finding"))) if note else ())),
            Text(SYMBOL[p.verdict], style=STYLE[p.verdict]),
            Text.assemble((comp, style("component")), "\n", (after, style("note"))),
        )
    return table


def _column(texts: Sequence[str], *, share: int, least: int = 0, first: bool = False) -> Column:
    return Column(longest_word(texts), least, _longest_line(texts), share, first)


def _longest_line(texts: Sequence[str]) -> int:
    return max([1, *(len(line) for t in texts for line in t.splitlines())])


@dataclass
class MatrixRow:
    step: str
    target: str
    sidecar: tuple[str, str] | None  # observed, enforcement
    ambient: tuple[str, str] | None


def matrix_table(
    title: str, rows: Sequence[MatrixRow], *, width: int = 100, rendered: CellLines | None = None
) -> Table:
    """The twins' probes side by side: what each data plane did and which component did it."""
    room = room_for(width, 3)
    targets = [fold_long_words(r.target, min(MAX_WORD, room // 3)) for r in rows]
    steps = [r.step for r in rows]
    cells = [f"{c[0]}\n→ {c[1]}" for r in rows for c in (r.sidecar, r.ambient) if c is not None]
    two_lines = within_lines([c.split("\n")[0] for c in cells] or ["—"], 2, cap=room // 3)
    widths = allot(
        [
            _column([*targets, *steps, "step: client →", "destination"], share=3),
            _column([*cells, "sidecar"], share=4, least=two_lines, first=True),
            _column([*cells, "ambient"], share=4, least=two_lines, first=True),
        ],
        room,
    )
    table = _table(rendered)
    table.title = Text(title)
    table.show_lines = True
    for header, w in zip(("step: client → destination", "sidecar", "ambient"), widths, strict=True):
        table.add_column(header, width=w, overflow="fold")
    for row, target in zip(rows, targets, strict=True):
        table.add_row(
            Text.assemble((row.step, style("note")), "\n", target),
            _matrix_cell(row.sidecar),
            _matrix_cell(row.ambient),
        )
    return table


def rows_height(
    console: Console, table: Table, known: dict[tuple[str, int, bool, str], int]
) -> int:
    """At most the height of a table of this module (`_table`) as rich renders it, and far
    cheaper to find: its rows alone, each as tall as its tallest cell wrapped at its column's
    width. 0 when the columns do not fit the console: rich then narrows some, to nothing if
    need be. `known` keeps each cell's height by text, width and wrapping, for the next table
    of the same rows."""
    widths = [c.width for c in table.columns]
    if None in widths or sum(filter(None, widths)) > room_for(console.width, len(widths)):
        return 0
    heights = [1] * table.row_count
    for column in table.columns:
        for row, cell in enumerate(column.cells):
            if not isinstance(cell, Text) or column.width is None or "\t" in cell.plain:
                continue  # one line at least
            no_wrap = column.no_wrap if cell.no_wrap is None else cell.no_wrap
            overflow = cell.overflow or column.overflow
            key = (cell.plain, column.width, no_wrap, overflow)
            if key not in known:
                lines = cell.wrap(console, column.width, overflow=overflow, no_wrap=no_wrap)
                known[key] = len(lines)
            heights[row] = max(heights[row], known[key])
    return sum(heights)


def _matrix_cell(cell: tuple[str, str] | None) -> Text:
    if cell is None:
        return Text("—", style=style("note"))
    return Text.assemble(cell[0], "\n", ("→ " + cell[1], style("component")))
