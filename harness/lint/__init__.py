"""Lint: scenario files and their manifests against the real CRD schemas, the built-in kinds
and each other, offline. `lint_or_raise` is what every path that plans or applies calls first.

    crds.py           the pinned CRD bundles: finding, loading, caching the parsed index
    builtin_kinds.py  core kinds' structural schemas
    resolution.py     apiVersion + kind -> the schema to validate against
    openapi.py        the strict OpenAPI validator
    objects.py        whole manifest objects: envelope, metadata, body
    references.py     cross-checks between a scenario and its manifests
    checks.py         the checks of one scenario (and of a lone manifest)
    silent.py         mistakes Istio accepts silently (ignored policies, unused waypoints, ...)
    command.py        `ambient-harness lint`: the printing command

Exceptions: `LintFailed` (a scenario failed lint) and `crds.CrdFileError` (a CRD bundle is
unreadable), both `HarnessError`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError
from harness.lint.checks import lint_parsed
from harness.lint.command import lint_files, load_schemas
from harness.lint.findings import Findings
from harness.model.scenario import Scenario, one_document, parse_scenario, scenario_file
from harness.model.source import Document, load_documents


class LintFailed(HarnessError):
    """A scenario failed lint: nothing of it may be planned or applied (exit 2)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def lint_or_raise(scenario_files: Sequence[Path], *, use_schemas: bool = True) -> None:
    """Lint the given scenarios (scenario.yaml files or their directories) exactly as
    `ambient-harness lint` does; raise `LintFailed` with every located problem (notes, which
    never fail lint, are not included). Missing or damaged CRD schemas fail too, unless
    `use_schemas=False` skips them on purpose."""
    general = Findings()
    index = load_schemas(general, use_schemas)
    results = lint_files([scenario_file(Path(f)) for f in scenario_files], index)
    problems = [*general.errors, *(str(p) for p in general.problems)]
    problems += [str(p) for r in results for p in r.problems]
    if problems:
        raise LintFailed(problems)


def load_and_lint(path: Path, *, use_schemas: bool = True) -> tuple[Scenario, list[str]]:
    """Load one scenario (`SourceError` if it does not load, as `load_scenario`) and lint it,
    reading and validating its file once: the scenario and the problems `lint_or_raise` would
    raise for it (empty when it passes)."""
    file = scenario_file(path)
    doc = one_document(file, load_documents(file))
    scenario = parse_scenario(doc, file.parent)
    return scenario, lint_loaded(file, doc, scenario, use_schemas=use_schemas)


def lint_loaded(
    file: Path, doc: Document, scenario: Scenario, *, use_schemas: bool = True
) -> list[str]:
    """The problems `lint_or_raise` would raise for a scenario already parsed from `doc`, the
    one document of `file` (empty when it passes)."""
    general = Findings()
    index = load_schemas(general, use_schemas)
    found = lint_parsed(file, doc, scenario, index)
    return [
        *general.errors,
        *(str(p) for p in general.problems),
        *(str(p) for p in found.problems),
    ]
