"""The collected things: a `scenario.yaml` file holds one `ScenarioItem`, run on the pytest run's
live session; its steps become report sections and a failure explains itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.model.results import ScenarioResult, StepResult
from harness.model.scenario import Scenario, one_document, parse_scenario
from harness.model.source import Document, SourceError, load_documents
from harness.pytest_plugin.markers import PARSED
from harness.pytest_plugin.session import harness_session
from harness.run.options import NO_CLUSTER_HINT

NO_CLUSTER = NO_CLUSTER_HINT


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        known = self.config.stash.get(PARSED, {}).pop(self.path.resolve(), None)
        if known is not None and known[0].file == self.path:  # parsed for its markers
            doc, scenario = known
        else:
            try:
                doc = one_document(self.path, load_documents(self.path))
                scenario = parse_scenario(doc, self.path.parent)
            except SourceError as exc:
                raise self.CollectError(str(exc)) from None
        foreign = harness_session(self.config).foreign_markers
        item = ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario, document=doc)
        item.add_marker("scenario")
        for m in scenario.markers:
            if m in foreign and m != scenario.dataplane:
                # e.g. `skip`, `xfail`, `timeout`, `usefixtures`: as a marker it would change the
                # item's outcome, so it is refused, never applied.
                item.marker_problems.append(
                    f"{self.path}: feature {m!r} is a marker pytest or a plugin of this run "
                    "registered; as a marker it would change the outcome: rename the feature"
                )
                continue
            # Features become markers; register them so --strict-markers accepts them.
            self.config.addinivalue_line("markers", f"{m}: scenario feature")
            item.add_marker(m)
        yield item


class ScenarioItem(pytest.Item):
    is_scenario = True

    def __init__(self, *, scenario: Scenario, document: Document, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.marker_problems: list[str] = []  # features named like a foreign marker
        self._document: Document | None = document  # until linted
        self._rejected: list[str] | None = None
        self.result: ScenarioResult | None = None  # sent to the controller with the report

    @property
    def rejected(self) -> list[str]:
        """Lint problems, then `marker_problems`: the item errors, nothing of it is applied.

        Linted on first use (the item's set-up, or the run asking whether it needs a cluster),
        not at collection: every pytest-xdist worker collects every scenario, and each then
        lints only those it runs."""
        if self._rejected is None:
            # Lint (its schemas, the CRD index) only where a scenario is set up: see __init__.py.
            from harness.lint import lint_loaded

            assert self._document is not None
            found = lint_loaded(self.path, self._document, self.scenario)
            self._rejected = [*found, *self.marker_problems]
            self._document = None
        return self._rejected

    def setup(self) -> None:
        if self.rejected:
            s = self.scenario
            self.result = ScenarioResult(
                s.name, s.title, s.dataplane, error="rejected by lint:\n" + "\n".join(self.rejected)
            )
            # An error of the item's set-up (not a failure: nothing was tested), said plainly.
            pytest.fail(ScenarioRejected(self.rejected).explain(), pytrace=False)

    def runtest(self) -> None:
        state = harness_session(self.config)
        s = self.scenario
        if not state.options.cluster_requested:
            self.result = ScenarioResult(s.name, s.title, s.dataplane, skipped_reason=NO_CLUSTER)
            pytest.skip(NO_CLUSTER)
        session = state.live()
        result = self.result = session.run(s)
        for step in result.steps:
            self.add_report_section("call", f"step {step.name}", _step_text(step))
        for diagnostics in session.diagnostics(s.name):
            for title, text in diagnostics.report_sections():
                self.add_report_section("call", title, text)
        if result.verdict == "skipped":
            pytest.skip(result.skipped_reason or "skipped")
        if result.verdict != "pass":
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.explain()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.scenario.name} ({self.scenario.dataplane})"


class ScenarioRejected(HarnessError):
    """A scenario that fails lint (or names a foreign marker as a feature): an error item."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def explain(self) -> str:
        return "scenario rejected, nothing of it was applied:\n" + "\n".join(
            f"  {p}" for p in self.problems
        )


class ScenarioFailed(HarnessError):
    """A scenario item did not pass; carries its result for the failure text."""

    def __init__(self, result: ScenarioResult) -> None:
        super().__init__(result.name)
        self.result = result

    def explain(self) -> str:
        r = self.result
        lines = [f"scenario {r.name}: {r.verdict}"]
        if r.error:
            lines.append(f"  error: {r.error}")
        for step in r.steps:
            if step.error:
                lines.append(f"  step {step.name}: {step.error}")
            for p in step.probes:
                if p.verdict != "pass":
                    lines.append(f"  step {step.name}: {p.client} -> {p.method} {p.url}")
                    lines.append(f"    {p.message}")
        return "\n".join(lines)


def _step_text(step: StepResult) -> str:
    lines = [f"{step.title} [{step.verdict}] in {step.duration_s:.1f}s"]
    for p in step.probes:
        seen = p.observations[-1].describe() if p.observations else "-"
        ttc = (
            f", consistent after {p.time_to_consistency_s:.1f}s" if p.time_to_consistency_s else ""
        )
        lines.append(f"  {p.verdict:4} {p.client} -> {p.url}: saw {seen}{ttc}")
        if p.predicted is not None:
            lines.append(f"       predicted {p.predicted.describe()} at {p.predicted.enforced_by}")
        if p.model_finding is not None:
            lines.append(f"       {p.model_finding}")
    return "\n".join(lines)
