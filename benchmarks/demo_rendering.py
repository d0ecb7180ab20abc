"""CPU time of the demo's rendering: one plain replay of the recorded catalogue (what
`ambient-harness demo --replay` renders) at 80 and 100 columns, and one live narration (the
runner's hooks on the real scenarios) at 100: the least of `--repeat` renderings after one to
warm up, and their median, in milliseconds of CPU; and the function calls of each (cProfile's
count), a figure a busy machine does not change.

    .venv/bin/python benchmarks/demo_rendering.py [--repeat 15] [--repo PATH]

`--repo` renders with another checkout's code (say a clone of main, to compare before and
after: run both alternately, the machine's speed drifts).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    repo = args.repo.resolve()
    sys.path[:0] = [str(repo / "tests" / "cli"), str(repo / "tests"), str(repo)]
    import demo_layout

    run = demo_layout.recorded_run()
    cases = [
        ("replay, 80 columns", lambda: demo_layout.render_replay(run, 80)),
        ("replay, 100 columns", lambda: demo_layout.render_replay(run, 100)),
        ("live, 100 columns", lambda: demo_layout.render_live(run, 100)),
    ]
    print(f"{repo}: least and median CPU of {args.repeat} renderings, function calls")
    for label, render in cases:
        times = []
        for _ in range(args.repeat + 1):
            start = time.process_time()
            render()
            times.append(time.process_time() - start)
        profile = cProfile.Profile()
        profile.runcall(render)
        calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
        kept = sorted(times[1:])
        least, median = kept[0] * 1000, kept[len(kept) // 2] * 1000
        print(f"  {label:20} {least:6.1f} ms {median:6.1f} ms {calls:8d} calls")


if __name__ == "__main__":
    main()
