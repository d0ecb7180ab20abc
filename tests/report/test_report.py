"""JSON report round trip and schema; Markdown, HTML and terminal renderings."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from harness.cli.main import main as cli_main
from harness.model.describe import describe_expect
from harness.model.outcome import Outcome, ProbeError
from harness.model.results import Environment, ProbeResult, RunResult, ScenarioResult, StepResult
from harness.model.scenario import Expect
from harness.report.comparison import comparison_rows, pair_scenarios
from harness.report.document import (
    SCHEMA_FILE,
    ReportError,
    junit_properties,
    load_json_report,
    run_to_dict,
    schema_text,
    write_json_report,
)
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.summary import failure_summary
from harness.report.words import describe_split

# jsonschema (~90 ms of imports with referencing and attrs) is imported by the tests that
# validate: every pytest-xdist worker imports this module, few run those tests.
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "report.json"
FIXTURE_V1 = FIXTURE.with_name("report-v1.json")  # as version 1 wrote it
RATINGS = "http://ratings:9080/ratings/1"


def probe(client: str, expect: dict[str, Any], obs: list[Outcome], **kw: Any) -> ProbeResult:
    return ProbeResult(
        client=client, method="GET", url=RATINGS, expect=Expect.model_validate(expect),
        verdict="pass", observations=obs,
        **kw,
    )  # fmt: skip


def small_run() -> RunResult:
    reset = Outcome(
        status=502, probe_error=ProbeError.RESET, elapsed_ms=1.5, detail="connection reset"
    )
    return RunResult(
        environment=Environment(provider="existing", istio_version="1.30.3", context="ctx"),
        started_at="2026-06-10T09:00:00Z",
        finished_at="2026-06-10T09:01:00Z",
        scenarios=[
            ScenarioResult(
                "ambient-authz-l4",
                "Ambient L4",
                "ambient",
                duration_s=12.5,
                steps=[
                    StepResult(
                        "l4-policy",
                        "Allow productpage",
                        applied=["manifests/allow.yaml"],
                        deleted=["manifests/old.yaml"],
                        duration_s=3.25,
                        probes=[
                            probe(
                                "productpage",
                                {"outcome": "allowed", "l7": False},
                                [Outcome(status=200, served_by="ratings-v1", attempt=1)],
                                attempts=3,
                                time_to_consistency_s=0.25,
                                headers={"X-Test": "yes"},
                            ),
                            probe(
                                "reviews",
                                {"outcome": "denied-l4"},
                                [reset, reset],
                                attempts=40,
                                note="held for 2 s",
                            ),
                        ],
                    )
                ],
            ),
            ScenarioResult(
                "ambient-traffic-shift",
                "Split",
                "ambient",
                steps=[
                    StepResult(
                        "split",
                        "90/10",
                        probes=[
                            probe(
                                "productpage",
                                {"split": {"v1": 90.0, "v2": 10.0}, "tolerance": 5.0},
                                [],
                                split_counts={"reviews-v1": 180, "reviews-v2": 20},
                            )
                        ],
                    )
                ],
            ),
            ScenarioResult("ambient-x", "Skipped", "ambient", skipped_reason="no cluster"),
        ],
    )


class Schema:
    """The shipped report schema: `validate` is `jsonschema.validate` (same validator class,
    same error raised) without checking the schema against its meta-schema on every call;
    the fixture checks it once."""

    def __init__(self, data: dict[str, Any]) -> None:
        import jsonschema

        self.validator = jsonschema.validators.validator_for(data)(data)

    def validate(self, instance: object) -> None:
        import jsonschema

        error = jsonschema.exceptions.best_match(self.validator.iter_errors(instance))
        if error is not None:
            raise error


@pytest.fixture(scope="module")
def schema() -> Schema:
    import jsonschema

    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(data)
    return Schema(data)


@pytest.fixture(scope="module")
def fixture_run() -> RunResult:
    return load_json_report(FIXTURE)


# --- JSON ---------------------------------------------------------------------------------


def test_round_trip(tmp_path: Path) -> None:
    run = small_run()
    path = tmp_path / "deep" / "report.json"
    write_json_report(run, path)
    assert load_json_report(path) == run
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temp file left


def test_written_report_has_the_documented_shape(tmp_path: Path, schema: Schema) -> None:
    path = tmp_path / "report.json"
    write_json_report(small_run(), path)
    data = json.loads(path.read_text())
    schema.validate(data)
    assert data["summary"] == {
        "scenarios": 3, "passed": 2, "failed": 0, "skipped": 1, "errors": 0, "model_findings": 0
    }  # fmt: skip
    obs = data["scenarios"][0]["steps"][0]["probes"][1]["observations"][0]
    assert obs["kind"] == "denied-l4"
    assert obs["probe_error"] == "reset"
    assert data["scenarios"][0]["steps"][0]["verdict"] == "pass"


def test_fixture_validates_and_round_trips_exactly(
    fixture_run: RunResult, schema: Schema
) -> None:
    data = json.loads(FIXTURE.read_text())
    schema.validate(data)
    assert run_to_dict(fixture_run) == data


def test_shipped_schema_is_generated_from_the_document_type() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "report_schema.json differs from ReportDocument: regenerate it with "
        "`python -m harness.report.document` and review the diff"
    )


def test_a_version_1_report_reads_with_its_time_measured_from_the_apply() -> None:
    # Version 1 had one time, measured from the step's apply: it is kept as that, and the
    # probe-start time stays unknown rather than being guessed.
    v1 = json.loads(FIXTURE_V1.read_text())
    run = load_json_report(FIXTURE_V1)
    first_v1 = v1["scenarios"][0]["steps"][0]["probes"][0]
    first = run.scenarios[0].steps[0].probes[0]
    assert first.time_to_consistency_from_apply_s == first_v1["time_to_consistency_s"] == 0.4
    assert first.time_to_consistency_s is None
    assert json.loads(FIXTURE_V1.read_text()) == v1  # the file's data was not changed


def test_reports_are_written_0644(tmp_path: Path) -> None:
    # Like junit.xml: readable by whoever uploads or serves it (mkstemp alone gives 0600).
    path = tmp_path / "report.json"
    write_json_report(small_run(), path)
    assert path.stat().st_mode & 0o777 == 0o644
    html_out = tmp_path / "r.html"
    assert cli_main(["report", str(path), "-o", "html", "--output-file", str(html_out)]) == 0
    assert html_out.stat().st_mode & 0o777 == 0o644


def test_report_into_a_missing_directory_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site" / "report.html"
    assert cli_main(["report", str(FIXTURE), "-o", "html", "--output-file", str(out)]) == 2
    assert f"error: cannot write {out}: directory {out.parent} does not exist" in (
        capsys.readouterr().err
    )
    assert not out.parent.exists()


def test_rewriting_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")
    write_json_report(small_run(), path)
    assert json.loads(path.read_text())["schema_version"] == 3


def _probe0(d: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = d["scenarios"][0]["steps"][0]["probes"][0]
    return first


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.update(extra=1), "'extra' was unexpected"),
        (lambda d: d["environment"].update(cluster="x"), "'cluster' was unexpected"),
        (lambda d: _probe0(d).pop("verdict"), "'verdict' is a required property"),
        (lambda d: _probe0(d).update(expect={"outcome": "ok"}), "'ok' is not one of"),
        (lambda d: d["scenarios"][0].update(verdict="passed"), "'passed' is not one of"),
        (lambda d: _probe0(d)["observations"][0].update(l7="yes"), "'yes' is not of type"),
    ],
)
def test_schema_is_strict(mutate: Any, where: str, schema: Schema) -> None:
    data = run_to_dict(small_run())
    mutate(data)
    import jsonschema

    with pytest.raises(jsonschema.ValidationError, match=where):
        schema.validate(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"schema_version": 4}', "schema_version 4 is not supported (expected 1, 2 or 3)"),
        (
            '{"schema_version": 2, "environment": {"provider": "kind"}}',
            "missing field 'started_at' (and 9 more problems)",
        ),
        ("[1]", "a report is a JSON object"),
    ],
)
def test_unreadable_reports_say_why(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ReportError, match=re.escape(message)):
        load_json_report(path)


def test_report_o_is_the_format_as_in_kubectl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    # The older spellings: -o FILE (now a format, as kubectl reads it) says what to use instead.
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["report", str(FIXTURE), "-o", str(out)])
    assert exit_info.value.code == 2
    assert (
        f"argument -o/--output/--format: {str(out)!r} is not a format (markdown, html); "
        f"to write a file: --output-file {out}"
    ) in capsys.readouterr().err
    assert not out.exists()
    assert cli_main(["report", str(FIXTURE), "--format", "html", "--output-file", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["report", str(FIXTURE), "-o", "markdown"]) == 0
    assert "### Conformance matrix" in capsys.readouterr().out
    out = tmp_path / "r.html"
    assert cli_main(["report", str(FIXTURE), "-o", "html", "--output-file", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    missing = tmp_path / "missing.json"
    assert cli_main(["report", str(missing), "-o", "html"]) == 2
    assert "cannot read" in capsys.readouterr().err


# --- words --------------------------------------------------------------------------------


def test_reports_word_expectations_as_the_scenario_does(fixture_run: RunResult) -> None:
    # One wording (harness.model.describe) in plan, failure messages and every report.
    expect = Expect.model_validate({"outcome": "allowed", "l7": False})
    assert describe_expect(expect) == "allowed, l7 false"
    failed = next(p for sc in fixture_run.scenarios for st in sc.steps for p in st.probes
                  if p.verdict == "fail")  # fmt: skip
    wording = describe_expect(failed.expect)
    assert f"expected: {wording}" in failure_summary(fixture_run)
    assert f"expected *{wording}*" in render_markdown(fixture_run)
    assert f'<span class="expected">{wording}</span>' in render_html(fixture_run)


def test_the_expectation_is_carried_typed_and_intact(tmp_path: Path) -> None:
    run = small_run()
    path = tmp_path / "r.json"
    write_json_report(run, path)
    split = load_json_report(path).scenarios[1].steps[0].probes[0].expect
    assert isinstance(split, Expect)
    assert split == run.scenarios[1].steps[0].probes[0].expect
    assert split.tolerance == 5.0 and split.split == {"v1": 90.0, "v2": 10.0}


def test_describe_split() -> None:
    assert describe_split({"reviews-v2": 20, "reviews-v1": 180}) == "v1 90% / v2 10% (n=200)"
    assert describe_split({"a": 1, "reviews-v1": 3}) == "a 25% / reviews-v1 75% (n=4)"
    assert describe_split({}) == "no samples"


def test_junit_properties_leave_out_unknown_fields() -> None:
    env = Environment(provider="kind", istio_version="1.30.3", node_image="kindest/node:v1")
    assert junit_properties(env) == [
        ("provider", "kind"),
        ("istio_version", "1.30.3"),
        ("node_image", "kindest/node:v1"),
    ]


def test_failure_summary(fixture_run: RunResult) -> None:
    text = failure_summary(fixture_run)
    assert text.startswith("2 of 9 scenarios did not pass:")
    assert "✘ ambient-fault-vs-authz (ambient): fail" in text
    assert "reviews → GET http://ratings:9080/ratings/1" in text
    assert "expected: denied-l7" in text
    assert "observed: status 418 (fault filter abort)" in text
    assert "injected fault (status 418): the ratings waypoint (inferred from the data" in text
    assert "! ambient-tcproute (ambient): error" in text
    assert "sidecar-authz-l4" not in text  # passed
    assert "ambient-mtls-strict" not in text  # skipped is not a failure
    assert failure_summary(small_run()) == ""


# --- pairs --------------------------------------------------------------------------------


def test_pairs_match_steps_by_name_and_probes_by_request(fixture_run: RunResult) -> None:
    pairs = pair_scenarios(fixture_run.scenarios)
    assert [p.topic for p in pairs] == ["authz-l4", "fault-vs-authz", "traffic-shift"]
    rows = comparison_rows(pairs[0])
    # ambient-authz-l4 also has a baseline step; only the shared step is compared.
    assert [(r.step, r.target) for r in rows] == [
        ("l4-policy", "productpage → ratings:9080/ratings/1"),
        ("l4-policy", "reviews → ratings:9080/ratings/1"),
    ]
    assert all(r.sidecar is not None and r.ambient is not None for r in rows)


def test_unmatched_probes_and_step_names() -> None:
    ok = Outcome(status=200)
    side = ScenarioResult(
        "sidecar-t", "t", "sidecar",
        steps=[StepResult("a", "a", probes=[probe("x", {"outcome": "allowed"}, [ok])])],
    )  # fmt: skip
    amb = ScenarioResult(
        "ambient-t", "t", "ambient",
        steps=[StepResult("b", "b", probes=[probe("y", {"outcome": "allowed"}, [ok])])],
    )  # fmt: skip
    [pair] = pair_scenarios([amb, side])
    rows = comparison_rows(pair)
    assert [(r.step, r.sidecar is None, r.ambient is None) for r in rows] == [
        ("a / b", False, True),
        ("a / b", True, False),
    ]


def _side(name: str, dataplane: str, compare_with: str | None = None) -> ScenarioResult:
    return ScenarioResult(name, name, dataplane, compare_with=compare_with)


def test_pairs_declared_by_compare_with_from_either_side_then_by_name() -> None:
    run = [
        _side("sidecar-authz-l7", "sidecar"),
        _side("sidecar-authz-l4", "sidecar"),
        _side("sidecar-routing", "sidecar", compare_with="ambient-header-routes"),
        _side("ambient-authz-l4", "ambient"),
        _side("ambient-authz-l7-waypoint", "ambient", compare_with="sidecar-authz-l7"),
        _side("ambient-header-routes", "ambient"),
    ]
    assert [(p.topic, p.sidecar.name, p.ambient.name) for p in pair_scenarios(run)] == [
        ("authz-l7", "sidecar-authz-l7", "ambient-authz-l7-waypoint"),
        ("authz-l4", "sidecar-authz-l4", "ambient-authz-l4"),
        ("routing / header-routes", "sidecar-routing", "ambient-header-routes"),
    ]


def test_a_declared_pair_replaces_the_name_rule_and_never_pairs_one_data_plane() -> None:
    run = [
        _side("sidecar-x", "sidecar"),
        _side("ambient-x", "ambient", compare_with="ambient-y"),  # same data plane: no pair
        _side("ambient-y", "ambient"),
        _side("ambient-z", "ambient", compare_with="sidecar-absent"),  # not in this run
    ]
    assert pair_scenarios(run) == []
    # Both sides naming each other is one pair.
    both = [_side("sidecar-a", "sidecar", "ambient-b"), _side("ambient-b", "ambient", "sidecar-a")]
    assert [(p.sidecar.name, p.ambient.name) for p in pair_scenarios(both)] == [
        ("sidecar-a", "ambient-b")
    ]


def test_compare_with_survives_the_json_report(tmp_path: Path) -> None:
    run = RunResult(
        Environment(provider="kind"),
        [_side("sidecar-a", "sidecar"), _side("ambient-b", "ambient", "sidecar-a")],
    )
    write_json_report(run, tmp_path / "r.json")
    back = load_json_report(tmp_path / "r.json")
    assert [s.compare_with for s in back.scenarios] == [None, "sidecar-a"]
    assert len(pair_scenarios(back.scenarios)) == 1


# --- Markdown -------------------------------------------------------------------------------


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown(fixture_run: RunResult) -> None:
    md = render_markdown(fixture_run)
    for s in fixture_run.scenarios:
        assert f"| {s.name}: " in md
    assert "**6 passed** · **1 failed** · 1 skipped · 1 error — 9 scenarios" in md
    assert "| ambient-fault-vs-authz: " in md and "| ❌ fail | 0/1 | 1.1 s | 70.3 s |" in md
    assert "| ambient-mtls-strict: " in md and "⏭️ skipped" in md
    assert "⚠️ error" in md
    assert (
        "| l4-policy | reviews → ratings:9080/ratings/1 as ns/sidecar-authz-l4/sa/bookinfo-reviews "
        "(sidecar), ns/ambient-authz-l4/sa/bookinfo-reviews (ambient) "
        "| denied-l7 (403 RBAC: access denied) "
        "| RBAC 403 from an Envoy: the server sidecar (inferred from the data plane) "
        "| denied-l4 (reset) | connection reset: ztunnel (inferred from the data plane) |" in md
    )
    assert "routed through an Envoy: the client sidecar (inferred" in md
    assert "routed through an Envoy: the reviews waypoint (inferred" in md
    assert "status 418 (fault filter abort) ✘ expected denied-l7" in md
    assert "<script>" not in md and "&lt;script&gt;" in md
    # Every table keeps its column count, even with '|' in a cell.
    tables: list[list[str]] = []
    for line in md.splitlines():
        if line.startswith("|"):
            tables[-1].append(line) if tables and tables[-1] else tables.append([line])
        elif tables and tables[-1]:
            tables.append([])
    for table in filter(None, tables):
        assert len({_unescaped_pipes(line) for line in table}) == 1, table


def test_markdown_escapes_pipes_in_cells() -> None:
    run = small_run()
    run.scenarios[0].title = "a | b"
    assert "| ambient-authz-l4: a \\| b |" in render_markdown(run)


# --- HTML -----------------------------------------------------------------------------------

VOID = {"meta", "br", "col", "img", "hr", "input", "link"}


class TagChecker(HTMLParser):
    """Balanced tags, and every link and resource that would leave the page."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "srcset") or (name == "href" and not (value or "").startswith("#")):
                self.problems.append(f"external {name}={value}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def test_html(fixture_run: RunResult) -> None:
    page = render_html(fixture_run)
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    assert checker.problems == []
    assert checker.stack == []
    assert "script" not in checker.tags  # no JavaScript, including from scenario text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; friends" in page
    assert "&lt;b&gt;x-version&lt;/b&gt;" in page and "&lt;v2&gt;" in page
    assert "url(" not in page and "@import" not in page
    for s in fixture_run.scenarios:
        assert f'id="scenario-{s.name}"' in page
        assert f'href="#scenario-{s.name}"' in page
    assert '<div class="badge fail"><b>1</b>failed</div>' in page
    assert '<div class="badge pass"><b>6</b>passed</div>' in page
    # The failed scenario is open, with its probe's expected vs observed and the message.
    assert '<details id="scenario-ambient-fault-vs-authz" open>' in page
    assert '<details id="scenario-sidecar-authz-l4">' in page
    assert (
        '<b>Expected</b> <span class="expected">denied-l7</span> — <b>observed</b> '
        '<span class="observed">status 418 (fault filter abort)</span>' in page
    )
    assert "expected denied-l7 3 times in a row within 30 s" in page
    assert "connection reset: ztunnel (inferred from the data plane)" in page
    assert "RBAC 403 from an Envoy: the server sidecar (inferred from the data plane)" in page
    assert "waypoint ambient-tcproute/waypoint not Programmed within 120 s" in page
    # A later probe of a step: its own time, and beneath it the time since the step's apply.
    assert '<td class="num">1.8 s<br><span class="hdrs">2.2 s after the apply</span></td>' in page


# --- what a person sees ------------------------------------------------------------------------


def _chromium() -> str | None:
    # The headless shell first (Debian's chromium-headless-shell: the same Blink renderer
    # without the browser around it): one screenshot costs it ~0.8 s of CPU, the full browser
    # ~2.2 s (zygote, renderer and GPU processes included, measured as their subreaper).
    for name in ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _chromium()
EXAMPLE_PNG = Path(__file__).resolve().parents[2] / "docs" / "report-example.png"
EXAMPLE_LABEL = "Example: fixture data (tests/fixtures/report.json), not a live run"


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (apt install chromium-headless-shell)"
)
def test_html_renders_in_a_browser(tmp_path: Path, fixture_run: RunResult) -> None:
    """Also makes docs/report-example.png: `AMBIENT_HARNESS_UPDATE_GOLDEN=1 pytest -k browser`."""
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    page.write_text(render_html(fixture_run, label=EXAMPLE_LABEL), encoding="utf-8")
    png = tmp_path / "report.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1280,2000",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # --user-data-dir is not all: crash reports and dconf still go under $HOME.
        env={
            **os.environ,
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        },
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    # A blank page of that size compresses to a few kB; tables, badges and text do not.
    assert len(data) > 50_000
    if os.environ.get("AMBIENT_HARNESS_UPDATE_GOLDEN") == "1":
        EXAMPLE_PNG.write_bytes(data)


def test_the_example_page_is_labelled_as_fixture_data(fixture_run: RunResult) -> None:
    page = render_html(fixture_run, label=EXAMPLE_LABEL)
    assert f'<p class="label">{EXAMPLE_LABEL}</p><h1>' in page
    assert '<p class="label">' not in render_html(fixture_run)


# --- the CI template ---------------------------------------------------------------------------

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "conformance.yml"


def test_conformance_workflow_template() -> None:
    import yaml

    from harness.cli.main import build_parser
    from harness.host import versions

    data = yaml.safe_load(WORKFLOW.read_text())
    job = data["jobs"]["kind"]
    assert versions.ISTIO_VERSION in job["strategy"]["matrix"]["istio"]
    assert job["strategy"]["fail-fast"] is False
    steps = job["steps"]
    for step in steps:
        if "uses" in step:  # actions pinned by major version
            assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), step["uses"]
    runs = [step.get("run", "") for step in steps]
    e2e = next(i for i, r in enumerate(runs) if r.startswith("make e2e"))
    sysctl = next(i for i, r in enumerate(runs) if "fs.inotify.max_user_instances" in r)
    assert sysctl < e2e  # limits raised before kind starts any node
    assert runs[e2e] == 'make e2e PYTEST_ARGS="--istio-version=${{ matrix.istio }}"'
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert summary["if"] == upload["if"] == "always()"
    assert {"reports/", "artifacts/"} <= set(upload["with"]["path"].split())
    # The commands the workflow runs exist with these options.
    parser = build_parser()
    for line in summary["run"].splitlines():
        if "ambient-harness report" in line:
            argv = line.split("ambient-harness", 1)[1].split(">>")[0].split()
            args = parser.parse_args(argv)
            assert args.format in ("markdown", "html")


def test_every_report_table_shows_the_identity(fixture_run: RunResult) -> None:
    """Probe tables and comparison tables, Markdown and HTML: `as ns/<ns>/sa/<sa>` beside the
    request, worded by `describe_identity` as the terminal summary words it."""
    md, page = render_markdown(fixture_run), render_html(fixture_run)
    probe_row = (
        "| l4-policy | reviews → ratings:9080/ratings/1 as ns/ambient-authz-l4/sa/bookinfo-reviews "
        "| denied-l4 |"
    )
    assert probe_row in md
    for text in (md, page):
        assert (
            "as ns/sidecar-authz-l4/sa/bookinfo-reviews (sidecar), "
            "ns/ambient-authz-l4/sa/bookinfo-reviews (ambient)" in text
        )
