"""Observations and expectations the judge tests share (imported as `from outcomes import`)."""

from __future__ import annotations

from typing import Any

from harness.model.outcome import Outcome, ProbeError
from harness.model.scenario import Expect

ALLOWED = Outcome(status=200, served_by="reviews-v1")
ALLOWED_V2 = Outcome(status=200, served_by="reviews-v2")
RESET = Outcome(status=502, probe_error=ProbeError.RESET)
EOF_ = Outcome(status=502, probe_error=ProbeError.EOF)
REFUSED = Outcome(status=502, probe_error=ProbeError.REFUSED)
TIMEOUT = Outcome(status=502, probe_error=ProbeError.TIMEOUT)
DNS = Outcome(status=502, probe_error=ProbeError.DNS)
AGENT_ERROR = Outcome(status=502, probe_error=ProbeError.ERROR)
RBAC = Outcome(status=403, body_excerpt="RBAC: access denied")
FAULT = Outcome(status=418, body_excerpt="fault filter abort")


def ex(**kw: Any) -> Expect:
    return Expect.model_validate(kw)
