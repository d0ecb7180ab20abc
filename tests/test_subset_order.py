"""`--subset=SEED[:FRACTION]` (tests/subset_order.py) runs a seeded part of the suite in order."""

from __future__ import annotations

import re

import pytest

# Ten tests; the last passes only when the first ran before it in the same process.
MODULE = """
STATE = []

def test_first():
    STATE.append(1)

{middle}

def test_needs_the_first():
    assert STATE == [1]
"""
MIDDLE = "\n".join(f"def test_{i}():\n    pass\n" for i in range(8))
# The installed plugins this needs none of (each costs an in-process run its start-up).
NAMES = ("cacheprovider", "xdist", "pytest-kind-ng", "anyio", "ambient_harness")
QUIET = [arg for name in NAMES for arg in ("-p", f"no:{name}")]


def ran(pytester: pytest.Pytester, *args: str) -> tuple[int, list[str]]:
    pytester.makepyfile(test_mod=MODULE.format(middle=MIDDLE))
    result = pytester.runpytest_inprocess("-p", "subset_order", *QUIET, "-v", *args)
    names = re.findall(r"::(test_\w+) (?:PASSED|FAILED)", result.stdout.str())
    return int(result.ret), names


def test_a_seed_runs_the_same_part_in_collection_order(pytester: pytest.Pytester) -> None:
    _, everything = ran(pytester)
    assert len(everything) == 10
    three, four = ran(pytester, "--subset=3")[1], ran(pytester, "--subset=4")[1]
    assert ran(pytester, "--subset=3")[1] == three != four  # the seed decides, nothing else
    for part in (three, four):
        assert 0 < len(part) < 10
        assert part == [name for name in everything if name in part]  # in order
    assert len(ran(pytester, "--subset=3:0.25")[1]) < len(three)


def test_some_seed_finds_a_test_that_needs_another_to_run_first(
    pytester: pytest.Pytester,
) -> None:
    assert ran(pytester)[0] == pytest.ExitCode.OK  # the whole module, in order, passes
    # Seed 10 leaves the first test out and keeps the last; seed 1 keeps both.
    code, names = ran(pytester, "--subset=10")
    assert "test_first" not in names and "test_needs_the_first" in names
    assert code == pytest.ExitCode.TESTS_FAILED
    code, names = ran(pytester, "--subset=1")
    assert {"test_first", "test_needs_the_first"} <= set(names)
    assert code == pytest.ExitCode.OK


@pytest.mark.parametrize("value", ["x", "3:0", "3:1.5", "3:half"])
def test_a_bad_subset_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile(test_mod="def test_a():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "subset_order", *QUIET, f"--subset={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--subset={value}: expected SEED or SEED:FRACTION" in result.stderr.str()
