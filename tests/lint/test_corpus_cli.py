"""The malformed corpus through the real CLI (`python -m harness lint`, a subprocess): exact
output and exit status, never a traceback.

All cases go through one CLI run (the lint of many scenarios prints each case's expected lines
under its directory, sorted as lint sorts them); the cases whose failure would be a crash of
the process itself (alias bomb, deep nesting, bad bytes, ...) also run a CLI run each, so a
traceback, a hang or exit status 1 shows up per case: one after the other, each with its own
directory, output and status. One interpreter does both (it starts and imports the harness
once): the runs of each case first, as JSON on the first line, then `python -m harness lint`
of every case, whose output, error output and exit status are the process's own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lint_corpus import CASES, CORPUS, case_targets

_LOCATED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): ")
_SUMMARY = re.compile(
    r"^(?:(?P<n>\d+) problems? in (?P<f>\d+) of |no problems in )(?P<t>\d+) (?P<noun>\w+?)s?$"
)
CRASH_CASES = [
    "yaml-alias-bomb",
    "yaml-deep-nesting",
    "huge-integer",
    "invalid-date-value",
    "non-utf8-text",
    "bom-crlf-valid",
    "scenario-yml-misnamed",
]


def relative_targets(case: Path, base: Path) -> list[str]:
    return [str(t.relative_to(base)) if t != base else "." for t in case_targets(case)]


def test_every_case_in_one_cli_run(cli_runs: CliRuns) -> None:
    problems: list[tuple[str, int, int, str]] = []
    notes: list[tuple[str, int, int, str]] = []
    count = failing = total = 0
    nouns: set[str] = set()
    for name in CASES:
        *lines, summary = (CORPUS / name / "expected.txt").read_text().splitlines()
        m = _SUMMARY.match(summary)
        assert m is not None, (name, summary)
        count += int(m["n"] or 0)
        failing += int(m["f"] or 0)
        total += int(m["t"])
        nouns.add(m["noun"])
        for i, line in enumerate(lines):
            loc = _LOCATED.match(line)
            assert loc is not None, (name, line)  # only located lines in the corpus
            entry = (f"{name}/{loc['file']}", int(loc["line"]), i, f"{name}/{line}")
            (notes if line[loc.end() :].startswith("note: ") else problems).append(entry)
    noun = "scenario" if nouns == {"scenario"} else "input"
    shown = f"{total} {noun}" + ("s" if total != 1 else "")
    expected = [e[3] for e in sorted(problems)] + [e[3] for e in sorted(notes)]
    expected.append(f"{count} problems in {failing} of {shown}")
    proc = cli_runs.every_case
    assert proc.stderr == ""
    assert proc.stdout.splitlines()[1:] == expected
    assert proc.returncode == 2


# `python -m harness lint TARGETS` once per case (what the process would print and exit with:
# an exception escaping main is what Python prints and exit status 1), their JSON on the first
# line; then, when asked, `python -m harness lint TARGETS` of every case from the corpus, as the
# process itself (its output, a traceback, its exit status: runpy runs harness/__main__.py).
CLI_RUNS = """
import contextlib, io, json, os, runpy, sys, traceback
from harness.cli.main import main

runs = {}
for name, cwd, targets in json.loads(sys.argv[1]):
    os.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["lint", *targets])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
    runs[name] = [code, out.getvalue(), err.getvalue()]
print(json.dumps(runs), flush=True)
every_case = json.loads(sys.argv[3])
if every_case:
    os.chdir(sys.argv[2])
    sys.argv = ["harness", "lint", *every_case]
    runpy.run_module("harness", run_name="__main__", alter_sys=True)
"""


@dataclass
class CliRuns:
    each_case: dict[str, Any]  # name: [exit status, output, error output]
    every_case: subprocess.CompletedProcess[str]  # stdout's first line: the JSON of each_case


@pytest.fixture(scope="session")
def cli_runs(request: pytest.FixtureRequest) -> CliRuns:
    """The CLI runs the selected tests need, all in one process (once per pytest-xdist worker
    that runs any of them)."""
    selected = [getattr(item, "originalname", None) for item in request.session.items]
    mine = [
        item.callspec.params["name"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_case_in_its_own_cli_run"
        and hasattr(item, "callspec")
    ]
    cases = [
        [name, str(CORPUS / name), relative_targets(CORPUS / name, CORPUS / name)] for name in mine
    ]
    every_case = (
        [t for name in CASES for t in relative_targets(CORPUS / name, CORPUS)]
        if "test_every_case_in_one_cli_run" in selected
        else []
    )
    proc = subprocess.run(
        [sys.executable, "-c", CLI_RUNS, json.dumps(cases), str(CORPUS), json.dumps(every_case)],
        capture_output=True,
        text=True,
        timeout=120,  # bounds a hang only
        env=dict(os.environ),
        check=False,
    )
    first = proc.stdout.split("\n", 1)[0]
    assert first.startswith("{"), proc.stdout + proc.stderr  # the runs of each case ended
    return CliRuns(json.loads(first), proc)


@pytest.mark.parametrize("name", CRASH_CASES)
def test_case_in_its_own_cli_run(name: str, cli_runs: CliRuns) -> None:
    case = CORPUS / name
    expected = (case / "expected.txt").read_text()
    code, out, err = cli_runs.each_case[name]
    assert (out, err) == (expected, "")
    assert code == (0 if expected.splitlines()[-1].startswith("no problems") else 2)
