"""Readiness as data: what to wait for (a dry run prints it, a live run waits for it), and
the waits themselves, which say what the pods are doing while they wait
(`harness.mesh.progress`) and do not charge a visibly progressing image pull to the budget.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from harness.kube.client import Kube
from harness.kube.errors import WaitTimeout
from harness.kube.objects import ObjectRef
from harness.mesh.progress import activity, wait_line

# Where set-up steps say what they are doing (the CLI prints, tests collect, default: nothing).
Output = Callable[[str], None]

# While a pull is in progress at the deadline, the budget grows by this much at a time (up to
# the wait's `pull_allowance` in total): a stuck pull still ends.
PULL_STEP_S: Final = 30.0


def quiet(_: str) -> None:
    return None


Want = Literal["available", "rolled-out", "established", "exists", "programmed"]


@dataclass(frozen=True)
class ReadinessCheck:
    """One thing to wait for; a dry run prints these, a live run waits for them. `pods`: the
    label selector of the pods that make it ready, when the object does not say (a waypoint
    Gateway); a Deployment's or DaemonSet's own selector is read at wait time."""

    ref: ObjectRef
    want: Want
    pods: str | None = None

    def __str__(self) -> str:
        words = {
            "available": "Available=True",
            "rolled-out": "rolled out on every node",
            "established": "Established=True",
            "exists": "present",
            "programmed": "Programmed=True",
        }
        return f"{self.ref}: {words[self.want]}"


def selector_of(obj: Mapping[str, Any] | None) -> str | None:
    """`app=istiod` from a workload's spec.selector.matchLabels (None: no labels)."""
    labels = (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None


def _pods_selector(kube: Kube, check: ReadinessCheck) -> str | None:
    if check.pods is not None:
        return check.pods
    if check.want in ("available", "rolled-out"):
        return selector_of(kube.get(check.ref))
    return None


@contextlib.contextmanager
def reporting(
    kube: Kube, what: str, namespace: str | None, selector: str | None, output: Output | None
) -> Iterator[None]:
    """During the block, each of the client's progress ticks prints `wait_line` for the pods
    of `selector` instead of a bare "still waiting"."""
    if output is None or namespace is None or selector is None:
        yield
        return
    previous = kube.progress

    def tick(waiting: str, elapsed: float) -> None:
        try:
            pods = kube.pods(namespace, selector)
            events = kube.events(namespace)
        except Exception as exc:  # a progress line must never end the wait it describes
            output(f"{waiting} ({elapsed:.0f} s; pods unavailable: {type(exc).__name__})")
            return
        output(wait_line(what, pods, events, datetime.now(UTC), elapsed))

    kube.progress = tick
    try:
        yield
    finally:
        kube.progress = previous


@dataclass
class Budget:
    """One deadline for a sequence of waits, extended only while an image pull is visibly in
    progress, by at most `pull_allowance` seconds in all."""

    deadline: float
    pull_allowance: float = 0.0
    pull_step: float = PULL_STEP_S
    clock: Callable[[], float] = time.monotonic

    def left(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def extend_for_pull(
        self, kube: Kube, namespace: str | None, selector: str | None, output: Output | None
    ) -> bool:
        if self.pull_allowance <= 0 or namespace is None or selector is None:
            return False
        try:
            pods, events = kube.pods(namespace, selector), kube.events(namespace)
        except Exception:  # cannot tell: the timeout stands
            return False
        doing = activity(pods, events, datetime.now(UTC))
        if doing is None or doing.pulling_for is None:
            return False
        step = min(self.pull_step, self.pull_allowance)
        self.pull_allowance -= step
        self.deadline = self.clock() + step
        if output is not None:
            output(f"{doing.line}: not charged to the budget, {step:.0f} s more")
        return True


def _wait_one(kube: Kube, check: ReadinessCheck, timeout: float) -> None:
    ref = check.ref
    if check.want == "available":
        assert ref.namespace is not None
        kube.wait_deployment_available(ref.namespace, ref.name, timeout=timeout)
    elif check.want == "rolled-out":
        assert ref.namespace is not None
        kube.wait_daemonset_rolled_out(ref.namespace, ref.name, timeout=timeout)
    elif check.want == "established":
        kube.wait_established(ref.name, timeout=timeout)
    elif check.want == "programmed":
        kube.wait_condition(ref, "Programmed", "True", timeout=timeout)
    else:
        kube.wait_exists(ref, timeout=timeout)


def wait_ready(
    kube: Kube,
    checks: Sequence[ReadinessCheck],
    *,
    timeout: float,
    output: Output | None = None,
    pull_allowance: float = 0.0,
    pull_step: float = PULL_STEP_S,
) -> None:
    """Wait for each check in turn, all within one `timeout` budget (plus up to
    `pull_allowance` seconds, `pull_step` at a time, while an image pull is in progress when
    it runs out). `output` gets a line about the pods at each of the client's progress ticks."""
    budget = Budget(time.monotonic() + timeout, pull_allowance, pull_step)
    for check in checks:
        selector = _pods_selector(kube, check)
        with reporting(kube, str(check.ref), check.ref.namespace, selector, output):
            while True:
                try:
                    _wait_one(kube, check, budget.left())
                    break
                except WaitTimeout:
                    if not budget.extend_for_pull(kube, check.ref.namespace, selector, output):
                        raise
