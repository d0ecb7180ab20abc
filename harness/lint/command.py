"""`ambient-harness lint`: lint scenarios and manifest files, print every located problem,
then the notes, then a one-line summary."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from harness.lint.checks import lint_manifest_file, lint_scenario
from harness.lint.crds import CrdFileError, SchemaIndex, default_crd_dir, load_index
from harness.lint.findings import Findings, plural
from harness.model.scenario import SCENARIO_FILE, discover
from harness.model.source import Problem


def load_schemas(out: Findings) -> SchemaIndex:
    """The CRD index lint validates against; a broken bundle is a problem added to `out`."""
    directory = default_crd_dir()
    try:
        return load_index(directory)
    except CrdFileError as exc:
        out.problems.append(
            Problem(exc.file, exc.line, f"{exc.reason} (run: ambient-harness schemas fetch)")
        )
        return SchemaIndex(directory, {}, ())


def lint_files(files: list[Path], index: SchemaIndex) -> list[Findings]:
    """Scenario files (scenario.yaml) in full, any other file as a lone manifest."""
    return [
        lint_scenario(f, index) if f.name == SCENARIO_FILE else lint_manifest_file(f, index)
        for f in files
    ]


def _summary(problems: int, failing: int, total: int, all_scenarios: bool) -> str:
    noun = "scenario" if all_scenarios else "input"
    if problems == 0:
        return f"no problems in {plural(total, noun)}"
    return f"{plural(problems, 'problem')} in {failing} of {plural(total, noun)}"


def run_lint(paths: list[Path], out: TextIO) -> int:
    """Lint scenarios (directories or scenario.yaml files) and manifest files; print
    `file:line: message` per problem, then notes, then a summary. 0 when clean, else 2."""
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        print(f"error: {path}: no such file or directory", file=out)
    files = discover([p for p in paths if p.exists()])
    if not files:
        if not missing:
            shown = " ".join(str(p) for p in paths)
            print(f"error: no {SCENARIO_FILE} found under {shown}", file=out)
        return 2
    general = Findings()
    index = load_schemas(general)
    results = lint_files(files, index)
    problems = _ordered([*general.problems, *(p for r in results for p in r.problems)])
    notes = _ordered([n for r in results for n in r.notes])
    for line in [*problems, *notes]:
        print(line, file=out)
    if index.empty:
        print(
            f"note: no CRD schemas in {index.directory}: Istio/Gateway API manifests were not "
            "validated against their schemas (run: ambient-harness schemas fetch)",
            file=out,
        )
    failing = sum(1 for r in results if r.problems)
    all_scenarios = all(f.name == SCENARIO_FILE for f in files)
    print(_summary(len(problems), failing, len(files), all_scenarios), file=out)
    return 2 if problems or missing else 0


def _ordered(items: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(items))
    return sorted(unique, key=lambda p: (str(p.file), p.line))
