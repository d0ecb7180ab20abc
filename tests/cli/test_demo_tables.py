"""The demo's tables (harness/cli/demo_fixed_table.py) print exactly what rich's `Table` prints:
the same bytes on a coloured terminal and in a log, for random tables of every shape the
class accepts and of shapes it leaves to rich, and for the demo's own tables."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from demo_layout import colour_console, console
from fixtures import catalogue_run
from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from harness.cli.demo_fixed_table import CellLines, FixedTable
from harness.cli.demo_tables import MatrixRow, matrix_table, probe_table
from harness.judge.enforcement import attribute
from harness.report.document import load_json_report
from harness.report.words import describe_observed

WORDS = ["a", "to", "denied-l7", "(403", "RBAC:", "access", "denied)", "ztunnel*", "→", "≠",
         "漢字", "✔", "cluster.local/ns/ambient-authz-l7-no-waypoint/sa/bookinfo-productpage",
         "x" * 31, "tab\there", "[bold]markup[/]", ":smile:"]  # fmt: skip
STYLES = ["", "bold", "dim", "italic", "magenta", "bold bright_red", "on blue", "reverse"]


class AsRich:
    """The same table, rendered by rich's own `Table.__rich_console__`."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return Table.__rich_console__(self.table, console, options)


def printed(make: Callable[[int], Console], width: int, renderable: object) -> str:
    out = make(width)
    out.print(renderable)
    return out.file.getvalue() if isinstance(out.file, io.StringIO) else out.export_text()


def plain(width: int) -> Console:
    return console(width)


def random_text(rng: random.Random) -> Text | str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(0, 5))]
    joined = "".join(w + rng.choice([" ", " ", "  ", "\n"]) for w in words).rstrip(" ")
    if rng.random() < 0.2:
        return joined
    text = Text(joined, style=rng.choice(STYLES))
    for _ in range(rng.randint(0, 3)):
        start = rng.randint(0, max(0, len(joined) - 1))
        text.stylize(rng.choice(STYLES[1:]), start, start + rng.randint(1, 12))
    if rng.random() < 0.1:
        text.overflow = rng.choice(["fold", "crop", "ellipsis"])
    if rng.random() < 0.1:
        text.no_wrap = rng.choice([True, False])
    if rng.random() < 0.1:
        text.justify = rng.choice(["left", "right", "center", "full"])
    return text


def random_table(rng: random.Random) -> FixedTable:
    table = FixedTable(
        box=rng.choice([box.SIMPLE_HEAD, box.SIMPLE_HEAD, box.ROUNDED, box.SIMPLE, None]),
        show_edge=rng.random() < 0.3,
        pad_edge=rng.random() < 0.3,
        show_lines=rng.random() < 0.4,
        show_header=rng.random() < 0.9,
        header_style=rng.choice(["table.header", "bold magenta", ""]),
        row_styles=rng.choice([[], ["", "dim"]]),
        title=rng.choice([None, Text("a title", style="bold"), "a [dim]str[/] title"]),
        caption=rng.choice([None, Text("* inferred, not observed", style="dim"), "cap"]),
        caption_justify=rng.choice(["right", "left", "center"]),
        padding=rng.choice([(0, 1)] * 6 + [(0, 2), (1, 1)]),
    )
    for _ in range(rng.randint(1, 5)):
        table.add_column(
            rng.choice(["from → to", "expected", "observed", "", "enforced by", "x" * 15]),
            width=None if rng.random() < 0.02 else rng.randint(1, 16),
            overflow=rng.choice(["fold", "fold", "ellipsis", "crop"]),
            no_wrap=rng.random() < 0.2,
            justify=rng.choice(["left", "left", "right", "center"]),
            vertical=rng.choice(["top", "top", "middle", "bottom"]),
            style=rng.choice(STYLES),
            header_style=rng.choice(STYLES),
        )
    for _ in range(rng.randint(0, 4)):
        table.add_row(*(random_text(rng) for _ in table.columns))
    return table


def test_a_fixed_table_prints_what_rich_prints() -> None:
    # Seeded: tables of every shape, at widths where they fit and where rich narrows them; a
    # coloured terminal's bytes show every piece's text and style (and so the log's text).
    rng = random.Random(15)
    fast = 0
    for _ in range(70):
        table = random_table(rng)
        width = rng.choice([30, 100, 140])
        assert printed(colour_console, width, table) == printed(
            colour_console, width, AsRich(table)
        )
        fast += table._fixed_widths(colour_console(width).options) is not None
    assert 35 < fast < 70  # both renderings were exercised


def test_the_demo_tables_print_what_rich_prints() -> None:
    # Every step's probe table and a matrix of its probes at 80 columns, the cells shared
    # from table to table as in a demo (on consoles alike: the same theme).
    run = load_json_report(catalogue_run.FIXTURE)
    rendered: CellLines = {}
    tables: list[Table] = []
    for sc in run.scenarios:
        for st in sc.steps:
            if st.probes:
                matrix = [MatrixRow("s", p.url, (describe_observed(p), "ztunnel*"), None)
                          for p in st.probes]  # fmt: skip
                tables += [
                    probe_table(st.probes, lambda p: attribute("ambient", p, p.waypoint),
                                sc.name, width=80, rendered=rendered),
                    matrix_table("t", matrix, width=80, rendered=rendered),
                ]  # fmt: skip
    for table in tables:
        assert isinstance(table, FixedTable) and table._fixed_widths(console(80).options)
        assert printed(colour_console, 80, table) == printed(colour_console, 80, AsRich(table))
    assert len(tables) > 50
    assert printed(plain, 80, tables[0]) == printed(plain, 80, AsRich(tables[0]))
