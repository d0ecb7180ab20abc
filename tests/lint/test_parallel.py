"""`lint -j N`: a large set of files linted on N forked processes prints what one process does.

Run in a fresh interpreter: the pool forks only a single-threaded process (an xdist worker has
threads, so in-process the pool would fall back to one process and prove nothing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, SHIPPED_SCENARIOS
from lint_corpus import CASES, CORPUS

from harness.lint import command

SCRIPT = r"""
import io, json, os, sys
from pathlib import Path
from harness.lint import command

targets = [Path(t) for t in json.loads(sys.argv[1])]
pids = Path(sys.argv[2])
real = command.lint_file

def recording(f, *rest):
    with pids.open("a") as fh:  # the worker's pid: the pool really ran the files
        fh.write(f"{os.getpid()}\n")
    return real(f, *rest)

command.lint_file = recording
outputs = {}
for jobs in (1, 2):
    buf = io.StringIO()
    rc = command.run_lint(targets, buf, jobs=jobs)
    outputs[jobs] = [rc, buf.getvalue()]
    if jobs == 1:
        serial_pids = set(pids.read_text().split())
        pids.write_text("")
print(json.dumps({"outputs": outputs, "serial": sorted(serial_pids),
                  "parallel": sorted(set(pids.read_text().split())), "me": str(os.getpid())}))
"""


def test_two_jobs_print_exactly_what_one_process_prints(tmp_path: Path) -> None:
    # Every corpus case (each with its own problems) and the catalogue: > 64 files.
    targets = [str(CORPUS / c) for c in CASES] + [
        str(REPO / "scenarios" / s) for s in SHIPPED_SCENARIOS
    ]
    pids = tmp_path / "pids"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(targets), str(pids)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    seen = json.loads(proc.stdout.splitlines()[-1])
    (rc1, out1), (rc2, out2) = seen["outputs"]["1"], seen["outputs"]["2"]
    assert seen["serial"] == [seen["me"]]
    workers = set(seen["parallel"])
    assert seen["me"] not in workers and len(workers) == 2, workers
    assert rc2 == rc1 == 2  # the corpus has problems: both runs say so
    assert out2 == out1
    assert out1.count("\n") > len(targets)


def test_jobs_must_be_a_number_of_processes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "lint", "-j", "-1", "scenarios"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 2
    assert "'-1' is not a number of processes (0: one per CPU)" in proc.stderr


def test_without_semaphores_lint_runs_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # Some containers have no /dev/shm: the pool cannot be made, and lint must still answer.
    def no_pool(*args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(command, "_can_fork", lambda: True)
    monkeypatch.setattr(command, "ProcessPoolExecutor", no_pool)
    files = [REPO / "scenarios" / s / "scenario.yaml" for s in SHIPPED_SCENARIOS]
    index = command.load_index()
    parallel = command.lint_files_parallel(files, index, jobs=2, min_files=1)
    assert [r.problems for r in parallel] == [r.problems for r in command.lint_files(files, index)]


KILLED_WORKER = r"""
import io, json, os, sys
from pathlib import Path
from harness.lint import command

targets = [Path(t) for t in json.loads(sys.argv[1])]
parent, real = os.getpid(), command.lint_file

def dying(f, *rest):
    if os.getpid() != parent:
        os._exit(9)  # as the OOM killer would end a worker
    return real(f, *rest)

buf = io.StringIO()
rc = command.run_lint(targets, buf, jobs=1)
command.lint_file = dying
again = io.StringIO()
rc2 = command.run_lint(targets, again, jobs=2)
print(json.dumps([rc, buf.getvalue(), rc2, again.getvalue()]))
"""


def test_a_killed_worker_costs_time_not_findings() -> None:
    targets = [str(CORPUS / c) for c in CASES]
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER, json.dumps(targets)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    rc, serial, rc2, after_kill = json.loads(proc.stdout.splitlines()[-1])
    assert (rc2, after_kill) == (rc, serial)
