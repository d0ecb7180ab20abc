"""Where the demo renders without rich's general machinery, it prints exactly what rich prints:
the same bytes on a coloured terminal (which hold a log's text). Its tables
(harness/cli/demo_fixed_table.py), for random tables of every shape the class accepts and of
shapes it leaves to rich, and for the demo's own, printed and as a screen's lines; its
one-line texts and screen boundaries (`one_line`); its wrapping (`demo_wrap`); the heights it
counts without wrapping (`text_height`)."""

from __future__ import annotations

import random
from functools import partial

from demo_layout import catalogue_scenario, colour_console, console
from fixtures import catalogue_run
from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.rule import Rule
from rich.segment import SegmentLines
from rich.table import Table
from rich.text import Text

from harness.cli.demo_fixed_table import CellLines, FixedTable
from harness.cli.demo_screens import (
    ONE_CELL,
    ScreenWriter,
    _word_wrapped_height,
    one_line,
    text_height,
)
from harness.cli.demo_tables import MatrixRow, matrix_table, probe_table
from harness.cli.demo_wrap import divide_line, group_lines, text_lines, wrap
from harness.judge.enforcement import scenario_attribution
from harness.report.document import load_json_report
from harness.report.words import describe_observed

WORDS = ["a", "to", "denied-l7", "(403", "RBAC:", "access", "denied)", "ztunnel*", "→", "≠",
         "漢字", "✔", "cluster.local/ns/ambient-authz-l7/sa/productpage",
         "x" * 31, "tab\there", "[bold]markup[/]", ":smile:"]  # fmt: skip
STYLES = ["", "bold", "dim", "italic", "magenta", "bold bright_red", "on blue", "reverse"]


class AsRich:
    """The same table, rendered by rich's own `Table.__rich_console__`."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return Table.__rich_console__(self.table, console, options)


def output(out: Console) -> str:
    """What a coloured console wrote, or what a plain one shows."""
    return out.file.getvalue() if out.is_terminal else out.export_text()  # type: ignore[attr-defined]


def plain(width: int) -> Console:
    return console(width)


def random_text(rng: random.Random) -> Text | str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(0, 4))]
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
        row_styles=rng.choice([[], ["", "dim"], ["on blue", ""]]),
        title=rng.choice([None, Text("a title", style="bold"), "a [dim]str[/] title"]),
        caption=rng.choice([None, Text("* inferred, not observed", style="dim"), "cap"]),
        caption_justify=rng.choice(["right", "left", "center"]),
        padding=rng.choice([(0, 1)] * 8 + [(0, 2), (1, 1)]),
    )
    for _ in range(rng.randint(1, 5)):
        table.add_column(
            rng.choice(["from → to", "expected", "observed", "", "enforced by", "x" * 15]),
            width=None if rng.random() < 0.02 else rng.randint(3, 16),
            overflow=rng.choice(["fold", "fold", "ellipsis", "crop"]),
            no_wrap=rng.random() < 0.2,
            justify=rng.choice(["left", "left", "right", "center"]),
            vertical=rng.choice(["top", "top", "middle", "bottom"]),
            style=rng.choice(STYLES),
            header_style=rng.choice(STYLES),
        )
    for _ in range(rng.randint(0, 3)):
        table.add_row(*(random_text(rng) for _ in table.columns))
    return table


def test_a_fixed_table_prints_what_rich_prints() -> None:
    # Seeded: tables of every shape, at widths where they fit and where rich narrows them; a
    # coloured terminal's bytes show every piece's text and style (and so the log's text).
    # A screen's lines of a table (`FixedTable.lines`, what `ScreenWriter` prints) are the
    # lines rich renders it to.
    rng = random.Random(15)
    consoles = {w: tuple(colour_console(w) for _ in range(3)) for w in (60, 100, 140)}
    fast = 0
    for _ in range(30):
        table = random_table(rng)
        width = rng.choice(list(consoles))
        ours, rich_own, screen = consoles[width]
        ours.print(table)
        rich_own.print(AsRich(table))
        fast += table._fixed_widths(ours.options) is not None
        lines = table.lines(screen, screen.options)
        assert (lines is None) == (table._fixed_widths(screen.options) is None)
        screen.print(AsRich(table) if lines is None else SegmentLines(lines, new_lines=True))
    for ours, rich_own, screen in consoles.values():
        assert output(ours) == output(rich_own) == output(screen)
    assert 15 < fast < 30  # both renderings were exercised


def test_a_screen_prints_a_fixed_table_as_rich_does() -> None:
    # What a screen prints of a table (its lines) is rich's lines, for a title or caption
    # that does not end its line (rich runs it into the next: the lines are rich's then), and
    # a screen that gives a height (rich pads the lines to it).
    for title, caption in ((Text("open", end=""), None), (None, Text("open", end="")),
                           (Text("a\ntitle"), Text("* inferred", justify="right"))):  # fmt: skip
        table = FixedTable(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False)
        table.add_column("from → to", width=9)
        table.add_column("expected", width=8, style="bold")
        table.add_row("a → b", Text("allowed", style="dim"))
        ours, rich_own = colour_console(40), colour_console(40)
        writer = ScreenWriter(ours)
        writer.add(table)
        shown = rich_own.render_lines(AsRich(table), rich_own.options, pad=False)
        rich_own.print(SegmentLines(shown, new_lines=True))
        assert output(ours) == output(rich_own), (title, caption)
        tall = ours.options.update(height=6)
        assert table.lines(ours, tall) is None
        if title is caption is None or (title is not None and title.end):
            assert table.lines(ours, ours.options) is not None


def test_a_table_boxed_in_wide_characters_is_rich_s() -> None:
    # rich counts a cell for each piece of a box between and around the columns: boxed in
    # characters two cells wide, a table that fits by that count is wider than the screen,
    # and rich crops its lines.
    wide = box.Box("＋＝＋＋\n｜ ｜｜\n＋＝＋＋\n｜ ｜｜\n＋＝＋＋\n＋＝＋＋\n｜ ｜｜\n＋＝＋＋\n")
    table = FixedTable(box=wide)
    table.add_column("from → to", width=12)
    table.add_column("expected", width=12)
    table.add_row("a → b", "allowed")
    ours, rich_own = colour_console(31), colour_console(31)
    ScreenWriter(ours).add(table)
    shown = rich_own.render_lines(AsRich(table), rich_own.options, pad=False)
    rich_own.print(SegmentLines(shown, new_lines=True))
    assert output(ours) == output(rich_own)
    assert table.lines(ours, ours.options) is None


def test_the_demo_tables_print_what_rich_prints() -> None:
    # Every step's probe table and a matrix of some, at 80 columns, the cells shared from
    # table to table as in a demo.
    run = load_json_report(catalogue_run.FIXTURE)
    rendered: CellLines = {}
    tables: list[Table] = []
    steps = [(sc, st) for sc in run.scenarios for st in sc.steps if st.probes]
    for i, (sc, st) in enumerate(steps):
        scenario = catalogue_scenario(sc.name)
        attribution = partial(scenario_attribution, scenario)
        tables.append(probe_table(st.probes, attribution, scenario.namespace, width=80,
                                  rendered=rendered))  # fmt: skip
        if i % 5 == 0:
            matrix = [MatrixRow(st.title, p.url, (describe_observed(p), "ztunnel*"), None)
                      for p in st.probes]  # fmt: skip
            tables.append(matrix_table(sc.title, matrix, width=80, rendered=rendered))
    # (A coloured terminal's bytes hold the log's text: one table in a log says so.)
    for out, shown in ((colour_console, tables), (plain, tables[:1])):
        ours, rich_own = out(80), out(80)
        screen = out(80)
        for table in shown:
            assert isinstance(table, FixedTable) and table._fixed_widths(ours.options)
            ours.print(table)
            rich_own.print(AsRich(table))
            lines = table.lines(screen, screen.options)
            assert lines is not None
            screen.print(SegmentLines(lines, new_lines=True))
        assert output(ours) == output(rich_own) == output(screen)
    assert len(tables) > 35


def random_line(rng: random.Random) -> Text | Rule:
    """A heading, a label or a boundary rule, mostly one that fits a line."""
    words = [rng.choice([*WORDS[:12], "Step 2/3", "⏸", " "]) for _ in range(rng.randint(0, 9))]
    text = Text(" ".join(words), style=rng.choice(STYLES), end=rng.choice(["\n", "\n", ""]))
    for _ in range(rng.randint(0, 3)):
        start = rng.randint(0, max(0, len(text) - 1))
        text.stylize(rng.choice(STYLES[1:]), start, start + rng.randint(1, 12))
    if rng.random() < 0.3:
        text.justify = rng.choice(["left", "right", "center", "full", "default"])
    if rng.random() < 0.05:
        text.append("\tand a tab")
    if rng.random() < 0.3:
        return Rule(text, characters=rng.choice(["┄", "─", "-="]), style=rng.choice(STYLES))
    return text


def test_one_line_prints_what_rich_prints() -> None:
    # Seeded, with what only rich renders: wider than the line (in cells, not characters),
    # a newline, a tab, a justification; and a rule's title that rich shortens. A block's
    # lines (`ScreenWriter`) are the text's rendered lines; a boundary prints the rule.
    rng = random.Random(15)
    shortcut = 0
    for width in (20, 100):
        ours, rich_own = colour_console(width), colour_console(width)
        edges = [Text("漢字" * (width // 3)), Text("x" * width), Text("x" * (width + 1)),
                 Text("a\nb"), Text(" "), Rule("x" * width), Rule(Text("漢" * width))]  # fmt: skip
        for line in edges + [random_line(rng) for _ in range(80)]:
            lines = one_line(ours, line, ours.options)
            if lines is not None:
                ours.print(SegmentLines(lines, new_lines=True))
                shown = ours.render_lines(line, ours.options, pad=False)
                rich_own.print(line if isinstance(line, Rule) else SegmentLines(shown, True))
            shortcut += lines is not None
        assert output(ours) == output(rich_own)
    assert 60 < shortcut < 170


def test_text_height_is_the_height_rich_wraps_to() -> None:
    # Seeded: lines of words one space apart (counted without rich) and texts only rich
    # wraps: a word wider than the line, doubled or trailing spaces, a tab, wide characters.
    assert all(cell_len(c) == 1 for c in ONE_CELL)
    rng = random.Random(15)
    out = console(100)
    pieces = ["a", "to", "word", "denied-l7", "(403", "RBAC:", "…", "[…]", "→", "ratings-v1),"]
    rare = ["x" * 30, "漢字", "e\u0301", "tab\there", "  ", "\n"]
    counted = 0
    for text, width in (("a  b", 1), ("a b ", 3), (" a", 1), ("x" * 9, 8), ("a\tb", 3)):
        assert text_height(out, text, width) == len(Text(text).wrap(out, width)), (text, width)
    for _ in range(200):
        words = [
            rng.choice(rare if rng.random() < 0.02 else pieces) for _ in range(rng.randint(0, 30))
        ]
        text = "".join(w + rng.choice([" "] * 12 + ["\n", "\n\n"]) for w in words)
        text = text.rstrip(" ") if rng.random() < 0.9 else text
        width = rng.randint(1, 60)
        assert text_height(out, text, width) == len(Text(text).wrap(out, width)), (text, width)
        counted += _word_wrapped_height(text, width) is not None
    assert 60 < counted < 200


def test_a_framed_panel_prints_what_rich_prints() -> None:
    # The scenarios' panels (a description, references; a title and a subtitle), in a style,
    # padded otherwise, given a height (rich's own), at widths from too narrow to roomy; the
    # lines a screen takes (`lines`) print the same as the panel.
    from rich.console import Group
    from rich.panel import Panel

    from harness.cli.demo_manifests import FramedPanel

    run = load_json_report(catalogue_run.FIXTURE)
    framed = 0
    for i, sc in enumerate(run.scenarios[::2]):
        body = Group(Text(sc.description or ""), Text(""), Text("\n".join(sc.references), "dim"))
        kwargs = {
            "title": Text(sc.name, style="bold"),
            "title_align": "left",
            "subtitle": Text(f"{sc.dataplane} data plane"),
            "subtitle_align": "right",
            "box": box.ROUNDED,
            "style": ["none", "dim"][i % 2],
            "padding": [(0, 1), (0, 2), (1, 1)][i % 3],
            "height": 12 if i % 5 == 4 else None,
        }
        for width in (12, 80):
            ours, rich_own, screen = (colour_console(width) for _ in range(3))
            panel = FramedPanel(body, **kwargs)  # type: ignore[arg-type]
            ours.print(panel)
            rich_own.print(Panel(body, **kwargs))  # type: ignore[arg-type]
            assert output(ours) == output(rich_own), (sc.name, width)
            lines = panel.lines(screen, screen.options)
            if lines is not None:
                framed += 1
                screen.print(SegmentLines(lines, new_lines=True))
                assert output(screen) == output(rich_own), (sc.name, width)
    assert 3 < framed < 14


def random_paragraphs(rng: random.Random) -> Text:
    """Words (some longer than a line, some not one cell wide, a tab) between spaces, doubled
    spaces and line breaks, leading and trailing ones too; in styles, justified, cut."""
    pieces = ["a", "to", "denied-l7", "(403", "RBAC:", "→", "✔", "…", "x" * 23, "漢字", "e\u0301",
              "tab\there", "ratings-v1),"]  # fmt: skip
    words = [
        rng.choice(pieces if rng.random() < 0.05 else pieces[:9]) for _ in range(rng.randint(0, 25))
    ]
    plain = "".join(rng.choice([" "] * 10 + ["  ", "\n", "\n\n"]) + w for w in words)
    text = Text(plain[rng.randint(0, 1) :], style=rng.choice(STYLES))
    for _ in range(rng.randint(0, 3)):
        start = rng.randint(0, max(0, len(text) - 1))
        text.stylize(rng.choice(STYLES[1:]), start, start + rng.randint(1, 30))
    if rng.random() < 0.3:
        text.justify = rng.choice(["left", "right", "center", "full", "default"])
    if rng.random() < 0.2:
        text.overflow = rng.choice(["fold", "crop", "ellipsis", "ignore"])
    if rng.random() < 0.1:
        text.no_wrap = rng.choice([True, False])
    return text


def test_wrap_is_rich_s_wrap() -> None:
    # Seeded: the lines `wrap` makes are the lines rich makes (their text, styles and
    # justification), at widths from one cell to wider than the text, with the options a
    # table cell or a screen passes; and `divide_line` breaks where rich's does.
    from rich._wrap import divide_line as rich_divide_line

    rng = random.Random(15)
    out = colour_console(100)
    counted = 0
    for _ in range(200):
        text = random_paragraphs(rng)
        width = rng.choice([1, 2, 5, 9, 14, 22, 40, 100])
        kwargs = {
            "justify": rng.choice([None, None, "left", "default", "right", "center", "full"]),
            "overflow": rng.choice([None, None, "fold", "crop", "ellipsis", "ignore"]),
            "no_wrap": rng.choice([None, None, True, False]),
        }
        ours = wrap(out, text.copy(), width, **kwargs)  # type: ignore[arg-type]
        theirs = text.copy().wrap(out, width, **kwargs)  # type: ignore[arg-type]
        assert [(t.plain, t.spans, t.style) for t in ours] == [
            (t.plain, t.spans, t.style) for t in theirs
        ], (text, width, kwargs)
        for line in text.plain.split("\n"):
            if ONE_CELL.issuperset(line):
                counted += 1
                for fold in (True, False):
                    assert divide_line(line, width, fold) == rich_divide_line(line, width, fold)
    assert counted > 250


def test_a_screen_prints_a_text_as_rich_does() -> None:
    # Seeded: the lines a screen prints of a text (`text_lines`) are rich's lines of it.
    rng = random.Random(15)
    for width in (9, 40, 100):
        ours, rich_own = colour_console(width), colour_console(width)
        # (A text's end shows when its last line is empty.)
        edges = [
            Text(t, end=end) for t in ("", "a\n", "\n", "x" * (width + 1)) for end in ("\n", "")
        ]
        randoms = [random_paragraphs(rng) for _ in range(30)]
        for text in randoms:
            text.end = rng.choice(["\n", ""])
        for text in edges + randoms:
            lines = text_lines(ours, text, ours.options)
            assert lines is not None
            ours.print(SegmentLines(lines, new_lines=True))
            shown = rich_own.render_lines(text, rich_own.options, pad=False)
            rich_own.print(SegmentLines(shown, new_lines=True))
        assert output(ours) == output(rich_own)
        assert text_lines(ours, Text("a"), ours.options.update(height=3)) is None


def test_a_screen_prints_a_group_of_texts_as_rich_does() -> None:
    # Seeded: a group's lines (`group_lines`) are rich's lines of it, where every text ends its
    # last line; a text that does not runs into the next one's first line, which rich renders.
    from rich.console import Group

    rng = random.Random(15)
    grouped = 0
    for width in (9, 40, 100):
        ours, rich_own = colour_console(width), colour_console(width)
        for _ in range(15):
            texts = [random_paragraphs(rng) for _ in range(rng.randint(1, 4))]
            for text in texts:
                text.end = rng.choice(["\n"] * 5 + [""])
            group = Group(*texts)
            lines = group_lines(ours, group, ours.options)
            assert (lines is None) == any(t.end != "\n" for t in texts)
            if lines is not None:
                grouped += 1
                ours.print(SegmentLines(lines, new_lines=True))
                shown = rich_own.render_lines(group, rich_own.options, pad=False)
                rich_own.print(SegmentLines(shown, new_lines=True))
        assert output(ours) == output(rich_own)
    assert 10 < grouped < 45
