"""What the judge derives for a probe, and the words plan, dry run and lint print for it.

* an expectation (or a split's gate) that names a version needs the streak
  `harness.judge.streak` derives from the Service's versions and the budget;
* a split is sampled up to the cap `harness.judge.split` derives from its weights and
  tolerance, unless the probe sets `samples:` (lint warns when that is below
  `min_samples`, where the detection guarantee no longer holds).
"""

from __future__ import annotations

from harness.judge.split import CAP_FACTOR, SplitCheck
from harness.judge.streak import probe_streak
from harness.model.scenario import Probe, Timing
from harness.model.topology import Topology


def split_check(probe: Probe) -> SplitCheck:
    """A fresh SplitCheck for a split probe: the probe's `samples:` or the derived cap."""
    return SplitCheck.from_expect(probe.expect, max_samples=probe.samples)


def timing_for(probe: Probe, topology: Topology | None, *, gate: bool = False) -> Timing:
    """The probe's timing with the streak its expectation (or gate) needs."""
    bound = probe_streak(probe, topology, gate=gate)
    return probe.timing if bound is None else bound.timing(probe.timing)


def streak_note(probe: Probe, topology: Topology | None, *, gate: bool = False) -> str:
    """For a failure message: why more matches in a row were needed than the scenario says."""
    bound = probe_streak(probe, topology, gate=gate)
    if bound is None or not bound.raised:
        return ""
    return (
        f"; {bound.streak} in a row, not {bound.declared}: fewer happen by chance when the "
        f"route is ignored (<= {bound.false_pass:.1e} with {bound.streak}; docs/statistics.md)"
    )


def samples_warning(probe: Probe) -> str | None:
    """Lint's warning when a split probe's `samples:` is below what its tolerance needs."""
    if probe.expect.split is None or probe.samples is None:
        return None
    derived = SplitCheck.from_expect(probe.expect)
    need = derived.min_samples()
    if probe.samples >= need:
        return None
    return (
        f"samples {probe.samples} is below the {need} a ±{probe.expect.tolerance:g} point "
        f"split of these weights needs to detect an error of twice the tolerance in 99% of "
        f"runs (leave samples out for the derived cap, {derived.max_samples})"
    )


def derived_words(probe: Probe, topology: Topology | None) -> list[str]:
    """One line per derived figure of the probe (empty when there is none)."""
    lines: list[str] = []
    bound = probe_streak(probe, topology)
    if bound is not None:
        lines.append(bound.describe())
    if probe.gate is not None:
        gate = probe_streak(probe, topology, gate=True)
        lines.append("gate: a 2xx only" + (f"; {gate.describe()}" if gate is not None else ""))
    if probe.expect.split is not None:
        check = split_check(probe)
        info = check.information_bound()
        source = "samples:" if probe.samples is not None else f"{CAP_FACTOR:g} x"
        need = check.min_samples()
        detection = (
            "an error of 2 x the tolerance detected >= 99%"
            if check.max_samples >= need
            else f"detection not guaranteed below {need} samples"
        )
        lines.append(
            f"split: up to {check.max_samples} samples ({source} information bound {info:.0f}; "
            f"no pass before {check.pass_floor}); false fail <= {check.alpha:.1%}, {detection}"
        )
    return lines
