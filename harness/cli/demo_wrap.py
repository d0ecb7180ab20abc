"""rich's wrapping of a text (`Text.wrap`), measuring words by their length.

To find where to break a line, rich matches every word and measures its cells twice: for a
paragraph that was two fifths of its wrapping, and its wrapping most of a narrative's or a
cell's rendering. In a text of characters one cell wide (`ONE_CELL`: nearly every text of the
demo) a word's cells are its length: `wrap` is `Text.wrap` (rich 14's steps, with rich's own
splitting, dividing, stripping, justifying and truncating of the lines), its breaks found by
`divide_line`, which does what rich's `divide_line` does, counting characters; any other text
is wrapped by rich. `text_lines` renders a text to a screen's lines as `Text.__rich_console__`
and `Console.render_lines` do, wrapped so, and `group_lines` a group of texts.
tests/cli/test_demo_rendering.py compares them with rich's own on seeded random texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from rich.console import Console, ConsoleOptions, Group, JustifyMethod, OverflowMethod
from rich.containers import Lines
from rich.segment import Segment
from rich.text import DEFAULT_JUSTIFY, DEFAULT_OVERFLOW, Text

# Characters one cell wide, as rich measures them (tests/cli/test_demo_rendering.py checks
# it): in a text of these only, a word's width is its length.
ONE_CELL: Final = frozenset(map(chr, range(0x20, 0x7F))) | frozenset("…→—≠·✔✘○•±⟲")
_WORD: Final = re.compile(r"\s*\S+\s*")  # a word and the spaces around it, as rich reads one


def wrap(
    console: Console,
    text: Text,
    width: int,
    *,
    justify: JustifyMethod | None = None,
    overflow: OverflowMethod | None = None,
    tab_size: int = 8,
    no_wrap: bool | None = None,
) -> Lines:
    """`text.wrap(console, width, ...)`."""
    if width < 1 or not ONE_CELL.issuperset(text.plain.replace("\n", "")):  # (nor a tab)
        return text.wrap(
            console, width, justify=justify, overflow=overflow, tab_size=tab_size, no_wrap=no_wrap
        )
    wrap_justify = justify or text.justify or DEFAULT_JUSTIFY
    wrap_overflow = overflow or text.overflow or DEFAULT_OVERFLOW
    keep = overflow == "ignore"
    unwrapped = (no_wrap if no_wrap is not None else bool(text.no_wrap)) or keep
    lines = Lines()
    for line in text.split(allow_blank=True):
        if unwrapped:
            if keep:
                lines.append(line)
                continue
            new_lines = Lines([line])
        else:
            new_lines = line.divide(divide_line(line.plain, width, wrap_overflow == "fold"))
            for piece in new_lines:
                piece.rstrip_end(width)
        new_lines.justify(console, width, justify=wrap_justify, overflow=wrap_overflow)
        for piece in new_lines:
            piece.truncate(width, overflow=wrap_overflow)
        lines.extend(new_lines)
    return lines


def divide_line(text: str, width: int, fold: bool) -> list[int]:
    """Where rich breaks `text` (of `ONE_CELL` characters, `width` >= 1): before a word that
    does not fit what is left of the line (its trailing spaces may overflow), and in a word
    longer than a line, when folding, every `width` characters."""
    breaks: list[int] = []
    used = 0
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group()
        length = len(word.rstrip())
        if width - used >= length:
            used += len(word)
        elif length > width:
            if fold:
                pieces = [word[i : i + width] for i in range(0, len(word), width)]
                for piece in pieces[:-1]:
                    if start:
                        breaks.append(start)
                    start += len(piece)
                if start:
                    breaks.append(start)
                used = len(pieces[-1])
            else:
                if start:
                    breaks.append(start)
                used = len(word)
        elif used and start:
            breaks.append(start)
            used = len(word)
    return breaks


def text_lines(console: Console, text: Text, options: ConsoleOptions) -> list[list[Segment]] | None:
    """`console.render_lines(text, options, pad=False)`, wrapped by `wrap`; None where the
    options give a height (rich pads the lines to it) or no room."""
    width = options.max_width
    if width < 1 or options.height is not None:
        return None
    segments = wrapped_segments(
        console,
        text,
        width,
        justify=options.justify or DEFAULT_JUSTIFY,
        overflow=options.overflow or DEFAULT_OVERFLOW,
        no_wrap=bool(options.no_wrap),
    )
    return list(Segment.split_and_crop_lines(segments, width, include_new_lines=False, pad=False))


def wrapped_segments(
    console: Console,
    text: Text,
    width: int,
    *,
    justify: JustifyMethod,
    overflow: OverflowMethod,
    no_wrap: bool,
) -> Iterable[Segment]:
    """`text` wrapped at `width` by `wrap` and rendered, as `Text.__rich_console__` does: the
    text's own justify, overflow, no_wrap and tab size where it has them, else these (the
    console options', or a table column's)."""
    tab_size = console.tab_size if text.tab_size is None else text.tab_size
    lines = wrap(
        console,
        text,
        width,
        justify=text.justify or justify,
        overflow=text.overflow or overflow,
        tab_size=tab_size or 8,
        no_wrap=text.no_wrap if text.no_wrap is not None else no_wrap,
    )
    return Text("\n").join(lines).render(console, end=text.end)


def group_lines(
    console: Console, group: Group, options: ConsoleOptions
) -> list[list[Segment]] | None:
    """`console.render_lines(group, options, pad=False)` for a group of texts that each end
    their last line (rich's splitting starts afresh after each, so the group's lines are its
    texts' lines one after another); None for any other group."""
    lines: list[list[Segment]] = []
    for renderable in group.renderables:
        if type(renderable) is not Text or renderable.end != "\n":
            return None
        text = text_lines(console, renderable, options)
        if text is None:
            return None
        lines += text
    return lines
