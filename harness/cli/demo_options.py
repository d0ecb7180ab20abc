"""The `demo` subcommand's options (kept apart from the demo itself so that `--help` and the
parser cost no import of rich)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from harness.cli.options import add_cluster_options

KEY_HELP: Final = (
    "keys (with --interactive): Enter or Space shows the next screen (and runs the step "
    "whose manifests are shown); m shows the rest of a folded description or narrative "
    "(marked […]); at the end of input the demo carries on without pausing"
)
DESCRIPTION: Final = (
    "The talk, live: each scenario narrated a screen at a time (the manifests of a step, then "
    "what the mesh did with each request), ending with the mental-model matrix. Screens fit "
    "the terminal (--width/--height; 100x30 when not a terminal); long descriptions are "
    "folded. " + KEY_HELP + "."
)


def _positive(text: str) -> int:
    value = int(text)
    if value < 10:
        raise argparse.ArgumentTypeError(f"{value}: at least 10")
    return value


def add_demo_parser(sub: Any, handler: Callable[[argparse.Namespace], int]) -> None:
    p = sub.add_parser(
        "demo",
        help="the talk, live: narrated scenarios on a kind cluster",
        description=DESCRIPTION,
    )
    p.add_argument("--scenario", action="append", default=None, help="only these (repeatable)")
    p.add_argument(
        "--interactive", action="store_true", help="pause between screens (see the keys above)"
    )
    p.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="REPORT",
        help="re-narrate a recorded run (a --report-json file) offline: no cluster, no Docker",
    )
    p.add_argument("--report-json", type=Path, default=None, help="record the run here")
    p.add_argument(
        "--cast",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the narration as an asciinema v2 recording (play: asciinema play FILE)",
    )
    p.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="auto (default): colour a terminal unless NO_COLOR is set; always; never",
    )
    p.add_argument(
        "--width", type=_positive, default=None, help="screen columns (default: the terminal's)"
    )
    p.add_argument(
        "--height", type=_positive, default=None, help="screen lines (default: the terminal's)"
    )
    add_cluster_options(p)
    p.set_defaults(handler=handler, keep_cluster=True, cluster="kind")
