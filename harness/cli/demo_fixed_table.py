"""A rich `Table` whose columns all have a fixed width (the demo's tables: the widths are
computed in harness/cli/demo_tables.py), rendered without rich's general layout.

rich lays out every table the same way: each cell in a `Padding`, rendered to lines, cropped
and padded again at each of three levels, aligned and shaped, which was a third of a demo's
CPU. When every column's width is given and the columns fit, that layout has nothing to
decide: each cell is its text wrapped at the column's width (as `Text.__rich_console__`
wraps it), with the padding either side, and the rows are the cells side by side.
`FixedTable` renders exactly those segments, in the same pieces and styles, and renders a
cell once for all the tables of a console (two thirds of a demo's cells repeat: verdicts,
expectations, headers). Anything else (a width left to rich, columns that do not fit, a
footer, a cell that is not text) is rendered by rich's `Table`. It follows `Table._render`
of rich 14 and reads some of its private attributes: tests/cli/test_demo_tables.py prints
random tables and the demo's both ways and compares the bytes, so that a rich release that
renders otherwise fails there, not on a projector.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, Final, cast

from rich.box import Box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.table import Column, Table
from rich.text import Text

from harness.cli.demo_wrap import wrapped_segments

_NULL: Final = Style.null()
_NEW_LINE: Final = Segment.line()
_BOX_PIECES: Final = (  # a `Box`'s characters (the eight lines of its source)
    "top_left", "top", "top_divider", "top_right", "head_left", "head_vertical", "head_right",
    "head_row_left", "head_row_horizontal", "head_row_cross", "head_row_right",
    "mid_left", "mid_vertical", "mid_right", "row_left", "row_horizontal", "row_cross",
    "row_right", "foot_row_left", "foot_row_horizontal", "foot_row_cross", "foot_row_right",
    "foot_left", "foot_vertical", "foot_right", "bottom_left", "bottom", "bottom_divider",
    "bottom_right",
)  # fmt: skip
Line = tuple[Segment, ...]
CellLines = dict[Hashable, list[Line]]


class FixedTable(Table):
    """A `Table`; rendered as rich would, more cheaply when every column has a fixed width.
    `cells` keeps rendered cells for the next tables printed on the same console (its theme
    gives the styles their meaning; everything else they depend on is in the key)."""

    def __init__(self, *args: Any, cells: CellLines | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cells: CellLines = cells if cells is not None else {}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = self._fixed_widths(options)
        if widths is None:
            yield from super().__rich_console__(console, options)
            return
        render_options = self._render_options(options, widths)
        if self.title:
            yield from self._title_segments(console, render_options)
        for line in self._rows(console, render_options, widths):
            yield from line
            yield _NEW_LINE
        if self.caption:
            yield from self._caption_segments(console, render_options)

    def lines(self, console: Console, options: ConsoleOptions) -> list[list[Segment]] | None:
        """`console.render_lines(self, options, pad=False)` without splitting the segments
        into lines again and measuring every line to crop it: the rows are lines already,
        each exactly as wide as the table, which fits (`_fixed_widths`), so rich's cropping
        copies them as they are. Only a title or a caption is split (and cropped) as rich
        splits it. None where rich lays the table out, where the options give a height
        (rich pads to it), or where an annotation does not end its last line (rich would run
        it into the next)."""
        if options.max_width < 1 or options.height is not None:
            return None
        widths = self._fixed_widths(options)
        if widths is None:
            return None
        render_options = self._render_options(options, widths)
        title = self._annotation_lines(console, options, render_options, "title")
        caption = self._annotation_lines(console, options, render_options, "caption")
        if title is None or caption is None:
            return None
        return [*title, *self._rows(console, render_options, widths), *caption]

    def _annotation_lines(
        self,
        console: Console,
        options: ConsoleOptions,
        render_options: ConsoleOptions,
        which: str,
    ) -> list[list[Segment]] | None:
        """The title's or the caption's lines (none without one), kept in `cells` by
        everything they depend on (the probe tables of a demo share their caption)."""
        text = self.title if which == "title" else self.caption
        if not text:
            return []
        annotation_style = self.title_style if which == "title" else self.caption_style
        justify = self.title_justify if which == "title" else self.caption_justify
        shown = (text, render_options.markup) if isinstance(text, str) else (
            _text_key(text), render_options.overflow, render_options.no_wrap,
        )  # fmt: skip
        key = ("annotation", which, shown, annotation_style, justify, render_options.max_width,
               options.max_width, console.tab_size)  # fmt: skip
        cached = self.cells.get(key)
        if cached is None:
            segments = self._title_segments if which == "title" else self._caption_segments
            lines = _split(segments(console, render_options), options)
            if lines is None:
                return None
            cached = self.cells[key] = [tuple(line) for line in lines]
        return [list(line) for line in cached]

    def _render_options(self, options: ConsoleOptions, widths: list[int]) -> ConsoleOptions:
        return options.update(
            width=sum(widths) + self._extra_width, highlight=self.highlight, height=None
        )

    def _title_segments(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        assert self.title
        return self._annotation(
            console, options, self.title, self.title_style, "table.title", self.title_justify
        )

    def _caption_segments(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        assert self.caption
        return self._annotation(
            console, options, self.caption, self.caption_style, "table.caption",
            self.caption_justify,
        )  # fmt: skip

    def _fixed_widths(self, options: ConsoleOptions) -> list[int] | None:
        """Each column's width with its padding, as rich's layout finds it, when that layout
        has nothing to decide; otherwise None (rich's own rendering)."""
        if (
            not self.columns
            or self.width is not None
            or self.expand
            or self.min_width is not None
            or self.show_footer
            or self.leading
            or self.collapse_padding
            or self.padding[0]
            or self.padding[2]
            or any(row.end_section for row in self.rows)
        ):
            return None
        widths = []
        for column in self.columns:
            if column.width is None or column.width < 1:
                return None
            widths.append(column.width + self._get_padding_width(column._index))
        if sum(widths) > options.max_width - self._extra_width:
            return None  # rich narrows some columns
        if self.box and not all(cell_len(c) == 1 for c in _box_characters(self.box)):
            return None  # rich's layout counts one cell for each (`_extra_width`)
        cells = (c for column in self.columns for c in (column.header, *column.cells))
        if not all(isinstance(c, str) or type(c) is Text for c in cells):
            return None
        return widths

    @staticmethod
    def _annotation(
        console: Console,
        options: ConsoleOptions,
        text: str | Text,
        style: str | Style | None,
        default: str,
        justify: str,
    ) -> Iterable[Segment]:
        """A title or caption, as `Table.__rich_console__` renders one."""
        shown = (
            console.render_str(text, style=Style.pick_first(style, default), highlight=False)
            if isinstance(text, str)
            else text
        )
        return console.render(shown, options.update(justify=justify))  # type: ignore[arg-type]

    def _rows(
        self, console: Console, options: ConsoleOptions, widths: list[int]
    ) -> list[list[Segment]]:
        """`Table._render` for fixed widths: the same segments, without the layout, in its
        lines (each as wide as the table: every cell's lines are as wide as its column)."""
        get_style = console.get_style
        table_style = get_style(self.style or "")
        border_style = table_style + get_style(self.border_style or "")
        safe = self.safe_box if self.safe_box is not None else console.safe_box
        box = self.box.substitute(options, safe=safe) if self.box else None
        box = box.get_plain_headed_box() if box and not self.show_header else box
        edge = self.show_edge
        last_column = len(self.columns) - 1
        pads = [
            (
                0 if (i == 0 and not self.pad_edge) else self.padding[3],
                0 if (i == last_column and not self.pad_edge) else self.padding[1],
            )
            for i in range(len(self.columns))
        ]
        # (The cells are text: `_fixed_widths`.)
        rows: list[tuple[Style, bool, list[tuple[Style, Any]]]] = []
        if self.show_header:
            header = get_style(self.header_style or "")
            headers = [(header + get_style(c.header_style), c.header) for c in self.columns]
            rows.append((_NULL, True, headers))
        column_styles = [get_style(c.style or "") for c in self.columns]
        for index in range(len(self.rows)):
            row_style = get_style(self.get_row_style(console, index))
            body = [(s, c._cells[index]) for s, c in zip(column_styles, self.columns, strict=True)]
            rows.append((row_style, False, body))
        out: list[list[Segment]] = []
        if box:
            sides = [
                (Segment(a, border_style), Segment(b, border_style), Segment(c, border_style))
                for a, b, c in (
                    (box.head_left, box.head_right, box.head_vertical),
                    (box.mid_left, box.mid_right, box.mid_vertical),
                    (box.foot_left, box.foot_right, box.foot_vertical),
                )
            ]  # fmt: skip
            if edge:
                out.append([Segment(box.get_top(widths), border_style)])
        for index, (row_style, header_row, row) in enumerate(rows):
            first, last = index == 0, index == len(rows) - 1
            rendered = []
            for width, (left, right), (style, cell), column in zip(
                widths, pads, row, self.columns, strict=True
            ):
                lines = self._cell_lines(
                    console, options, cell, column, width - left - right, (left, right),
                    style + row_style,
                )  # fmt: skip
                rendered.append((lines, style + row_style, width, column.vertical))
            height = max(len(lines) for lines, _, _, _ in rendered)
            shaped = [
                _align(lines, "bottom" if header_row else vertical, width, height, style)
                for lines, style, width, vertical in rendered
            ]
            if not height:  # no cell has a line: rich shapes each to a blank one
                height, shaped = 1, [[(Segment(" " * w),)] for w in widths]
            if box:
                left_edge, right_edge, divider = sides[0 if first else (2 if last else 1)]
                if not divider.text.strip():
                    divider = Segment(divider.text, row_style.background_style + divider.style)
                for line_no in range(height):
                    line = [left_edge] if edge else []
                    for i, cell_lines in enumerate(shaped):
                        line.extend(cell_lines[line_no])
                        if i != last_column:
                            line.append(divider)
                    if edge:
                        line.append(right_edge)
                    out.append(line)
            else:
                for line_no in range(height):
                    out.append([s for cell_lines in shaped for s in cell_lines[line_no]])
            if box and first and self.show_header:
                out.append([Segment(box.get_row(widths, "head", edge=edge), border_style)])
            if box and self.show_lines and not last and not (self.show_header and header_row):
                out.append([Segment(box.get_row(widths, "row", edge=edge), border_style)])
        if box and edge:
            out.append([Segment(box.get_bottom(widths), border_style)])
        return out

    def _cell_lines(
        self,
        console: Console,
        options: ConsoleOptions,
        cell: str | Text,
        column: Column,
        width: int,
        pads: tuple[int, int],
        style: Style,
    ) -> list[Line]:
        """A cell's lines as rich renders its `Padding`: the text wrapped at `width` as
        `Text.__rich_console__` wraps it (the column's justify, overflow and no_wrap unless
        the text has its own), padded to the width, the padding either side, `style` under
        every piece. Kept in `cells` by everything they depend on: a table's cells repeat
        (a verdict, an expectation, a header), and so do the cells of the tables of a demo."""
        shown = (
            (cell, options.markup, column.highlight) if isinstance(cell, str) else _text_key(cell)
        )
        key = (shown, column.justify, column.overflow, column.no_wrap, width, pads, style,
               console.tab_size)  # fmt: skip
        lines = self.cells.get(key)
        if lines is None:
            lines = self.cells[key] = _render_cell(console, options, cell, column, width,
                                                   pads, style)  # fmt: skip
        return lines


def _render_cell(
    console: Console,
    options: ConsoleOptions,
    cell: str | Text,
    column: Column,
    width: int,
    pads: tuple[int, int],
    style: Style,
) -> list[Line]:
    text = (
        console.render_str(cell, highlight=column.highlight, markup=options.markup)
        if isinstance(cell, str)
        else cell
    )
    segments = wrapped_segments(
        console,
        text,
        width,
        justify=column.justify or "default",
        overflow=column.overflow or "fold",
        no_wrap=bool(column.no_wrap),
    )
    body = Segment.split_and_crop_lines(segments, width, style=_NULL, include_new_lines=False)
    left, right = pads
    before = (Segment(" " * left, _NULL),) if left else ()
    after = (Segment(" " * right, _NULL),) if right else ()
    lines = [(*before, *line, *after) for line in body]
    if style:
        lines = [tuple(Segment.apply_style(line, style)) for line in lines]
    return lines


def _text_key(text: Text) -> Hashable:
    """Everything of a text its rendering depends on."""
    return (text.plain, tuple(text.spans), text.style, text.justify, text.overflow,
            text.no_wrap, text.end, text.tab_size)  # fmt: skip


def _split(segments: Iterable[Segment], options: ConsoleOptions) -> list[list[Segment]] | None:
    """An annotation's lines as `Console.render_lines` splits and crops them (None when its
    last line is not ended: rich would run it into the table's next line)."""
    pieces = list(segments)
    if pieces and (pieces[-1].control or not pieces[-1].text.endswith("\n")):
        return None
    return list(
        Segment.split_and_crop_lines(pieces, options.max_width, include_new_lines=False, pad=False)
    )


def _box_characters(shape: Box) -> str:
    """Every character of a box's eight lines."""
    return "".join(getattr(shape, name) for name in _BOX_PIECES)


def _align(lines: list[Line], vertical: str, width: int, height: int, style: Style) -> list[Line]:
    """`Segment.align_*`, which only read the lines (a cell's, shared by the tables)."""
    shared = cast(list[list[Segment]], lines)
    if vertical == "top":
        aligned = Segment.align_top(shared, width, height, style)
    elif vertical == "middle":
        aligned = Segment.align_middle(shared, width, height, style)
    else:
        aligned = Segment.align_bottom(shared, width, height, style)
    return cast(list[Line], aligned)
