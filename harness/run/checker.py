"""Judging one probe live: poll through an agent until the expectation holds, or sample a split.

`EventuallyChecker` is the `runner.Checker` of live runs; the dry run's `PlanChecker` prints
instead (harness/run/dryrun.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from harness.judge.derived import split_check, streak_note, timing_for
from harness.judge.eventually import eventually
from harness.judge.match import gate_expectation, mismatch
from harness.judge.split import run_split
from harness.model.outcome import Outcome
from harness.model.results import ProbeResult
from harness.model.scenario import Probe
from harness.model.topology import Topology
from harness.probe.backends import BackendRestarting
from harness.probe.link import AgentLink

Clock = Callable[[], float]
Sleep = Callable[[float], None]

PROBE_TIMEOUT_S = 5.0  # the agent's per-request upstream timeout (x-probe-timeout)
SPLIT_BATCH = 8  # split samples sent concurrently, then fed to SplitCheck in order
KEEP_OBSERVATIONS = 5  # observations kept per probe result (newest last)
# A backend being replaced is polled through like a mismatch: the harness saw no mesh decision.
TRANSIENT: tuple[type[Exception], ...] = (BackendRestarting,)


def probe_result(probe: Probe, verdict: Any, **kwargs: Any) -> ProbeResult:
    return ProbeResult(
        client=probe.from_,
        method=probe.method,
        url=probe.url,
        expect=probe.expect,
        verdict=verdict,
        headers=dict(probe.headers),
        note=probe.note,
        **kwargs,
    )


def consistency_times(ttc: float | None, started: float, applied: float) -> dict[str, Any]:
    """`ttc` (from the probe's start) also measured from the step's apply (issue 11, item 13)."""
    return {
        "time_to_consistency_s": ttc,
        "time_to_consistency_from_apply_s": None if ttc is None else ttc + started - applied,
    }


@dataclass
class EventuallyChecker:
    """Polls through the agent until the expectation holds (docs/architecture.md §4)."""

    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep
    timeout_s: float = PROBE_TIMEOUT_S
    # The scenario's topology: the versions behind the probed Service (None: the worst case).
    topology: Topology | None = None

    def with_topology(self, topology: Topology) -> EventuallyChecker:
        return replace(self, topology=topology)

    def check(self, link: AgentLink, probe: Probe, since: float) -> ProbeResult:
        timeout = min(self.timeout_s, probe.timing.budget)

        def observe() -> Outcome:
            return link.probe(probe.method, probe.url, probe.headers, timeout)

        if probe.expect.split is not None:
            return self._split(link, probe, observe, since, timeout)
        timing = timing_for(probe, self.topology)  # the streak a named version needs
        started = self.clock()
        r = eventually(
            observe,
            probe.expect,
            timing,
            clock=self.clock,
            sleep=self.sleep,
            since=started,
            transient=TRANSIENT,
        )
        return probe_result(
            probe,
            "pass" if r.passed else "fail",
            observations=list(r.observations)[-KEEP_OBSERVATIONS:],
            attempts=r.attempts,
            message="" if r.passed else r.message + streak_note(probe, self.topology),
            **consistency_times(r.time_to_consistency, started, since),
        )

    def _split(
        self,
        link: AgentLink,
        probe: Probe,
        observe: Callable[[], Outcome],
        since: float,
        timeout: float,
    ) -> ProbeResult:
        attempts = 0
        started = self.clock()
        ttc: float | None = 0.0
        if probe.gate is not None:
            gate, timing = gate_expectation(probe.gate), timing_for(probe, self.topology, gate=True)
            g = eventually(
                observe,
                gate,
                timing,
                clock=self.clock,
                sleep=self.sleep,
                since=started,
                transient=TRANSIENT,
            )
            attempts = g.attempts
            if not g.passed:
                return probe_result(
                    probe,
                    "fail",
                    observations=list(g.observations)[-KEEP_OBSERVATIONS:],
                    attempts=attempts,
                    message="the gate never held, so the split was not sampled: "
                    f"{g.message}{streak_note(probe, self.topology, gate=True)}",
                )
            ttc = g.time_to_consistency
        check = split_check(probe)
        seen: list[Outcome] = []
        buffer: list[Outcome] = []

        def sample() -> Outcome:
            if not buffer:
                buffer.extend(
                    link.sample(probe.method, probe.url, SPLIT_BATCH, probe.headers, timeout)
                )
            return buffer.pop(0)

        run_split(sample, check, on_outcome=seen.append)
        passed = check.verdict == "pass"
        message = "" if passed else check.summary()
        # The other fields of the expectation (e.g. `l7: true`: the waypoint did the split)
        # must hold for every sample, not only for the gate.
        rest = probe.expect.model_copy(update={"split": None})
        wrong = [p for p in (mismatch(o, rest) for o in seen) if p is not None]
        if wrong and passed:
            passed = False
            message = f"{len(wrong)} of {len(seen)} samples: {wrong[0]} ({check.summary()})"
        return probe_result(
            probe,
            "pass" if passed else "fail",
            observations=seen[-KEEP_OBSERVATIONS:],
            attempts=attempts + check.samples,
            **consistency_times(ttc if passed else None, started, since),
            split_counts={**check.counts, **check.others},
            message=message,
        )
