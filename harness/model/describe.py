"""The one wording of an expectation, in the scenario's own words.

Plan text, dry run, failure messages, the reports and the demo all call `describe_expect`, so an
expectation reads the same everywhere and maps back to the field that says it; `plan` and
`explain` show a probe with the same `probe_summary`.
"""

from __future__ import annotations

from typing import Any

from harness.model.scenario import Expect, Probe


def probe_summary(p: Probe) -> dict[str, Any]:
    """A probe as `plan -o json` and `explain -o json` show it."""
    out: dict[str, Any] = {
        "from": p.from_,
        "method": p.method,
        "url": p.url,
        "headers": dict(p.headers),
        "expect": p.expect.summary(),
    }
    if p.gate is not None:
        out["gate"] = p.gate.summary()
    if p.timing.hold:
        out["hold_s"] = p.timing.hold
    return out


def _bool(value: bool) -> str:
    return "true" if value else "false"


def describe_expect(expect: Expect) -> str:
    """The expectation in the scenario's own words: `allowed, l7 true`, `status 418`."""
    parts: list[str] = []
    if expect.outcome is not None:
        parts.append(expect.outcome)
    if expect.status is not None:
        parts.append(f"status {expect.status}")
    if expect.served_by is not None:
        parts.append(f"served_by {expect.served_by}")
    if expect.split is not None:
        weights = " / ".join(f"{k} {v:g}" for k, v in expect.split.items())
        parts.append(f"split {weights} ±{expect.tolerance:g}")
    if expect.l7 is not None:
        parts.append(f"l7 {_bool(expect.l7)}")
    for name, value in (expect.headers or {}).items():
        parts.append(f"header {name}: {value}")
    for name, value in (expect.backend_saw or {}).items():
        parts.append(f"backend saw {name}: {value}")
    if expect.attempts is not None:
        parts.append(f"attempts {expect.attempts}")
    return ", ".join(parts)
