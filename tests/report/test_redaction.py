"""No query string of a probed URL reaches an observation or a report (issue 11, item 13).

Whatever of a response the harness keeps (body excerpt, agent detail) is redacted when the
`Outcome` is made; the real agent and echo run on loopback here, so the test sees exactly what
a live probe would keep.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.envoy_fixture import Program, agent_args, echo_args, running

from harness.model.outcome import Outcome, redact_queries
from harness.model.results import Environment, ProbeResult, RunResult, ScenarioResult, StepResult
from harness.model.scenario import Expect
from harness.probe.prober import Prober
from harness.report.document import load_json_report, write_json_report
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.summary import failure_summary

SECRET = "s3cr3t-token"


@pytest.fixture(scope="module")
def echo() -> Iterator[Program]:
    with running(echo_args("ratings", "v1")) as program:
        yield program


@pytest.fixture(scope="module")
def agent() -> Iterator[Program]:
    with running(agent_args()) as program:
        yield program


def test_echo_path_query_is_redacted_in_every_report(
    echo: Program, agent: Program, tmp_path: Path
) -> None:
    path = f"/ratings/1?token={SECRET}&debug=1"
    # Echo may or may not echo the query (it strips it since issue 11); the harness side
    # redacts whatever it keeps either way (test_an_outcome_read_back_is_redacted_too).
    with Prober(agent.host, agent.port) as prober:
        outcome = prober.probe("GET", f"{echo.url}{path}", {})
    assert outcome.served_by == "ratings-v1"
    assert SECRET not in outcome.body_excerpt
    assert '"path": "/ratings/1' in outcome.body_excerpt

    result = ProbeResult(
        client="productpage",
        method="GET",
        url="http://ratings:9080/ratings/1",
        expect=Expect.model_validate("denied-l4"),
        verdict="fail",
        observations=[outcome],
        message=f"expected denied-l4, saw {outcome.describe()}",
    )
    run = RunResult(
        Environment(provider="kind"),
        [ScenarioResult("ambient-x", "x", "ambient", [StepResult("s", "s", probes=[result])])],
    )
    report = tmp_path / "report.json"
    write_json_report(run, report)
    for text in (
        report.read_text(),
        render_markdown(run),
        render_html(run),
        failure_summary(run),
        json.dumps([o.body_excerpt for o in load_json_report(report).scenarios[0].steps[0]
                    .probes[0].observations]),
    ):  # fmt: skip
        assert SECRET not in text
        assert "debug=1" not in text


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ('{"path": "/a?b=c"}', '{"path": "/a?<redacted>"}'),
        ("GET http://r:9080/x/y?q=1#top failed", "GET http://r:9080/x/y?<redacted>#top failed"),
        ("/?", "/?<redacted>"),
        ("no query here: /ratings/1", "no query here: /ratings/1"),
        ("Is the daemon running?", "Is the daemon running?"),
    ],
)
def test_redact_queries(text: str, redacted: str) -> None:
    assert redact_queries(text) == redacted


def test_an_outcome_read_back_is_redacted_too() -> None:
    # Reports written before the redaction still had the query: reading one redacts it.
    o = Outcome(status=200, body_excerpt='{"path": "/x?k=v"}', detail="GET /x?k=v reset")
    assert (o.body_excerpt, o.detail) == ('{"path": "/x?<redacted>"}', "GET /x?<redacted> reset")


def test_credentials_sent_or_reflected_are_kept_by_name_only(
    echo: Program, agent: Program, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {SECRET}", "Cookie": f"session={SECRET}", "x-user": "a"}
    with Prober(agent.host, agent.port) as prober:
        outcome = prober.probe("GET", f"{echo.url}/ratings/1", headers)
    # Judging sees the observation whole (a scenario may match what the backend saw) ...
    assert outcome.backend_headers["authorization"] == f"Bearer {SECRET}"
    result = ProbeResult(
        client="productpage",
        method="GET",
        url="http://ratings:9080/ratings/1",
        expect=Expect.model_validate("denied-l4"),
        verdict="fail",
        headers=headers,
        observations=[outcome],
    )
    # ... the record keeps the names, never the values.
    assert result.headers == {"Authorization": "<redacted>", "Cookie": "<redacted>", "x-user": "a"}
    assert result.observations[0].backend_headers["authorization"] == "<redacted>"
    assert result.observations[0].backend_headers["x-user"] == "a"
    run = RunResult(
        Environment(provider="kind"),
        [ScenarioResult("ambient-x", "x", "ambient", [StepResult("s", "s", probes=[result])])],
    )
    report = tmp_path / "report.json"
    write_json_report(run, report)
    for text in (report.read_text(), render_markdown(run), render_html(run), failure_summary(run)):
        assert SECRET not in text
