"""A manifest on the projector: wrapped between words or after a `/` (never inside a word),
keys in bold and comments in grey (readable on dark and light themes, unlike a syntax theme's
dark blue), and cut into panels of at most a screen when it is longer than one.
"""

from __future__ import annotations

import copy
import re
from typing import Final

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.panel import Panel
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from harness.cli.demo_style import style
from harness.cli.demo_wrap import ONE_CELL, group_lines

PANEL_FRAME: Final = 4  # the border and padding of a panel, left and right
_NULL: Final = Style.null()
_KEY = re.compile(r"^(\s*(?:- )?)([^\s:#'\"][^:#]*?:)(\s|$)")


def break_word(word: str, width: int) -> list[str]:
    """A word longer than `width` in pieces that end after a `/` (a path, a URL, a principal);
    only a piece with no `/` in reach is cut at the width."""
    pieces: list[str] = []
    while len(word) > width:
        cut = word.rfind("/", 0, width) + 1
        if cut <= 0:
            cut = width
        pieces.append(word[:cut])
        word = word[cut:]
    return [*pieces, word] if word else pieces


def wrap_line(line: str, width: int) -> list[str]:
    """One YAML line in lines of at most `width`, broken between words (or, in a word longer
    than a line, after a `/`): continuation lines are indented two more than the line (a
    comment's continue the comment)."""
    if len(line) <= width:
        return [line]
    indent = len(line) - len(line.lstrip(" "))
    body = line.strip()
    marker = next((m for m in ("# ", "- ") if body.startswith(m)), "")
    first = " " * indent + marker
    lead = " " * indent + ("# " if marker == "# " else "  " + " " * len(marker))
    out: list[str] = []
    current, fresh = first, True
    for word in body[len(marker) :].split():
        room = width - len(current) - (0 if fresh else 1)
        if len(word) <= room:
            current += ("" if fresh else " ") + word
            fresh = False
            continue
        if len(word) <= width - len(lead):  # the word fits a line of its own
            out.append(current)
            current, fresh = lead + word, False
            continue
        cut = word.rfind("/", 0, room) + 1  # start the long word here when a `/` is in reach
        if cut > 0:
            current += ("" if fresh else " ") + word[:cut]
            word = word[cut:]
        for piece in break_word(word, max(8, width - len(lead))):
            out.append(current)
            current = lead + piece
        fresh = False
    out.append(current)
    return out


def highlight(line: str) -> Text:
    stripped = line.lstrip()
    if stripped.startswith("#") or stripped == "---":
        return Text(line, style=style("yaml_comment"))
    text = Text(line)
    match = _KEY.match(line)
    if match:
        text.stylize(style("yaml_key"), match.start(2), match.end(2))
    return text


def manifest_lines(yaml: str, width: int) -> list[str]:
    inner = max(20, width - PANEL_FRAME)
    return [out for line in yaml.rstrip("\n").splitlines() for out in wrap_line(line, inner)]


def manifest_panels(title: str, yaml: str, width: int, max_lines: int) -> list[Panel]:
    """Panels of at most `max_lines` lines each (borders included), `title (1/2)` when cut;
    cut at a blank line or a line of the top level when one is near."""
    lines = manifest_lines(yaml, width)
    room = max(3, max_lines - 2)
    chunks: list[list[str]] = []
    while lines:
        cut = len(lines) if len(lines) <= room else _cut(lines, room)
        chunks.append(lines[:cut])
        lines = lines[cut:]
    panels: list[Panel] = []
    for i, chunk in enumerate(chunks, start=1):
        label = title if len(chunks) == 1 else f"{title} ({i}/{len(chunks)})"
        body = Wrapped(chunk)
        panels.append(FramedPanel(body, title=Text(label), title_align="left", box=box.ROUNDED))
    return panels


class FramedPanel(Panel):
    """A `Panel` as rich renders it, more cheaply: its body's lines (a manifest's `Wrapped`
    lines as they are, where they fit; anything else rendered by rich at the inner width) are
    put between the frame's sides, and only the frame's top and bottom are rendered by rich
    (a panel of nothing, with the same title, subtitle and frame). rich renders the body in
    three layers (the body, its padding, the frame), splitting, measuring and padding every
    line at each; that was two thirds of a manifest's cost. `lines` is the panel's rendered
    lines, or None where rich renders it (a width or height, a padding above or below, a
    frame too narrow for the title, manifest lines that do not fit)."""

    def lines(self, console: Console, options: ConsoleOptions) -> list[list[Segment]] | None:
        top, right, bottom, left = Padding.unpack(self.padding)
        width, body = options.max_width, self.renderable
        inner_width = width - 2 - left - right
        if (
            not self.expand
            or self.width is not None
            or self.height is not None
            or options.height is not None
            or top
            or bottom
            or width <= 4
            or inner_width < 1
        ):
            return None
        if isinstance(body, Wrapped):
            inner = body.lines(console, inner_width)
            if inner is None:
                return None
        else:  # as `Padding` renders it, in the frame's options
            framed = options.update(width=width - 2, height=None, highlight=self.highlight)
            inside = framed.update_width(inner_width)
            grouped = group_lines(console, body, inside) if isinstance(body, Group) else None
            if grouped is None:
                inner = console.render_lines(body, inside, style=_NULL)
            else:  # (padded as `render_lines` pads them)
                inner = [Segment.adjust_line_length(line, inner_width, _NULL) for line in grouped]
        # The frame's top and bottom as rich renders them around a body of no line (and no
        # padding: it only pads the body), which is far cheaper than around an empty line.
        frame = copy.copy(self)
        frame.renderable, frame.padding = _NO_LINE, 0
        ends = console.render_lines(_AsPanel(frame), options, pad=False)  # top, bottom
        style = console.get_style(self.style)
        border_style = style + console.get_style(self.border_style)
        safe = console.safe_box if self.safe_box is None else self.safe_box
        sides = self.box.substitute(options, safe=safe)
        before = [Segment(" " * left, _NULL)] if left else []
        after = [Segment(" " * right, _NULL)] if right else []
        padded = [[*before, *line, *after] for line in inner]
        if style:  # (as `Panel` renders its body: its style under every piece but the frame)
            padded = [list(Segment.apply_style(line, style)) for line in padded]
        start, end = Segment(sides.mid_left, border_style), Segment(sides.mid_right, border_style)
        lines = [[start, *line, end] for line in padded]
        return [ends[0], *lines, ends[-1]]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self.lines(console, options)
        if lines is None:
            yield from super().__rich_console__(console, options)
            return
        for line in lines:
            yield from line
            yield Segment.line()


class _NoLine:
    """A body of no line."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return iter(())


_NO_LINE: Final = _NoLine()


class _AsPanel:
    """A panel rendered as rich's `Panel` renders it."""

    def __init__(self, panel: Panel) -> None:
        self.panel = panel

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        return Panel.__rich_console__(self.panel, console, options)


class Wrapped:
    """A manifest's lines, wrapped already (`manifest_lines`) and highlighted. When they all
    fit, they are rendered as they are: rich would split the text into lines again, find no
    break in any and join them again, which changes nothing and took a sixth of a replay's
    CPU. When one does not fit (the terminal narrowed since they were wrapped, a piece no
    `/` cuts) or holds a tab (rich expands tabs), rich wraps the text as it always did."""

    def __init__(self, lines: list[str]) -> None:
        highlighted = [highlight(line) for line in lines]
        self.text = Text("\n").join(highlighted)
        # A line's cells are the sum of its pieces' where every character is one cell wide.
        self.widths = [t.cell_len for t in highlighted]
        self.one_cell = ONE_CELL.issuperset(self.text.plain.replace("\n", ""))
        self.widest = max(self.widths, default=0)
        self.tabs = "\t" in self.text.plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.tabs or self.widest > options.max_width:
            yield self.text
        else:
            yield from self.text.render(console, end="\n")

    def lines(self, console: Console, width: int) -> list[list[Segment]] | None:
        """Its lines at `width`, padded to it, as rich's `Padding` renders them (None when
        rich wraps them)."""
        if self.tabs or width < 1 or self.widest > width:
            return None
        if not self.one_cell or not self.widths:
            segments = self.text.render(console, end="\n")
            return list(
                Segment.split_and_crop_lines(segments, width, style=_NULL, include_new_lines=False)
            )
        # rich's splitting (`Segment.split_and_crop_lines`) of the rendered text, each line
        # padded to `width`: the lines' widths are known, none is measured again.
        lines: list[list[Segment]] = [[]]
        for segment in self.text.render(console, end="\n"):
            text, segment_style, control = segment
            if control or "\n" not in text:
                lines[-1].append(segment)
                continue
            while text:
                piece, newline, text = text.partition("\n")
                if piece:
                    lines[-1].append(Segment(piece, segment_style))
                if newline:
                    lines.append([])
        lines.pop()  # after the end's newline
        for line, used in zip(lines, self.widths, strict=True):
            if used < width:
                line.append(Segment(" " * (width - used), _NULL))
        return lines

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.text)


def _cut(lines: list[str], room: int) -> int:
    """The last good place to cut within `room` lines: before a top-level or less indented
    line, so that a cut does not fall inside a list item's lines."""
    for cut in range(room, max(1, room * 2 // 3), -1):
        line = lines[cut]
        if not line.startswith(" ") or not line.strip():
            return cut
    best = room
    for cut in range(room, max(1, room * 2 // 3), -1):
        if _indent(lines[cut]) < _indent(lines[best]):
            best = cut
    return best


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
