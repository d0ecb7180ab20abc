"""What one probe observed, and which word of the outcome vocabulary it is
(docs/architecture.md §4).

| outcome      | observed signal                                   |
|--------------|---------------------------------------------------|
| allowed      | 2xx                                               |
| denied-l4    | agent's x-probe-error: reset or eof               |
| denied-l7    | 403 whose body starts with "RBAC: access denied"  |
| unreachable  | agent's x-probe-error: refused, timeout or dns    |
| status N     | any other status (418 fault, 503, 404, 504, ...)  |
| error        | agent's x-probe-error: error (not a mesh decision)|
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final, Literal, get_args

RBAC_DENIED_BODY = "RBAC: access denied"
REDACTED = "<redacted>"
# A path followed by its query, as echo's `"path": "/ratings/1?token=..."` or a URL in a proxy's
# error body: everything from the `?` to the end of the URL (quote, space or fragment).
_QUERY = re.compile(r"(/[^\s\"'?#]*)\?[^\s\"'#]*")


def redact_queries(text: str) -> str:
    """`/ratings/1?token=abc` -> `/ratings/1?<redacted>`: no query string reaches a report.

    The agent strips queries from its own logs; echo sends back the path it was asked for,
    query included, so whatever the harness keeps of a response body goes through here.
    """
    if "?" not in text:  # most texts: no search (it runs for every outcome of a split)
        return text
    return _QUERY.sub(rf"\1?{REDACTED}", text)


# Headers whose values are credentials: a report keeps the name, never the value.
SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
# The same headers inside a JSON body excerpt (echo reflects what it received).
_SECRET_IN_JSON = re.compile(
    r'("(?:' + "|".join(sorted(SECRET_HEADERS)) + r')"\s*:\s*")((?:[^"\\]|\\.)*)"',
    re.IGNORECASE,
)


def redact_header_values(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with every credential's value replaced (names kept: what was sent)."""
    return {k: REDACTED if k.lower() in SECRET_HEADERS else v for k, v in headers.items()}


class ProbeError(StrEnum):
    """Values of the agent's `x-probe-error` header."""

    RESET = "reset"
    EOF = "eof"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    DNS = "dns"
    ERROR = "error"


class Kind(StrEnum):
    """The outcome vocabulary (docs/architecture.md §4): what one observation was."""

    ALLOWED = "allowed"
    DENIED_L4 = "denied-l4"
    DENIED_L7 = "denied-l7"
    UNREACHABLE = "unreachable"
    STATUS = "status"
    ERROR = "error"

    def __repr__(self) -> str:
        # A kind is its word: pydantic quotes repr() in "expected 'allowed', 'denied-l4', ...".
        return repr(self.value)


# The kinds a scenario can name in `expect: {outcome: ...}`: `status N` is expected with
# `status:`, and `error` is never a mesh decision one could expect.
OutcomeName = Literal[Kind.ALLOWED, Kind.DENIED_L4, Kind.DENIED_L7, Kind.UNREACHABLE]
OUTCOMES: Final[tuple[Kind, ...]] = get_args(OutcomeName)


@dataclass(frozen=True)
class Outcome:
    """One observation, as seen by the harness through the agent."""

    status: int
    probe_error: ProbeError | None = None
    served_by: str | None = None  # echo's x-served-by, e.g. "reviews-v2"
    l7: bool = False  # the backend saw x-request-id: an Envoy was in the path
    elapsed_ms: float = 0.0
    body_excerpt: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # response headers, lower-case
    backend_headers: Mapping[str, str] = field(default_factory=dict)  # what echo received
    attempt: int | None = None  # echo's count of this x-request-id (retries)
    detail: str = ""  # agent's error detail

    def __post_init__(self) -> None:
        # Every Outcome, however made (a live probe, a report read back), is redacted.
        object.__setattr__(self, "body_excerpt", redact_queries(self.body_excerpt))
        object.__setattr__(self, "detail", redact_queries(self.detail))

    def for_record(self) -> Outcome:
        """This observation as a record keeps it: no credential's value. Judging sees the
        observation whole; what is kept of it (results, reports, the demo) goes through here."""
        return replace(
            self,
            headers=redact_header_values(self.headers),
            backend_headers=redact_header_values(self.backend_headers),
            body_excerpt=_SECRET_IN_JSON.sub(rf'\1{REDACTED}"', self.body_excerpt),
        )

    @property
    def kind(self) -> Kind:
        if self.probe_error is not None:
            if self.probe_error in (ProbeError.RESET, ProbeError.EOF):
                return Kind.DENIED_L4
            if self.probe_error is ProbeError.ERROR:
                return Kind.ERROR
            return Kind.UNREACHABLE
        if self.status == 403 and self.body_excerpt.startswith(RBAC_DENIED_BODY):
            return Kind.DENIED_L7
        if 200 <= self.status < 300:
            return Kind.ALLOWED
        return Kind.STATUS

    def served_by_matches(self, expected: str) -> bool:
        """`v2` matches `reviews-v2`; a full `reviews-v2` matches itself."""
        if self.served_by is None:
            return False
        return self.served_by == expected or self.served_by.endswith(f"-{expected}")

    def describe(self) -> str:
        """Short human form: `allowed (200, reviews-v2)`, `denied-l4 (reset)`, `status 418`."""
        kind = self.kind
        if self.probe_error is not None:
            return f"{kind.value} ({self.probe_error.value})"
        if kind is Kind.DENIED_L7:
            return f"denied-l7 (403 {RBAC_DENIED_BODY})"
        if kind is Kind.ALLOWED:
            extra = f", {self.served_by}" if self.served_by else ""
            return f"allowed ({self.status}{extra})"
        excerpt = (
            self.body_excerpt.strip().splitlines()[0][:60] if self.body_excerpt.strip() else ""
        )
        return f"status {self.status}" + (f" ({excerpt})" if excerpt else "")
