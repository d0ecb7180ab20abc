"""The suite keeps out of the user's harness cache (tests/conftest.py points it elsewhere).

A run through the fake kind once wrote its kubeconfig over a real cluster's in
~/.cache/ambient-harness/kind, and pinned tools there could stand in for the suite's fakes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.host import paths


def test_the_suite_and_the_programs_it_starts_use_a_cache_of_their_own() -> None:
    users = Path.home() / ".cache" / "ambient-harness"
    ours = paths.cache_root()
    assert not ours.is_relative_to(users), ours
    assert ours.is_dir()
    started = subprocess.run(
        [sys.executable, "-c", "from harness.host import paths; print(paths.cache_root())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert started.stdout.strip() == str(ours)
