"""The demo's styles, by role, and the console it prints on.

Readable on a dark and on a light terminal theme (tests/cli/test_demo_colours.py computes the
contrast of every one): only bold, italic, dim, reverse, the default foreground, and those colours
of the 16-colour palette that keep 3:1 against both black and white. Green, yellow, cyan and
dark blue do not (green and yellow vanish on white, dark blue on black), so the demo uses none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, TextIO

from rich.console import Console

ColorChoice = Literal["auto", "always", "never"]
COLOR_CHOICES: Final = ("auto", "always", "never")

THEME: Final[Mapping[str, str]] = {
    "pass": "bold",
    "fail": "bold bright_red",
    "error": "bold magenta",
    "skipped": "dim",
    "heading": "bold bright_blue",  # `Step 2/3`
    "title": "bold",
    "narrative": "italic",
    "note": "dim",  # references, the inference caption, `as identity`, `after 0.3 s`
    "component": "magenta",  # the enforcement point
    "finding": "bold magenta",  # where the mesh model predicted otherwise
    "prompt": "bold magenta",
    "boundary": "dim",
    "rule": "dim",
    "banner": "bold reverse",
    "yaml_key": "bold",
    "yaml_comment": "bright_black",
    "phase": "bright_blue",
}
VERDICT_ROLE: Final = {"pass": "pass", "fail": "fail", "skipped": "skipped", "error": "error"}


def style(role: str) -> str:
    return THEME[role]


def demo_console(
    file: TextIO | None = None,
    *,
    color: ColorChoice = "auto",
    width: int | None = None,
    height: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Console:
    """`--color=always` colours even a pipe (and wins over NO_COLOR, being asked for);
    `never` prints no escape code at all; `auto` colours a terminal unless NO_COLOR is set to
    a non-empty value (https://no-color.org). Width and height: the terminal's, unless given.
    No highlighting of numbers and quotes: its colours are rich's, not ours."""
    env = dict(environ) if environ is not None else None
    if color == "never":
        return Console(
            file=file, width=width, height=height, color_system=None, highlight=False, _environ=env
        )
    if color == "always":
        return Console(
            file=file,
            width=width,
            height=height,
            force_terminal=True,
            color_system="standard",
            no_color=False,
            highlight=False,
            _environ=env,
        )
    no_color = (env if env is not None else _os_environ()).get("NO_COLOR", "") != ""
    return Console(
        file=file,
        width=width,
        height=height,
        no_color=no_color,
        highlight=False,
        _environ=env,
    )


def _os_environ() -> Mapping[str, str]:
    import os

    return os.environ
