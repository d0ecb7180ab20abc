"""Readiness as data: what to wait for (a dry run prints it, a live run waits for it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from harness.kube.client import Kube
from harness.kube.objects import ObjectRef

# Where set-up steps say what they are doing (the CLI prints, tests collect, default: nothing).
Output = Callable[[str], None]


def quiet(_: str) -> None:
    return None


Want = Literal["available", "rolled-out", "established", "exists", "programmed"]


@dataclass(frozen=True)
class ReadinessCheck:
    """One thing to wait for; a dry run prints these, a live run waits for them."""

    ref: ObjectRef
    want: Want

    def __str__(self) -> str:
        words = {
            "available": "Available=True",
            "rolled-out": "rolled out on every node",
            "established": "Established=True",
            "exists": "present",
            "programmed": "Programmed=True",
        }
        return f"{self.ref}: {words[self.want]}"


def wait_ready(kube: Kube, checks: Sequence[ReadinessCheck], *, timeout: float) -> None:
    """Wait for each check in turn, all within one `timeout` budget."""
    deadline = time.monotonic() + timeout
    for check in checks:
        left = max(0.0, deadline - time.monotonic())
        ref = check.ref
        if check.want == "available":
            assert ref.namespace is not None
            kube.wait_deployment_available(ref.namespace, ref.name, timeout=left)
        elif check.want == "rolled-out":
            assert ref.namespace is not None
            kube.wait_daemonset_rolled_out(ref.namespace, ref.name, timeout=left)
        elif check.want == "established":
            kube.wait_established(ref.name, timeout=left)
        elif check.want == "programmed":
            kube.wait_condition(ref, "Programmed", "True", timeout=left)
        else:
            kube.wait_exists(ref, timeout=left)
