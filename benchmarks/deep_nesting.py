"""Time to refuse a file nested too deep, with libyaml and with the pure-Python parser.

    python benchmarks/deep_nesting.py

The pure parser's stock scanner is quadratic in flow depth (seconds for 5,000 `[`); the
harness's pure loader keeps its simple-key candidates in position order, so a refusal
takes milliseconds either way. Prints the best of 5 runs per depth.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import yaml

from harness.model import source


def refusal_time(text: str) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        with contextlib.suppress(source.SourceError):
            source.parse_documents(Path("deep.yaml"), text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    fast = source._FAST_LOADER
    for depth in (source.MAX_DEPTH + 1, 999, 5000):
        text = "a:\n  b: " + "[" * depth + "]" * depth + "\n"
        row = [f"depth {depth:5d} ({len(text) / 1024:4.1f} KiB):"]
        for name, loader in (("libyaml", fast), ("pure", None)):
            if name == "libyaml" and loader is None:
                continue
            source._FAST_LOADER = loader
            row.append(f"{name} {refusal_time(text) * 1000:7.1f} ms")
        source._FAST_LOADER = fast
        stock = yaml.SafeLoader  # the stock pure scanner, for comparison
        start = time.perf_counter()
        depth_seen = 0
        for event in yaml.parse(text, Loader=stock):
            depth_seen += isinstance(event, yaml.CollectionStartEvent)
            if depth_seen > source.MAX_DEPTH + 1:
                break
        row.append(f"(stock pure scanner, to the limit only: {time.perf_counter() - start:.2f} s)")
        print("  ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
