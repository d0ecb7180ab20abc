"""`lint -j N`: a large set of files linted on N forked processes prints what one process does.

Run in a fresh interpreter: the pool forks only a single-threaded process (an xdist worker has
threads, so in-process the pool would fall back to one process and prove nothing).
"""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any

import pytest
from helpers import REPO, SHIPPED_SCENARIOS, fresh_python_json
from lint_corpus import CASES, CORPUS

from harness.cli.main import main
from harness.lint import command

# One fresh interpreter lints the same files three times: in one process, on two forked
# workers, and on two workers that die at their first file (as the OOM killer would end them);
# each run's exit status and output, and the pids of the processes that linted, are reported.
SCRIPT = r"""
import io, json, os, sys
from pathlib import Path
from harness.lint import command

targets = [Path(t) for t in json.loads(sys.argv[1])]
pids = Path(sys.argv[2])
parent, real = os.getpid(), command.lint_file


def record():
    with pids.open("a") as fh:  # the linting process's pid: the pool really ran the files
        fh.write(f"{os.getpid()}\n")


def recording(f, *rest):
    record()
    return real(f, *rest)


def dying(f, *rest):
    if os.getpid() != parent:
        record()
        os._exit(9)
    return real(f, *rest)


runs = {}
for name, jobs, lint_file in (("serial", 1, recording), ("parallel", 2, recording),
                              ("killed", 2, dying)):
    command.lint_file = lint_file
    pids.write_text("")
    buf = io.StringIO()
    rc = command.run_lint(targets, buf, jobs=jobs)
    runs[name] = {"rc": rc, "out": buf.getvalue(), "pids": sorted(set(pids.read_text().split()))}
print(json.dumps({"runs": runs, "me": str(os.getpid())}))
"""


@pytest.fixture(scope="module")
def lint_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Every corpus case (each with its own problems) and the catalogue: > 64 files.
    targets = [str(CORPUS / c) for c in CASES] + [
        str(REPO / "scenarios" / s) for s in SHIPPED_SCENARIOS
    ]
    pids = tmp_path_factory.mktemp("lint-jobs") / "pids"
    seen: dict[str, Any] = fresh_python_json(SCRIPT, json.dumps(targets), str(pids))
    seen["targets"] = len(targets)
    return seen


def test_two_jobs_print_exactly_what_one_process_prints(lint_runs: dict[str, Any]) -> None:
    serial, parallel = lint_runs["runs"]["serial"], lint_runs["runs"]["parallel"]
    assert serial["pids"] == [lint_runs["me"]]
    workers = set(parallel["pids"])
    assert lint_runs["me"] not in workers and len(workers) == 2, workers
    assert parallel["rc"] == serial["rc"] == 2  # the corpus has problems: both runs say so
    assert parallel["out"] == serial["out"]
    assert serial["out"].count("\n") > lint_runs["targets"]


def test_jobs_must_be_a_number_of_processes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lint", "-j", "-1", "scenarios"])
    assert exit_.value.code == 2
    assert "'-1' is not a number of processes (0: one per CPU)" in capsys.readouterr().err


def test_without_semaphores_lint_runs_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # Some containers have no /dev/shm: the pool cannot be made, and lint must still answer.
    def no_pool(*args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(command, "_can_fork", lambda: True)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    files = [REPO / "scenarios" / s / "scenario.yaml" for s in SHIPPED_SCENARIOS]
    index = command.load_index()
    parallel = command.lint_files_parallel(files, index, jobs=2, min_files=1)
    assert [r.problems for r in parallel] == [r.problems for r in command.lint_files(files, index)]


def test_a_killed_worker_costs_time_not_findings(lint_runs: dict[str, Any]) -> None:
    serial, killed = lint_runs["runs"]["serial"], lint_runs["runs"]["killed"]
    # A forked worker really took a file and died; the answer is still the whole one.
    assert killed["pids"] and lint_runs["me"] not in killed["pids"], killed["pids"]
    assert (killed["rc"], killed["out"]) == (serial["rc"], serial["out"])
