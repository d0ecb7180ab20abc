"""Issue 14: colours readable on dark and light themes (YAML keys were dark blue on black).

Every SGR code the demo emits — rendered over the whole catalogue, live and replayed, with
failures, errors, skips and the interactive prompts — is checked against xterm's default
16-colour palette: each foreground colour must have a WCAG 2 contrast ratio of at least 3:1
(the AA level for large text: a projector's) against black *and* against white, since the
same palette shows on a dark and on a light background. Attributes without a colour (bold,
italic, reverse, the default foreground) are readable on both by construction; dim is taken
as half-way between the default foreground and the background (how terminals draw it) and
must keep 3:1 too. No background colour, no 256-colour or true-colour code.
"""

from __future__ import annotations

import copy
import io
import re

import pytest
from demo_layout import (
    SGR,
    catalogue_rendering,
    colour_console,
    recorded_run,
    render_live,
    render_replay,
)
from fakes.keys import ScriptedKeys
from rich.style import Style

from harness.cli.demo_observer import DemoObserver
from harness.cli.demo_style import THEME, demo_console
from harness.cli.replay import replay
from harness.model.outcome import Outcome
from harness.model.results import ModelCheck, PredictedOutcome, RunResult

# xterm's defaults (XTerm-col.ad): colours 0-15.
XTERM: dict[int, str] = {
    0: "000000", 1: "cd0000", 2: "00cd00", 3: "cdcd00", 4: "0000ee", 5: "cd00cd", 6: "00cdcd",
    7: "e5e5e5", 8: "7f7f7f", 9: "ff0000", 10: "00ff00", 11: "ffff00", 12: "5c5cff",
    13: "ff00ff", 14: "00ffff", 15: "ffffff",
}  # fmt: skip
BLACK, WHITE = "000000", "ffffff"
MINIMUM = 3.0


def luminance(hex_rgb: str) -> float:
    """WCAG 2 relative luminance."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_rgb[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def blend(a: str, b: str) -> str:
    return "".join(f"{(int(a[i : i + 2], 16) + int(b[i : i + 2], 16)) // 2:02x}" for i in (0, 2, 4))


def test_the_contrast_formula() -> None:
    assert contrast(BLACK, WHITE) == pytest.approx(21.0)
    assert contrast(XTERM[4], BLACK) < MINIMUM  # dark blue on black: the complaint
    assert contrast(XTERM[2], WHITE) < MINIMUM  # green on white
    assert contrast(XTERM[5], BLACK) >= MINIMUM and contrast(XTERM[5], WHITE) >= MINIMUM


def readable(params: list[int]) -> list[str]:
    """What is wrong with one SGR sequence's parameters (nothing: [])."""
    problems = []
    fg = None
    for p in params:
        if 30 <= p <= 37:
            fg = p - 30
        elif 90 <= p <= 97:
            fg = p - 90 + 8
        elif p in (38, 48) or 40 <= p <= 47 or 100 <= p <= 107:
            problems.append(f"{p}: a background, 256-colour or true-colour code")
        elif p not in (0, 1, 2, 3, 7, 22, 23, 27, 39):
            problems.append(f"{p}: an attribute not checked here")
    dim = 2 in params
    if fg is not None:
        if dim:
            problems.append("dim on a colour: its contrast depends on the terminal")
        for bg in (BLACK, WHITE):
            if contrast(XTERM[fg], bg) < MINIMUM:
                problems.append(f"colour {fg} on {bg}: {contrast(XTERM[fg], bg):.2f}:1")
    elif dim:
        for fg_default, bg in ((WHITE, BLACK), (BLACK, WHITE)):
            if contrast(blend(fg_default, bg), bg) < MINIMUM:
                problems.append(f"dim on {bg}")
    return problems


def test_every_role_of_the_theme_is_readable_on_both_backgrounds() -> None:
    for role, spec in THEME.items():
        style = Style.parse(spec)
        assert style.bgcolor is None, role
        params = [n for n, on in ((1, style.bold), (2, style.dim), (3, style.italic),
                                  (7, style.reverse)) if on]  # fmt: skip
        if style.color is not None:
            number = style.color.number
            assert number is not None and number < 16, (role, spec)  # the 16-colour palette
            params.append(30 + number if number < 8 else 90 + number - 8)
        assert readable(params) == [], (role, spec)


def failing(recorded: RunResult) -> RunResult:
    """The recorded run with a failure, a step error, a skipped scenario, a model finding."""
    run = copy.deepcopy(recorded)
    first, second, third = run.scenarios[:3]
    agreed = first.steps[-1].probes[0]
    agreed.predicted = PredictedOutcome("denied-l4", enforced_by="destination ztunnel")
    agreed.model = ModelCheck("disagrees", finding="model: predicted denied-l4, observed allowed")
    probe = first.steps[-1].probes[-1]
    probe.verdict = "fail"
    probe.message = "still allowed after 30 s"
    probe.observations = [Outcome(status=200, served_by="ratings-v1", l7=True)]
    second.steps[-1].error = "the apply was refused"
    third.skipped_reason = "no waypoint support"
    for st in third.steps:
        st.skipped_reason = "not run"
        st.probes = []
    return run


def coloured_renderings() -> list[str]:
    """The recorded run's (shared: tests/cli/demo_layout.py) and the failing one's, replayed
    and live at 80 and 100 columns, and an interactive replay."""
    texts = []
    for width in (80, 100):
        texts.append(catalogue_rendering("replay", width, colour=True))
        texts.append(catalogue_rendering("live", width, colour=True))
    recorded = recorded_run()
    broken = failing(recorded)
    for width in (80, 100):
        texts.append(render_replay(broken, width, colour=True))
        texts.append(render_live(broken, width, colour=True))
    out = colour_console(100)
    replay(recorded, DemoObserver(out, interactive=True, keys=ScriptedKeys(["m", "\n", "\n"])))
    texts.append(out.file.getvalue())  # type: ignore[attr-defined]
    return texts


def test_every_code_the_demo_emits_is_readable_on_dark_and_light() -> None:
    seen: dict[str, list[str]] = {}
    for text in coloured_renderings():
        for code in set(SGR.findall(text)) - seen.keys():  # each code checked once
            seen[code] = readable([int(p) for p in code.split(";") if p])
    assert {code: problems for code, problems in seen.items() if problems} == {}
    # The renderings did use colour, failures included.
    assert {"35", "1;35", "1;91", "90", "1;94"} <= set(seen)


def test_yaml_keys_are_bold_not_blue() -> None:
    text = catalogue_rendering("replay", 100, colour=True)
    assert "\x1b[1mapiVersion:\x1b[0m" in text
    assert not re.search(r"\x1b\[[0-9;]*\b34\b", text)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def codes(out: io.StringIO) -> set[str]:
    return set(SGR.findall(out.getvalue()))


def show(color: str, environ: dict[str, str], file: io.StringIO) -> set[str]:
    demo = demo_console(file, color=color, width=80, environ=environ)  # type: ignore[arg-type]
    DemoObserver(demo).phase_done("Istio ready", 1.0)
    demo.print("[magenta]component[/] [bold]bold[/]")
    return codes(file)


def test_color_auto_always_never_and_no_color() -> None:
    assert "35" in show("auto", {}, Tty())  # a terminal: colours
    assert show("auto", {}, io.StringIO()) == set()  # a pipe: none
    no_color = show("auto", {"NO_COLOR": "1"}, Tty())
    assert "1" in no_color and not any("35" in c for c in no_color)  # bold stays, colour goes
    assert "35" in show("auto", {"NO_COLOR": ""}, Tty())  # empty: as if unset
    assert "35" in show("always", {"NO_COLOR": "1"}, io.StringIO())  # asked for: a pipe too
    assert show("never", {}, Tty()) == set()  # not even bold
