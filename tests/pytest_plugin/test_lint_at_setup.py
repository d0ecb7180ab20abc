"""A scenario item is linted when it is set up, not when it is collected: every pytest-xdist
worker collects every scenario, and each then lints (and loads the CRD index for) only those it
runs. A rejected scenario is still an error item that is never run (test_pytest_plugin.py)."""

from __future__ import annotations

import collections
from typing import Any

import pytest
from helpers import REPO

import harness.lint


def test_collection_lints_no_scenario_and_each_set_up_lints_its_own_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = len(list((REPO / "scenarios").glob("*/scenario.yaml")))
    linted: collections.Counter[str] = collections.Counter()
    real = harness.lint.lint_parsed

    def counting(file: Any, doc: Any, scenario: Any, index: Any) -> Any:
        linted[scenario.name] += 1
        return real(file, doc, scenario, index)

    class AtCollectionFinish:
        linted: collections.Counter[str] | None = None

        def pytest_collection_finish(self) -> None:
            AtCollectionFinish.linted = collections.Counter(linted)

    monkeypatch.setattr(harness.lint, "lint_parsed", counting)
    monkeypatch.chdir(REPO)
    # (In this process: pytester restores the modules after the run, monkeypatch the linter.)
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "-q",
        "scenarios",
        plugins=[AtCollectionFinish()],
    )
    assert {
        "rc": int(result.ret),
        "at collection": AtCollectionFinish.linted,
        "after the run": sorted(set(linted.values())),
        "scenarios": len(linted),
    } == {
        "rc": 0,  # every item skips: no cluster was asked for
        "at collection": collections.Counter(),
        "after the run": [1],
        "scenarios": count,
    }, result.outlines
