"""The demo's probe table: who called whom (method, headers, identity), expected, observed,
the verdict, and the component that enforced it, starred because it is inferred.

Laid out for a projector: the target column is never narrower than its longest word, so no
URL breaks at 80 or 100 columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from rich import box
from rich.table import Table
from rich.text import Text

from harness.judge.enforcement import INFERRED, Attribution
from harness.model.describe import describe_expect
from harness.model.results import ProbeResult
from harness.report.words import (
    SYMBOL,
    describe_identity,
    describe_observed,
    describe_target,
    seconds,
)

STYLE: Final = {"pass": "green", "fail": "red", "skipped": "dim", "error": "yellow"}

Attributor = Callable[[ProbeResult], Attribution]
INFERENCE_MARK: Final = "*"
INFERENCE_NOTE: Final = f"{INFERENCE_MARK} {INFERRED}, not observed"


def marked(a: Attribution) -> str:
    """`ztunnel*`: the starred component is an inference (see the caption). What it is
    inferred from is in the observed column; the reports spell it out (`Attribution.text`)."""
    return a.shown if a.component is None else f"{a.component}{INFERENCE_MARK}"


MAX_WORD: Final = 44  # a longer word is folded rather than squeezing every other column


def longest_word(texts: Iterable[str], least: int = 16) -> int:
    return min(MAX_WORD, max([least, *(len(w) for t in texts for w in t.split())]))


def short_identity(p: ProbeResult, home: str | None) -> str:
    """`bookinfo-productpage`, or `other-ns/bookinfo-productpage` outside the namespace `home`:
    short enough for a projector; the reports carry the full principal."""
    principal = p.identity or ""
    parts = principal.split("/")
    if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa":
        return parts[4] if parts[2] == home else f"{parts[2]}/{parts[4]}"
    return describe_identity(p)


def probe_table(
    probes: Sequence[ProbeResult], attribution: Attributor, home: str | None = None
) -> Table:
    """from → to, expected, observed, ✔/✘, enforced by (and how long consistency took)."""
    table = Table(
        box=box.SIMPLE_HEAD,
        expand=True,
        show_edge=False,
        caption=Text(INFERENCE_NOTE, style="dim"),
        caption_justify="right",
    )
    targets = [describe_target(p) for p in probes]
    # Never narrower than the longest word (a URL), so that no word is broken: on a narrow
    # screen the other columns give way and wrap between words. (For a ratio column, rich
    # takes `width` as the minimum of its share.)
    table.add_column("from → to", ratio=5, overflow="fold", width=longest_word(targets))
    table.add_column("expected", ratio=3)
    table.add_column("observed", ratio=4)
    table.add_column("", width=1, no_wrap=True)
    table.add_column("enforced by", ratio=4)
    table.add_column("after", justify="right", no_wrap=True, width=6)
    for p in probes:
        table.add_row(
            Text.assemble(describe_target(p), ("\nas " + short_identity(p, home), "dim")),
            describe_expect(p.expect),
            describe_observed(p),
            Text(SYMBOL[p.verdict], style=STYLE[p.verdict]),
            Text(marked(attribution(p)), style="cyan"),
            seconds(p.time_to_consistency_s),
        )
    return table
