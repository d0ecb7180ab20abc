"""The demo's narration, the mental-model matrix, pauses, and the no-Docker exit.

The golden narration of the real catalogue is tests/cli/test_replay.py's; the small scenarios
here pin single behaviours of the narration.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, main_in_process
from rich.console import Console

from harness.cli import demo
from harness.cli.demo import (
    EXIT_NO_DOCKER,
    TALK_ORDER,
    DemoError,
    DemoObserver,
    needs_docker,
    select_scenarios,
    talk_order,
)
from harness.model.outcome import Outcome, ProbeError
from harness.model.results import Environment, ProbeResult, RunResult, ScenarioResult, StepResult
from harness.model.scenario import Scenario
from harness.report.record import record_step

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "demo.txt"
UPDATE_GOLDEN = os.environ.get("AMBIENT_HARNESS_UPDATE_GOLDEN") == "1"

POLICY = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ratings-allow-productpage
spec:
  selector:
    matchLabels:
      app: ratings
  action: ALLOW
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/{ns}/sa/bookinfo-productpage"]
"""
ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
spec:
  parentRefs:
    - {group: "", kind: Service, name: reviews, port: 9080}
  rules:
    - backendRefs:
        - {name: reviews-v1, port: 9080, weight: 90}
        - {name: reviews-v2, port: 9080, weight: 10}
"""
RATINGS = "http://ratings:9080/ratings/1"
REVIEWS = "http://reviews:9080/reviews/1"


def console(width: int = 100) -> Console:
    return Console(
        file=io.StringIO(),
        record=True,
        width=width,
        force_terminal=False,
        color_system=None,
        no_color=True,
        legacy_windows=False,
    )


def scenario(name: str, title: str, steps: list[dict[str, Any]], **extra: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": name,
        "title": title,
        "description": f"What {name} shows.\nIt wraps like a paragraph.\n\nA second paragraph.",
        "dataplane": name.split("-", 1)[0],
        "namespaces": [{"name": name}],
        "backends": [{"service": "ratings"}, {"service": "reviews", "versions": ["v1", "v2"]}],
        "clients": [{"name": "productpage"}, {"name": "reviews"}],
        "steps": steps,
        **extra,
    }
    return Scenario.model_validate(data)


def probe_spec(client: str, url: str, expect: Any) -> dict[str, Any]:
    return {"from": client, "url": url, "expect": expect}


def ok(served: str = "ratings-v1", l7: bool = False) -> Outcome:
    return Outcome(status=200, served_by=served, l7=l7, elapsed_ms=2.0)


RESET = Outcome(status=502, probe_error=ProbeError.RESET, detail="connection reset by peer")
RBAC = Outcome(status=403, body_excerpt="RBAC: access denied")


def result_for(
    s: Scenario,
    step_index: int,
    probe_index: int,
    obs: list[Outcome],
    *,
    verdict: str = "pass",
    ttc: float | None = 0.5,
    split: dict[str, int] | None = None,
    message: str = "",
) -> ProbeResult:
    p = s.steps[step_index].probes[probe_index]
    return ProbeResult(
        client=p.from_,
        method=p.method,
        url=p.url,
        expect=p.expect,
        verdict=verdict,  # type: ignore[arg-type]
        observations=obs,
        attempts=len(obs) or 200,
        time_to_consistency_s=ttc,
        split_counts=split,
        message=message,
    )


def sidecar_authz() -> tuple[Scenario, list[list[ProbeResult]]]:
    s = scenario(
        "sidecar-authz-l4",
        "Sidecar: the server's sidecar allows by identity",
        [
            {
                "name": "l4-policy",
                "title": "Allow only productpage",
                "apply": ["manifests/ratings-allow-productpage.yaml"],
                "probes": [
                    probe_spec("productpage", RATINGS, {"outcome": "allowed", "l7": True}),
                    probe_spec("reviews", RATINGS, "denied-l7"),
                ],
            }
        ],
    )
    return s, [[result_for(s, 0, 0, [ok(l7=True)]), result_for(s, 0, 1, [RBAC], ttc=1.7)]]


def ambient_authz() -> tuple[Scenario, list[list[ProbeResult]]]:
    s = scenario(
        "ambient-authz-l4",
        "Ambient: ztunnel allows by identity",
        [
            {
                "name": "baseline",
                "title": "No policy: L4 only",
                "probes": [probe_spec("reviews", RATINGS, {"outcome": "allowed", "l7": False})],
            },
            {
                "name": "l4-policy",
                "title": "Allow only productpage",
                "narrative": "The destination ztunnel\nenforces it.",
                "apply": ["manifests/ratings-allow-productpage.yaml"],
                "probes": [
                    probe_spec("productpage", RATINGS, "allowed"),
                    probe_spec("reviews", RATINGS, "denied-l4"),
                ],
            },
        ],
    )
    return s, [
        [result_for(s, 0, 0, [ok()], ttc=0.0)],
        [result_for(s, 1, 0, [ok()]), result_for(s, 1, 1, [ok(), RESET], ttc=1.3)],
    ]


def ambient_l7() -> tuple[Scenario, list[list[ProbeResult]]]:
    s = scenario(
        "ambient-authz-l7-waypoint",
        "Ambient: the ratings waypoint enforces L7",
        [
            {
                "name": "l7-policy",
                "title": "Allow GET from productpage at the waypoint",
                "apply": ["manifests/ratings-l7.yaml"],
                "delete": ["manifests/ratings-allow-productpage.yaml"],
                "probes": [
                    probe_spec("productpage", RATINGS, {"outcome": "allowed", "l7": True}),
                    probe_spec("reviews", RATINGS, "denied-l7"),
                ],
            }
        ],
        waypoints=[{"name": "waypoint", "services": ["ratings"]}],
    )
    return s, [[result_for(s, 0, 0, [ok(l7=True)]), result_for(s, 0, 1, [RBAC], ttc=2.4)]]


def ambient_shift() -> tuple[Scenario, list[list[ProbeResult]]]:
    s = scenario(
        "ambient-traffic-shift",
        "Ambient: the reviews waypoint splits 90/10",
        [
            {
                "name": "shift",
                "title": "Route 90% to v1, 10% to v2",
                "apply": ["manifests/reviews-90-10.yaml"],
                "probes": [
                    probe_spec("productpage", REVIEWS, {"split": {"v1": 90, "v2": 10}}),
                ],
            }
        ],
        waypoints=[{"name": "waypoint", "services": ["reviews"]}],
    )
    counts = {"reviews-v1": 452, "reviews-v2": 48}
    return s, [[result_for(s, 0, 0, [ok("reviews-v1", True)], ttc=3.1, split=counts)]]


MANIFESTS = {
    "manifests/ratings-allow-productpage.yaml": POLICY,
    "manifests/ratings-l7.yaml": POLICY.replace("ratings-allow-productpage", "ratings-l7"),
    "manifests/reviews-90-10.yaml": ROUTE,
}


def drive(observer: DemoObserver, s: Scenario, probes: list[list[ProbeResult]]) -> ScenarioResult:
    """Call the hooks in the order the runner does."""
    observer.scenario_started(s)
    steps = []
    for step, results in zip(s.steps, probes, strict=True):
        shown = {p: MANIFESTS[p] for p in [*step.apply, *step.delete]}
        observer.step_started(s, step, shown)
        for r in results:
            observer.probe_finished(s, step, r)
        sr = StepResult(
            step.name,
            step.title,
            applied=list(step.apply),
            deleted=list(step.delete),
            probes=results,
            duration_s=2.0,
        )
        record_step(sr, step, s)  # as the runner does before step_finished
        observer.step_finished(s, sr)
        steps.append(sr)
    result = ScenarioResult(s.name, s.title, s.dataplane, steps=steps, duration_s=30.0)
    observer.scenario_finished(result)
    return result


ENV = Environment(
    provider="kind", kubernetes_version="v1.35.8", istio_version="1.30.3", context="kind-demo"
)


def full_demo(width: int = 100) -> tuple[str, DemoObserver]:
    out = console(width)
    observer = DemoObserver(out)
    observer.phase("creating kind cluster 'ambient-harness'")
    observer.phase_done("created kind cluster 'ambient-harness'", 41.25)
    observer.phase("installing Istio 1.30.3 (ambient profile)")
    observer.phase_done("Istio 1.30.3 ready", 63.5)
    results = [
        drive(observer, *make())
        for make in (sidecar_authz, ambient_authz, ambient_l7, ambient_shift)
    ]
    observer.finish(RunResult(ENV, results, "2026-06-10T09:00:00Z", "2026-06-10T09:05:00Z"))
    return out.export_text(), observer


def _row(text: str, *cells: str) -> bool:
    """Some line of the table holds these cells in this order."""
    for line in text.splitlines():
        pos = 0
        for cell in cells:
            pos = line.find(cell, pos)
            if pos < 0:
                break
            pos += len(cell)
        else:
            return True
    return False


# Content checks use a wide console so that no cell wraps; the golden test covers 100 columns.
WIDE = 200


def test_demo_names_the_enforcement_point_of_each_probe() -> None:
    text, _ = full_demo(WIDE)
    # allowed / L4-denied / L7-denied / split, each with the component that decided.
    assert _row(text, "productpage → ratings:9080/ratings/1", "allowed", "✔", "ztunnel*")
    assert _row(text, "reviews → ratings:9080/ratings/1", "denied-l4", "denied-l4 (reset)", "✔")
    assert _row(text, "reviews → ratings:9080/ratings/1", "denied-l4 (reset)", "✔", "ztunnel*")
    assert _row(text, "reviews → ratings:9080/ratings/1", "denied-l7", "✔", "the")
    assert "the ratings waypoint*" in text
    assert "the server sidecar*" in text
    # Which component did it is inferred, never observed: the tables say so.
    assert text.count("* inferred from the data plane, not observed") == 6  # 5 steps + matrix
    assert _row(text, "productpage →", "split v1 90 / v2 10", "v1 90% / v2 10%", "✔", "the reviews")
    assert "the reviews waypoint*" in text
    assert "allowed by ztunnel" not in text and "(L4 only)" not in text
    # Manifests are shown, labelled with what happens to them.
    assert "apply manifests/ratings-allow-productpage.yaml" in text
    assert "delete manifests/ratings-allow-productpage.yaml" in text
    assert "kind: AuthorizationPolicy" in text
    # Phases with their elapsed time.
    assert "▸ creating kind cluster 'ambient-harness' …" in text
    assert "✔ created kind cluster 'ambient-harness' (41.2 s)" in text
    assert "Step 2/2 Allow only productpage" in text
    assert "✔ ambient-authz-l4 passed (2/2 steps, 30.0 s)" in text
    assert "4 scenarios: 4 passed, 0 failed, 0 skipped, 0 errors" in text


def test_matrix_puts_twins_side_by_side() -> None:
    text, _ = full_demo(WIDE)
    matrix = text[text.index("The mental model: same policy, different enforcement point") :]
    assert "authz-l4: sidecar-authz-l4 vs ambient-authz-l4" in matrix
    # Each row: the step and the observations, then the client and the enforcement points.
    assert _row(matrix, "l4-policy", "denied-l7 (403 RBAC: access denied)", "denied-l4 (reset)")
    assert _row(
        matrix, "reviews → ratings:9080/ratings/1", "→ the server sidecar*", "→ ztunnel*",
    )  # fmt: skip
    assert _row(matrix, "productpage →", "→ the server sidecar*", "→ ztunnel*")
    # Only twins appear: the L7 and traffic-shift scenarios have no sidecar partner here.
    assert "ambient-traffic-shift" not in matrix


def test_matrix_shows_a_probe_missing_on_one_side() -> None:
    out = console(WIDE)
    observer = DemoObserver(out)
    side, side_probes = sidecar_authz()
    amb, amb_probes = ambient_authz()
    side_result = drive(observer, side, side_probes)
    amb_result = drive(observer, amb, amb_probes)
    amb_result.steps[1].probes.pop(0)  # no productpage probe on the ambient side
    out.export_text()  # drop the narration
    observer.render_matrix([side_result, amb_result])
    text = out.export_text()
    assert _row(text, "l4-policy", "allowed (200, ratings-v1), L7", "—")
    assert _row(text, "productpage →", "→ the server sidecar*")


def test_failed_probe_shows_cross_and_message() -> None:
    out = console(WIDE)
    observer = DemoObserver(out)
    s, probes = ambient_authz()
    probes[1][1] = result_for(
        s, 1, 1, [ok()], verdict="fail", ttc=None, message="still allowed after 30 s"
    )
    result = drive(observer, s, probes)
    observer.finish(RunResult(ENV, [result]))
    text = out.export_text()
    assert _row(text, "reviews → ratings:9080/ratings/1", "denied-l4", "allowed (200", "✘")
    assert "reviews: still allowed after 30 s" in text
    assert "✘ ambient-authz-l4 failed (1/2 steps, 30.0 s)" in text
    assert "1 of 1 scenarios did not pass:" in text
    assert "expected: denied-l4" in text


def test_interactive_pauses_before_each_step_reading_the_injected_stream() -> None:
    out = console()
    stream = io.StringIO("\n" * 20)
    observer = DemoObserver(out, interactive=True, stream=stream)
    drive(observer, *ambient_authz())
    text = out.export_text()
    first = text.index("press Enter to run step 1/2: No policy: L4 only")
    second = text.index("press Enter to run step 2/2: Allow only productpage")
    # The manifest is on screen before the pause; the probe table only after it.
    assert text.index("kind: AuthorizationPolicy") < second < text.index("(reset)")
    assert first < second
    prompts = text.count("press Enter to")
    assert stream.read() == "\n" * (20 - prompts)  # one line consumed per pause
    assert observer.interactive


def test_interactive_stops_pausing_at_end_of_input() -> None:
    out = console()
    observer = DemoObserver(out, interactive=True, stream=io.StringIO(""))
    drive(observer, *ambient_authz())
    text = out.export_text()
    assert text.count("press Enter") == 1
    assert "(no more input: continuing without pauses)" in text
    assert not observer.interactive


def test_not_interactive_never_reads() -> None:
    class Untouchable(io.StringIO):
        def readline(self, *args: Any) -> str:
            raise AssertionError("read without --interactive")

    out = console()
    observer = DemoObserver(out, stream=Untouchable())
    drive(observer, *ambient_authz())
    text = out.export_text()
    assert "Step 2/2 Allow only productpage" in text  # both steps ran ...
    assert "press Enter" not in text  # ... without a prompt


# --- the command --------------------------------------------------------------------------


def test_talk_order() -> None:
    assert talk_order(["zzz", "ambient-authz-l4", "aaa", "sidecar-authz-l4"]) == [
        "sidecar-authz-l4",
        "ambient-authz-l4",
        "aaa",
        "zzz",
    ]
    assert talk_order(reversed(TALK_ORDER)) == list(TALK_ORDER)


def write_catalogue(root: Path, names: list[str]) -> Path:
    directory = root / "scenarios"
    for name in names:
        d = directory / name
        d.mkdir(parents=True)
        (d / "scenario.yaml").write_text(
            f"name: {name}\ntitle: t\ndescription: d\ndataplane: {name.split('-')[0]}\n"
            f"namespaces: [{{name: {name}}}]\nbackends: [{{service: ratings}}]\n"
            "clients: [{name: productpage}]\nsteps:\n  - name: s\n    title: s\n"
            "    probes: [{from: productpage, url: 'http://ratings:9080/', expect: allowed}]\n"
        )
    return directory


def test_select_scenarios(tmp_path: Path) -> None:
    names = ["ambient-zeta", "ambient-authz-l4", "sidecar-authz-l4"]
    directory = write_catalogue(tmp_path, names)
    assert [s.name for s in select_scenarios(directory, None)] == [
        "sidecar-authz-l4",
        "ambient-authz-l4",
        "ambient-zeta",
    ]
    picked = select_scenarios(directory, ["ambient-zeta", "sidecar-authz-l4"])
    assert [s.name for s in picked] == ["sidecar-authz-l4", "ambient-zeta"]
    with pytest.raises(DemoError, match=r"unknown scenario.*nope; available: sidecar-authz-l4"):
        select_scenarios(directory, ["nope"])


def ns(**kw: Any) -> argparse.Namespace:
    base: dict[str, Any] = {
        "scenario": None,
        "interactive": False,
        "cluster": "kind",
        "cluster_name": "ambient-harness",
        "kube_context": None,
        "kubeconfig": None,
        "keep_cluster": True,
        "keep": False,
        "istio_version": None,
        "artifacts": Path("artifacts"),
    }
    return argparse.Namespace(**{**base, **kw})


def test_needs_docker() -> None:
    assert needs_docker(ns())
    assert not needs_docker(ns(cluster="existing"))
    assert not needs_docker(ns(kube_context="prod"))
    assert not needs_docker(ns(kubeconfig="/tmp/k"))


class FakeRunner:
    def __init__(self, exc: BaseException | None = None, broken: str = "") -> None:
        self.broken = broken
        self.calls: list[tuple[list[str], argparse.Namespace, Any]] = []
        self.exc = exc

    def run_scenarios(
        self, scenarios: list[Scenario], args: Any, observer: Any, *, into: RunResult
    ) -> RunResult:
        """Like harness.run.session.run_scenarios: results land in `into` as they come."""
        self.calls.append(([s.name for s in scenarios], args, observer))
        into.environment = Environment(provider="existing")
        for s in scenarios:
            if self.exc is not None:
                raise self.exc
            error = "set-up failed" if s.name == self.broken else None
            into.scenarios.append(ScenarioResult(s.name, s.title, s.dataplane, error=error))
        return into


def install_runner(monkeypatch: pytest.MonkeyPatch, runner: FakeRunner) -> None:
    module = types.ModuleType("harness.run.session")
    module.run_scenarios = runner.run_scenarios  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "harness.run.session", module)


def test_demo_on_an_existing_cluster_skips_docker_and_runs_in_talk_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_catalogue(tmp_path, ["ambient-authz-l4", "sidecar-authz-l4"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "docker_problem", lambda: pytest.fail("Docker was checked"))
    runner = FakeRunner()
    install_runner(monkeypatch, runner)
    assert demo.demo_command(ns(kube_context="prod")) == 0
    [(names, args, observer)] = runner.calls
    assert names == ["sidecar-authz-l4", "ambient-authz-l4"]
    assert args.cluster == "existing" and args.kube_context == "prod"
    assert isinstance(observer, DemoObserver)


def test_a_live_demo_records_what_its_replay_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.replay import REPLAY_MARK, replay_command
    from harness.report.document import load_json_report

    write_catalogue(tmp_path, ["ambient-authz-l4"])
    monkeypatch.chdir(tmp_path)
    install_runner(monkeypatch, FakeRunner())
    report = tmp_path / "rehearsal.json"
    assert demo.demo_command(ns(cluster="existing", report_json=report)) == 0
    assert [s.name for s in load_json_report(report).scenarios] == ["ambient-authz-l4"]
    assert f"replay it with `ambient-harness demo --replay {report}`" in capsys.readouterr().out
    assert replay_command(argparse.Namespace(replay=report, interactive=False)) == 0
    assert REPLAY_MARK in capsys.readouterr().out


def test_demo_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.host.docker import DockerUnavailable

    write_catalogue(tmp_path, ["ambient-authz-l4"])
    monkeypatch.chdir(tmp_path)
    install_runner(monkeypatch, FakeRunner(broken="ambient-authz-l4"))
    assert demo.demo_command(ns(cluster="existing")) == demo.EXIT_FAILED
    assert "! ambient-authz-l4 (ambient): error" in capsys.readouterr().out
    install_runner(monkeypatch, FakeRunner(DockerUnavailable("engine went away")))
    monkeypatch.setattr(demo, "docker_problem", lambda: None)
    assert demo.demo_command(ns()) == EXIT_NO_DOCKER
    assert demo.demo_command(ns(scenario=["nope"])) == demo.EXIT_USAGE
    install_runner(monkeypatch, FakeRunner(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):  # the CLI turns it into exit 130
        demo.demo_command(ns())


Ran = subprocess.CompletedProcess[str]


@pytest.fixture
def run_demo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Ran]:
    """`ambient-harness demo ARGS` from the repository root with only `path_dirs` on PATH, in
    this process: the real Docker check (`docker` looked up on PATH, `docker info` run)."""

    def run(path_dirs: list[Path], *args: str) -> Ran:
        monkeypatch.delenv("KIND_EXPERIMENTAL_PROVIDER", raising=False)
        monkeypatch.setenv("PATH", os.pathsep.join(str(p) for p in path_dirs))
        monkeypatch.chdir(REPO)
        return main_in_process(capsys, "demo", *args)

    return run


def test_demo_without_a_docker_engine_stops_with_a_clear_message(
    tmp_path: Path, run_demo: Callable[..., Ran]
) -> None:
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. '
        'Is the docker daemon running?" >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    done = run_demo([tmp_path], "--scenario", "sidecar-authz-l4")
    assert done.returncode == EXIT_NO_DOCKER, done.stderr
    err = " ".join(done.stderr.split())  # the reason is wrapped to the terminal's width
    assert "error: `ambient-harness demo` needs a running Docker engine" in err
    assert "Cannot connect to the Docker daemon" in err
    assert "sudo systemctl start docker" in err  # how to start it
    assert "ambient-harness plan scenarios/sidecar-authz-l4" in err
    assert "ambient-harness run --dry-run" in err
    assert "--cluster existing --context CONTEXT" in err
    assert done.stdout == ""  # nothing was set up


def test_demo_without_docker_installed(tmp_path: Path, run_demo: Callable[..., Ran]) -> None:
    done = run_demo([tmp_path])
    assert done.returncode == EXIT_NO_DOCKER, done.stderr
    err = " ".join(done.stderr.split())
    assert "`docker` is not on PATH" in err
    assert "https://docs.docker.com/engine/install/" in err
    assert "ambient-harness plan scenarios/ambient-authz-l4" in err
