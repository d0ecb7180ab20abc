"""Screens: what the speaker sees between two pauses, each fitting the terminal (say 100x30).

The demo adds blocks (a title, a panel, a table) to the current screen; a block that does not
fit starts a new screen, which repeats the block's header (the step's title) so that the
speaker never loses the thread; a block taller than a whole screen is split by its lines. A
screen ends with one footer line: in `--interactive` the pause's prompt and keys, otherwise a
dim boundary line, so a log (and a `.cast`) shows the same screens.

Long texts are folded (`fold`) to what a projector shows; `m` shows the rest.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol, TextIO

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.rule import Rule
from rich.segment import Segment
from rich.text import Text

from harness.cli.demo_fixed_table import FixedTable
from harness.cli.demo_manifests import FramedPanel
from harness.cli.demo_options import KEY_HELP
from harness.cli.demo_style import style
from harness.cli.demo_wrap import ONE_CELL, group_lines, text_lines

__all__ = ["KEY_HELP", "ONE_CELL"]

SCREEN_HEIGHT: Final = 30  # when the console is not a terminal: a projector's 100x30
NEXT_KEYS: Final = ("\n", "\r", " ")
MORE_KEY: Final = "m"
FOLD_MARK: Final = "[…]"


# --- keys ----------------------------------------------------------------------------------


class KeySource(Protocol):
    def read_key(self) -> str | None:
        """The next key pressed, or None at the end of input."""

    @property
    def echoes(self) -> bool:
        """Whether the terminal showed the key (then the demo does not add a newline)."""


class LineKeys:
    """Keys from a line-buffered stream (a pipe, a test): `m⏎` is m, `⏎` is Enter."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def read_key(self) -> str | None:
        line = self.stream.readline()
        if line == "":
            return None
        return line.strip()[:1].lower() or "\n"

    @property
    def echoes(self) -> bool:
        """A terminal shows the typed newline; a pipe does not."""
        return self.stream.isatty()


class TerminalKeys:
    """Single key presses from a terminal (no Enter needed for `m`), without echo. Keys typed
    while no prompt waits (an impatient Enter while a step runs) are dropped, so that no screen
    is skipped unseen. `waiting` is called once the terminal waits for the key."""

    def __init__(self, stream: TextIO, waiting: Callable[[], object] | None = None) -> None:
        self.stream = stream
        self.echoes = False
        self.waiting = waiting

    def read_key(self) -> str | None:
        import termios
        import tty

        fd = self.stream.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd, termios.TCSAFLUSH)  # drops the type-ahead
            if self.waiting is not None:
                self.waiting()
            # One read: a key, or an escape sequence (an arrow key: ignored, it starts with ESC).
            key = os.read(fd, 16).decode(errors="ignore")[:1]
        except OSError:  # the terminal went away
            key = ""
        finally:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        if key in ("", "\x04"):  # end of input, Ctrl-D
            return None
        if key == "\x03":
            raise KeyboardInterrupt
        return key.lower()


def keys_for(stream: TextIO) -> KeySource:
    if stream.isatty() and sys.platform != "win32":
        return TerminalKeys(stream)
    return LineKeys(stream)


# --- folding -------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+(?=[A-Z`'\"(])")


def text_height(console: Console, text: str, width: int) -> int:
    """The lines `text` takes wrapped at `width`, as rich wraps it (`Text.wrap`)."""
    width = max(1, width)
    height = _word_wrapped_height(text, width)
    return height if height is not None else len(Text(text).wrap(console, width))


def _word_wrapped_height(text: str, width: int) -> int | None:
    """What `Text.wrap` finds where it only wraps between words: lines of words one space
    apart, no word wider than `width`, characters one cell wide; None for anything else (a
    word to fold, a tab, spaces to keep). A fold tries a description's prefixes several times
    each: counted here, at a tenth of rich's cost."""
    if "  " in text or not ONE_CELL.issuperset(text.replace("\n", "")):
        return None
    height = 0
    for line in text.split("\n"):
        height += 1
        if line != line.strip(" "):
            return None
        used = -1
        for word in line.split(" ") if line else ():
            if len(word) > width:
                return None
            if used + 1 + len(word) <= width:
                used += 1 + len(word)
            else:
                height, used = height + 1, len(word)
    return height


def fold(console: Console, text: str, width: int, max_lines: int) -> str | None:
    """The first paragraph, or its first sentences, that fit `max_lines` at `width` (with the
    fold mark); None when the whole text fits.

    rich wraps greedily, so a text never takes fewer lines for words added at its end: what
    did not fit does not fit with the mark either, and the longest prefix that fits is found
    by bisection rather than by wrapping one sentence (or word) more at a time."""
    if text_height(console, text, width) <= max_lines:
        return None
    mark = f" {FOLD_MARK}"
    first = text.split("\n\n", 1)[0]
    if first != text and text_height(console, first + mark, width) <= max_lines:
        return first + mark
    # `first` with the mark does not fit (tried, or longer than the whole text): not tried again.
    sentences = _prefixes(_SENTENCE_END.split(first), unfit=first)
    kept = _longest(sentences, lambda kept: text_height(console, kept + mark, width) <= max_lines)
    if not kept:  # one sentence longer than the fold: cut between words
        words = _prefixes(first.split(), unfit=first)
        ellipsis = " …" + mark
        kept = _longest(
            words, lambda kept: text_height(console, kept + ellipsis, width) <= max_lines
        )
        kept += " …"
    return kept + mark


def _prefixes(pieces: Sequence[str], unfit: str) -> list[str]:
    """The empty text, the first piece, the first two (joined by a space), ..., up to the last
    one that is not `unfit`."""
    out = [""]
    for piece in pieces:
        candidate = f"{out[-1]} {piece}".strip()
        if candidate == unfit:
            break
        out.append(candidate)
    return out


def _longest(prefixes: Sequence[str], fits: Callable[[str], bool]) -> str:
    """The longest of `prefixes` (longer and longer, the first taken to fit) that `fits`,
    given that no prefix fits once a shorter one does not."""
    lo, hi = 0, len(prefixes)  # prefixes[lo] fits; prefixes[hi] and longer ones do not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(prefixes[mid]):
            lo = mid
        else:
            hi = mid
    return prefixes[lo]


# --- screens -------------------------------------------------------------------------------


def fit_words(text: str, width: int) -> str:
    """`text` cut to `width` at a word boundary, with ` …` when cut: a projector shows
    "enforced by the …", never "enforced by the ra…"."""
    if len(text) <= width:
        return text
    head = text[: max(0, width - 2)]
    if text[len(head)] != " " and " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip(" :,;·") + " …"


@dataclass
class Block:
    renderable: RenderableType
    gap: bool = False  # a blank line before it, unless it opens the screen


@dataclass
class More:
    """A folded text: what `m` shows."""

    label: str
    text: str


@dataclass
class Screen:
    blocks: list[Block] = field(default_factory=list)
    used: int = 0
    content: int = 0  # blocks other than the repeated header
    opened: bool = False
    more: list[More] = field(default_factory=list)


Header = Callable[[], Sequence[RenderableType]]
Rendered = tuple[RenderableType, list[list[Segment]], int]  # what, its lines, cut to the width


class ScreenWriter:
    """Prints blocks on screens of `height` lines (the footer included) and pauses between
    them when `interactive`, reading `keys`. A screen opens when its first block comes, with
    the `header` of that moment."""

    def __init__(
        self,
        console: Console,
        *,
        height: int | None = None,
        interactive: bool = False,
        keys: KeySource | None = None,
        on_boundary: Callable[[], None] | None = None,
    ) -> None:
        self.console = console
        self.height = height or (console.height if console.is_terminal else SCREEN_HEIGHT)
        self.interactive = interactive and keys is not None
        self.keys = keys
        self.screen = Screen()
        self.header: Header | None = None
        self.on_boundary = on_boundary  # the .cast export marks a pause here
        self.screens = 0
        # Rendered lines by renderable (kept alive, so that an id is never reused), with the
        # width they were cut to: a block is measured several times and printed once, from the
        # same lines.
        self._rendered: dict[int, Rendered] = {}
        self._boundaries: dict[tuple[str, int], tuple[Rule, list[list[Segment]] | None]] = {}

    def _render(self, renderable: RenderableType) -> Rendered:
        cached = self._rendered.get(id(renderable))
        if cached is None or cached[0] is not renderable:
            options = self.console.options
            lines = one_line(self.console, renderable, options)
            if lines is None and isinstance(renderable, FramedPanel):
                lines = renderable.lines(self.console, options)  # (each as wide as the console)
            if lines is None and isinstance(renderable, FixedTable):
                lines = renderable.lines(self.console, options)
            if lines is None and type(renderable) is Text:
                lines = text_lines(self.console, renderable, options)
            if lines is None and isinstance(renderable, Group):
                lines = group_lines(self.console, renderable, options)
            if lines is None:
                lines = self.console.render_lines(renderable, options, pad=False)
            cached = self._rendered[id(renderable)] = (renderable, lines, options.max_width)
        return cached

    def lines_of(self, renderable: RenderableType) -> list[list[Segment]]:
        return self._render(renderable)[1]

    def height_of(self, renderable: RenderableType) -> int:
        return len(self.lines_of(renderable))

    @property
    def room(self) -> int:
        return self.height - 1 - self.screen.used  # the footer's line

    def _put(self, block: Block, *, content: bool = True) -> None:
        if block.gap and self.screen.blocks:
            self.console.print()
            self.screen.used += 1
        _, lines, width = self._render(block.renderable)
        # The lines are cut to `width` already: cutting them again (rich's default) changes
        # nothing unless the terminal narrowed since, and costs a tenth of the rendering.
        self.console.print(_Lines(lines), crop=width > self.console.width)
        self.screen.used += len(lines)
        self.screen.blocks.append(block)
        self.screen.content += content

    def _cost(self, blocks: Sequence[Block]) -> int:
        gaps = sum(1 for i, b in enumerate(blocks) if b.gap and (i or self.screen.blocks))
        return gaps + sum(self.height_of(b.renderable) for b in blocks)

    def _ensure_open(self) -> None:
        if not self.screen.opened:
            self.screen.opened = True
            if self.header is not None:
                for renderable in self.header():
                    self._put(Block(renderable), content=False)

    def add(self, *blocks: RenderableType | Block, more: Sequence[More] = ()) -> None:
        """Blocks kept together on one screen when they fit on one."""
        items = [b if isinstance(b, Block) else Block(b) for b in blocks]
        self._ensure_open()
        if self.screen.content and self._cost(items) > self.room:
            self.boundary("continue")
            self._ensure_open()
        for item in items:
            if self._cost([item]) > self.room and self.screen.content:
                self.boundary("continue")
                self._ensure_open()
            if self._cost([item]) <= self.room:
                self._put(item)
            else:
                self._put_split(item)
        self.screen.more.extend(more)

    def _put_split(self, block: Block) -> None:
        """A block taller than a screen: its rendered lines, a screen at a time."""
        lines = self.lines_of(block.renderable)
        while lines:
            take, lines = lines[: max(1, self.room)], lines[max(1, self.room) :]
            self._put(Block(_Lines(take)))
            if lines:
                self.boundary("continue")
                self._ensure_open()

    def boundary(self, prompt: str) -> None:
        """End the current screen (if it shows anything): the footer, then the pause."""
        if not self.screen.content:
            return
        more = self.screen.more
        self.screens += 1
        if not self.interactive:
            rule, line = self._boundary_line(fit_words(prompt, self.console.width - 12))
            self.console.print(rule if line is None else _Lines(line))
        else:
            self._pause(prompt, more)
        if self.on_boundary is not None:
            self.on_boundary()
        self.screen = Screen()

    def _boundary_line(self, label: str) -> tuple[Rule, list[list[Segment]] | None]:
        """The dim boundary line (its lines, when `one_line` has them), made once for a label
        and width: most boundaries say "continue"."""
        key = (label, self.console.width)
        made = self._boundaries.get(key)
        if made is None:
            rule = Rule(Text(f" ⏸ {label} "), characters="┄", style=style("boundary"))
            made = self._boundaries[key] = (
                rule,
                one_line(self.console, rule, self.console.options),
            )
        return made

    def _prompt(self, prompt: str, more: bool) -> Text:
        """`⏸  press Enter to run step 2/3: ... · m: more`, cut to one line."""
        keys = f" · {MORE_KEY}: more " if more else " "
        head = "⏸  press Enter to "
        room = self.console.width - 1 - len(keys) - len(head)
        return Text(head + fit_words(prompt, room) + keys, style=style("prompt"))

    def _wait(self, prompt: str, more: bool) -> str | None:
        """Show the prompt, read one key; at the end of input stop pausing for good."""
        assert self.keys is not None
        self.console.print(self._prompt(prompt, more), end="")
        key = self.keys.read_key()
        if not self.keys.echoes:
            self.console.print()  # nobody typed the newline on screen
        if key is None:
            # End of input (e.g. stdin closed): carry on rather than spin on an empty stream.
            self.interactive = False
            self.console.print(
                Text("(no more input: continuing without pauses)", style=style("note"))
            )
        return key

    def _pause(self, prompt: str, more: list[More]) -> None:
        while self.interactive:
            key = self._wait(prompt, bool(more))
            if key == MORE_KEY and more:
                self._show_more(more)
            elif key in NEXT_KEYS:
                self._clear()
                return

    def _clear(self) -> None:
        if self.console.is_terminal:
            self.console.clear()

    def _show_more(self, more: list[More]) -> None:
        """The folded texts in full, then the screen they were folded on, again."""
        shown = self.screen
        self._clear()
        self.screen = Screen(opened=True)
        for item in more:
            self.add(Block(Text(item.label, style=style("title"))), Block(Text(item.text)))
        self.screens += 1
        if self.interactive:
            self._wait("return to the screen", False)
        self._clear()
        self.screen = Screen(opened=True, more=more)
        for block in shown.blocks:
            self._put(block)
        self.screen.content = shown.content


def one_line(
    console: Console, renderable: RenderableType, options: ConsoleOptions
) -> list[list[Segment]] | None:
    """`console.render_lines(renderable, options, pad=False)` for a text, or a rule, that
    rich's wrapping leaves as it is (one line that fits, nothing to justify): its segments,
    without the wrapping (which finds no break, and costs most of a heading's or a screen
    boundary's rendering). None for anything else."""
    if isinstance(renderable, Rule):
        texts = list(renderable.__rich_console__(console, options))
        if len(texts) != 1 or not isinstance(texts[0], Text):
            return None
        renderable = texts[0]
    if not isinstance(renderable, Text):
        return None
    plain, width = renderable.plain, options.max_width
    if (
        width < 1
        or not plain
        or "\n" in plain
        or "\t" in plain
        or (renderable.justify or options.justify or "default") != "default"
        or len(plain) > width
        or cell_len(plain) > width
    ):
        return None
    # As `Text.__rich_console__` renders its one line: joined, so that its style is a span.
    segments = list(Text("\n").join([renderable]).render(console, end=renderable.end))
    # Pieces of a line that fits, and the end (rich's splitting drops a newline, copies the
    # rest as it is): split here where the end is a newline or nothing.
    if renderable.end == "\n":
        return [segments[:-1]]
    if not renderable.end:
        return [segments]
    return list(Segment.split_and_crop_lines(segments, width, include_new_lines=False, pad=False))


class _Lines:
    """Pre-rendered lines, printed as they are."""

    def __init__(self, lines: list[list[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: object) -> Iterator[Segment]:
        for line in self.lines:
            yield from line
            yield Segment.line()
