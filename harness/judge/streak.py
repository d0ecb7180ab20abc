"""How many matches in a row make `served_by: v2` mean "the route works"? (docs/architecture.md §4)

An expectation that names a version passes when it holds `streak` times in a row
(`harness.judge.eventually`). If the route is ignored, the Service spreads the requests over
its versions and the named one answers a share `p` of them, so a streak can happen by
chance. This module derives the streak that keeps that chance at most `FALSE_PASS` (1e-3)
over the whole time budget, and states the bound.

The null hypothesis
-------------------
"The route is ignored": every request lands on one endpoint of the Service, independently,
with the same chance for each endpoint (kube-proxy, ztunnel and Envoy's default
least-request balancer with one request in flight all pick so; round robin would make runs
rarer still). Every version of a harness backend has the same replicas, so the named version
answers `p = 1/k` of the requests for a Service with `k` versions. When the harness does not
know the Service (a host the scenario creates itself, or no topology at hand) it takes the
most adverse share a Service with an alternative version can have, `p = 1/2`. A *previous*
route whose weights favour the named version is outside this null: use a gate header (the
route's own response header) for that.

Optional stopping
-----------------
`eventually()` starts a new run only after a mismatch, and every mismatch is followed by a
sleep of `interval`; no poll starts once `budget` seconds have passed. So at most
`R = floor(budget / interval) + 2` runs can start (one more than the count of mismatches
that fit, plus one for rounding), however fast the requests are and however often the
verdict is looked at. Each run reaches `n` matches with probability `p**n`, independently
of the others (they use disjoint requests), so

    P(pass | route ignored) <= 1 - (1 - p**n) ** R        (exact when requests take no time)

and the derived streak is the smallest `n` (at least the scenario's own `streak`) with that
at most 1e-3: 19 for two versions over the default 30 s / 100 ms (302 runs), 12 for three.

False failures (the route works)
--------------------------------
Then every answer is the named version, except while the route propagates and for
transient errors (each resets the streak). After propagation, with an error rate `e` per
request, each run succeeds with probability `(1 - e)**n`; a failed run costs at most
`n * latency + interval`, so `A = floor((left - n * latency) / (interval + n * latency)) + 1`
runs fit in the `left` seconds of budget and P(fail) <= (1 - (1 - e)**n) ** A
(`false_fail()`; figures in docs/statistics.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.model.scenario import Expect, Probe, Timing
from harness.model.topology import Topology

FALSE_PASS = 1e-3  # the bound on passing by chance when the route is ignored
WORST_SHARE = 0.5  # the most adverse share of a version on a Service with an alternative
MAX_STREAK = 200  # beyond this the budget cannot be met anyway (Timing.streak <= 100)


def run_starts(timing: Timing) -> int:
    """The most runs of matches `eventually()` can start within the budget."""
    return math.floor(timing.budget / timing.interval) + 2


def chance_of_streak(share: float, streak: int, runs: int) -> float:
    """P(some run of `streak` matches among `runs` runs), each match with chance `share`."""
    if share <= 0.0:
        return 0.0
    if share >= 1.0:
        return 1.0
    one = share**streak
    return -math.expm1(runs * math.log1p(-one)) if one < 1.0 else 1.0


def required_streak(
    share: float, runs: int, *, at_least: int = 1, target: float = FALSE_PASS
) -> int:
    """The smallest streak >= at_least whose chance pass is <= target (at_least if none is)."""
    if share <= 0.0 or share >= 1.0:
        return at_least  # never by chance / nothing can tell the route from no route
    n = max(at_least, 1)
    while n < MAX_STREAK and chance_of_streak(share, n, runs) > target:
        n += 1
    return n


def false_fail(
    streak: int,
    left_s: float,
    timing: Timing,
    *,
    error_rate: float = 0.0,
    latency_s: float = 0.01,
) -> float:
    """Bound on failing when the route works from `left_s` seconds before the budget's end."""
    if left_s < streak * latency_s:
        return 1.0
    per_run = (1.0 - error_rate) ** streak
    if per_run >= 1.0:
        return 0.0
    attempts = (
        math.floor((left_s - streak * latency_s) / (timing.interval + streak * latency_s)) + 1
    )
    return (1.0 - per_run) ** attempts


@dataclass(frozen=True)
class StreakBound:
    """The derived streak for an expectation that names a version, and its false-pass bound."""

    version: str  # the version the expectation names
    service: str | None  # the Service the probe targets, when the harness knows it
    versions: tuple[str, ...] | None  # that Service's versions (None: not known)
    share: float  # the named version's chance per request when the route is ignored
    runs: int  # the most runs that can start within the budget
    declared: int  # the scenario's own timing.streak
    streak: int  # what the check requires: max(declared, derived)
    false_pass: float  # bound on P(pass | route ignored) with `streak`

    @property
    def raised(self) -> bool:
        return self.streak > self.declared

    def timing(self, timing: Timing) -> Timing:
        """`timing` with the required streak."""
        return (
            timing
            if timing.streak == self.streak
            else timing.model_copy(update={"streak": self.streak})
        )

    def describe(self) -> str:
        """`20 in a row (raised from 3): by chance <= 2.9e-04 if the route is ignored (...)`."""
        raised = f" (raised from {self.declared})" if self.raised else ""
        head = f"served_by {self.version}: {self.streak} in a row{raised}"
        if self.versions is None and self.share >= 1.0:
            return (
                f"{head}; the harness does not know this Service: sound only if it cannot reach "
                f"{self.version} without the route"
            )
        if self.versions is None:
            where = "Service's versions unknown here: worst case 2"
        elif self.share >= 1.0:
            where = f"{self.service} has only {self.version}: no streak can tell the route"
        else:
            where = f"{self.service}: {', '.join(self.versions)}"
        return (
            f"{head}: by chance <= {self.false_pass:.1e} if the route is ignored "
            f"({where}; <= {self.runs} runs in the budget)"
        )


def host_service(
    url: str, client_namespace: str, topology: Topology
) -> tuple[str, tuple[str, ...]] | None:
    """(name, versions) of the harness Service `url` targets, or None for any other host.

    `reviews`, `reviews.ns`, `reviews.ns.svc[.cluster.local]` name the Service over every
    version; `reviews-v2` (the per-version Service) names one version.
    """
    host = (urlsplit(url).hostname or "").lower()
    parts = host.split(".")
    name = parts[0]
    if len(parts) == 1:
        namespace = client_namespace
    elif len(parts) == 2 or parts[2:] in (["svc"], ["svc", "cluster", "local"]):
        namespace = parts[1]
    else:
        return None
    echoes = [e for e in topology.echoes if e.namespace == namespace]
    versions = tuple(e.version for e in echoes if e.service == name)
    if versions:
        return name, versions
    one = tuple(e.version for e in echoes if e.version_service == name)
    return (name, one) if one else None


def streak_bound(
    expect: Expect,
    timing: Timing,
    target: tuple[str, tuple[str, ...]] | None,
    *,
    gate: bool = False,
) -> StreakBound | None:
    """The streak `expect` needs, or None when it names no version.

    `target`: the probed Service and its versions (`host_service`), None when unknown. An
    expectation on an unknown Service takes the worst case share 1/2. A gate on an unknown
    Service keeps its declared streak (bound 1.0 unless the Service cannot reach the
    version without the route, which only the scenario knows): a gate opens a split, where
    the named version gets only part of the traffic, so a long streak would never come.
    """
    if expect.served_by is None:
        return None
    version = expect.served_by
    service, versions = None, None
    if target is not None:
        service, versions = target[0], target[1]
        version = next((v for v in versions if expect.served_by in (v, f"{service}-{v}")), version)
    runs = run_starts(timing)
    if versions is None:
        share = 1.0 if gate else WORST_SHARE
    else:
        share = versions.count(version) / len(versions)
    streak = (
        timing.streak
        if gate and versions is None
        else required_streak(share, runs, at_least=timing.streak)
    )
    return StreakBound(
        version=version,
        service=service,
        versions=versions,
        share=share,
        runs=runs,
        declared=timing.streak,
        streak=streak,
        false_pass=chance_of_streak(share, streak, runs),
    )


def probe_streak(
    probe: Probe, topology: Topology | None, *, gate: bool = False
) -> StreakBound | None:
    """The StreakBound of a probe's expectation (or of its gate), from the scenario's topology."""
    expect = probe.gate if gate else probe.expect
    if expect is None:
        return None
    target = None
    if topology is not None:
        try:
            namespace = topology.agent(probe.from_).namespace
        except KeyError:
            namespace = None
        if namespace is not None:
            target = host_service(probe.url, namespace, topology)
    return streak_bound(expect, probe.timing, target, gate=gate)
