"""`ambient-harness lint`: lint scenarios and manifest files, print every located problem,
then the notes, then a one-line summary."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from harness.lint.checks import ProbeWarning, lint_manifest_file, lint_scenario
from harness.lint.crds import CrdFileError, CrdSchemasMissing, SchemaIndex, load_index, no_index
from harness.lint.findings import Findings, plural
from harness.model.files import SCENARIO_FILE, path_kind
from harness.model.scenario import discover
from harness.model.source import Problem


def load_schemas(out: Findings, use_schemas: bool = True) -> SchemaIndex:
    """The CRD index lint validates against. Missing or damaged bundles are a problem added
    to `out` (the other checks still run, without CRD schemas); `use_schemas=False` skips
    them on purpose."""
    if not use_schemas:
        return no_index()
    try:
        return load_index()
    except CrdSchemasMissing as exc:
        out.errors.append(f"error: {exc}")
    except CrdFileError as exc:
        out.problems.append(Problem(exc.file, exc.line, exc.reason))
    return no_index()


def lint_file(f: Path, index: SchemaIndex, probe_warning: ProbeWarning | None = None) -> Findings:
    """A scenario file (scenario.yaml) in full, any other file as a lone manifest."""
    if f.name == SCENARIO_FILE:
        return lint_scenario(f, index, probe_warning)
    return lint_manifest_file(f, index)


def lint_files(
    files: list[Path], index: SchemaIndex, probe_warning: ProbeWarning | None = None
) -> list[Findings]:
    """Scenario files (scenario.yaml) in full, any other file as a lone manifest."""
    return [lint_file(f, index, probe_warning) for f in files]


# Below this many files a pool costs more than it saves (forking, sending the findings back).
PARALLEL_MIN_FILES = 64
_forked: tuple[SchemaIndex, ProbeWarning | None] | None = None  # what a forked worker inherits


def default_jobs() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _can_fork() -> bool:
    # fork copies the index and the compiled CEL programs for free, but is only safe in a
    # process with one thread, and only a default on Linux (macOS's system libraries refuse it).
    return sys.platform == "linux" and threading.active_count() == 1


def _worker_ignores_sigint() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the pool, the workers do not
    # each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _lint_in_worker(f: Path) -> Findings:
    assert _forked is not None  # set before the fork
    return lint_file(f, *_forked)


def lint_files_parallel(
    files: list[Path],
    index: SchemaIndex,
    probe_warning: ProbeWarning | None = None,
    *,
    jobs: int,
    min_files: int | None = None,
) -> list[Findings]:
    """`lint_files` on up to `jobs` forked processes, results in the order of `files` (so
    the output is the same as one process gives). Falls back to one process for few files,
    one job, or where forking is not safe."""
    global _forked
    least = PARALLEL_MIN_FILES if min_files is None else min_files
    if jobs <= 1 or len(files) < max(2, least) or not _can_fork():
        return lint_files(files, index, probe_warning)
    # Imported here: ~12 ms that every lint of a few files and every pytest start skips.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    _forked = (index, probe_warning)
    try:
        context = multiprocessing.get_context("fork")
        workers = min(jobs, len(files))
        chunk = max(1, len(files) // (workers * 8))
        try:
            pool = ProcessPoolExecutor(workers, context, initializer=_worker_ignores_sigint)
        except OSError:  # no POSIX semaphores here (some containers): one process it is
            return lint_files(files, index, probe_warning)
        with pool:
            try:
                return list(pool.map(_lint_in_worker, files, chunksize=chunk))
            except BrokenProcessPool:  # a worker was killed (out of memory): lint never guesses
                pass
        return lint_files(files, index, probe_warning)
    finally:
        _forked = None


def _summary(problems: int, failing: int, total: int, all_scenarios: bool) -> str:
    noun = "scenario" if all_scenarios else "input"
    if problems == 0:
        return f"no problems in {plural(total, noun)}"
    return f"{plural(problems, 'problem')} in {failing} of {plural(total, noun)}"


NO_SCHEMAS_NOTE = (
    "note: --no-schemas: Istio and Gateway API manifests were not validated against their "
    "CRD schemas"
)


def run_lint(
    paths: list[Path],
    out: TextIO,
    *,
    use_schemas: bool = True,
    probe_warning: ProbeWarning | None = None,
    jobs: int = 1,
) -> int:
    """Lint scenarios (directories or scenario.yaml files) and manifest files; print
    `file:line: message` per problem, then notes, then a summary. 0 when clean, else 2.
    `jobs` > 1 lints a large set of files on that many processes (same output)."""
    missing = [p for p in paths if path_kind(p) in ("missing", "invalid")]
    for path in missing:
        print(f"error: {path}: no such file or directory", file=out)
    existing = [p for p in paths if p not in missing]
    files = discover(existing)
    lost = [_lost_scenario(p) for p in existing if path_kind(p) == "dir" and not discover([p])]
    # In a catalogue directory, a scenario saved under another name would be skipped silently.
    lost += [
        _lost_scenario(child, misnamed_only=True)
        for p in existing
        if path_kind(p) == "dir" and path_kind(p / SCENARIO_FILE) != "file"
        for child in _subdirs(p)
        if path_kind(child / SCENARIO_FILE) != "file"
    ]
    lost_found = [x for x in lost if x is not None]
    if not files and not lost_found:
        if not missing:
            shown = " ".join(str(p) for p in paths)
            print(f"error: no {SCENARIO_FILE} found under {shown}", file=out)
        return 2
    general = Findings()
    index = load_schemas(general, use_schemas)
    results = lint_files_parallel(files, index, probe_warning, jobs=jobs)
    for problem in lost_found:
        results.append(Findings(problems=[problem]))
    # A broken set-up (a damaged CRD bundle) comes first wherever its file sorts: it explains
    # the findings after it.
    problems = [
        *_ordered(general.problems),
        *_ordered([p for r in results for p in r.problems]),
    ]
    notes = _ordered([n for r in results for n in r.notes])
    for line in [*general.errors, *problems, *notes]:
        print(line, file=out)
    if not use_schemas:
        print(NO_SCHEMAS_NOTE, file=out)
    failing = sum(1 for r in results if r.problems)
    all_scenarios = all(f.name == SCENARIO_FILE for f in files)
    count = len(problems) + len(general.errors)
    print(_summary(count, failing, len(results), all_scenarios), file=out)
    return 2 if count or missing else 0


def _subdirs(directory: Path) -> list[Path]:
    try:
        return sorted(c for c in directory.iterdir() if c.is_dir())
    except OSError:
        return []


def _lost_scenario(directory: Path, misnamed_only: bool = False) -> Problem | None:
    """A directory that looks like a scenario (YAML files, a manifests/ folder) but has no
    scenario.yaml: a located problem, with the file to rename when there is one
    (`misnamed_only`: only when there is one)."""
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return None
    yaml_like = [f for f in entries if f.is_file() and f.suffix.lower() in (".yaml", ".yml")]
    if not yaml_like and not (directory / "manifests").is_dir():
        return None
    misnamed = [f for f in yaml_like if f.stem.lower() == "scenario"]
    if misnamed_only and not misnamed:
        return None
    hint = (
        f"; found {misnamed[0].name}: rename it to {SCENARIO_FILE}"
        if misnamed
        else " (or name manifest files to lint them on their own)"
    )
    return Problem(
        directory / SCENARIO_FILE,
        1,
        f"file not found: a scenario directory holds {SCENARIO_FILE}{hint}",
    )


def _ordered(items: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(items))
    return sorted(unique, key=lambda p: (str(p.file), p.line))
