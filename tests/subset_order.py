"""`pytest --subset=SEED[:FRACTION]`: a seeded random part of the suite, in collection order.

What one pytest-xdist worker runs is such a part: the scheduler hands it tests in collection
order, but which ones is its choice. A test that passes only when some other test did (or did
not) run before it in the same process fails on some worker, some day, in CI: a false red.
The whole suite in order never shows it; a few seeds of this do (`make test-order`). The first
one found: a split memo test that failed after another check had filled the shared memos
(tests/judge/test_split_equivalence.py).
"""

from __future__ import annotations

import random

import pytest

_PARSED = pytest.StashKey[tuple[int, float]]()


def _subset(value: str) -> tuple[int, float]:
    seed, _, fraction = value.partition(":")
    try:
        parsed = int(seed), float(fraction or 0.5)
    except ValueError:
        parsed = (0, -1.0)
    if not 0 < parsed[1] <= 1:
        raise pytest.UsageError(
            f"--subset={value}: expected SEED or SEED:FRACTION, an integer and a fraction "
            "in (0, 1], e.g. --subset=7 or --subset=7:0.25"
        )
    return parsed


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--subset",
        metavar="SEED[:FRACTION]",
        help="run a seeded random FRACTION (default 0.5) of the collected tests, in collection "
        "order, as one pytest-xdist worker might: finds tests that depend on what ran before",
    )


def pytest_configure(config: pytest.Config) -> None:
    value = config.getoption("subset")
    if value is not None:
        config.stash[_PARSED] = _subset(value)  # a bad value: a usage error before collection


@pytest.hookimpl(trylast=True)  # after -k and -m: a part of what they selected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _PARSED not in config.stash:
        return
    seed, fraction = config.stash[_PARSED]
    rng = random.Random(seed)
    keep = [rng.random() < fraction for _ in items]
    config.hook.pytest_deselected(items=[i for i, k in zip(items, keep, strict=True) if not k])
    items[:] = [i for i, k in zip(items, keep, strict=True) if k]


def pytest_report_header(config: pytest.Config) -> str | None:
    value = config.getoption("subset")
    return None if value is None else f"subset: {value} (a seeded part, in collection order)"
