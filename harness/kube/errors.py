"""The errors harness.kube raises on purpose, and the API server's words in them.

    HarnessError (harness.errors)
      KubeError              anything this package refuses or cannot do
        ManifestError        a manifest the harness cannot even send (no kind, no name, ...);
                             also a ValueError
        ApplyError           apply or preflight rejected objects: `failures` (ApplyFailure,
                             one per object) and `applied` (what was written before)
        WaitTimeout          a wait ran out of time; also a TimeoutError

Warnings (not errors): UnverifiedTLSWarning, once per client whose kubeconfig skips TLS
verification; FieldTakeoverWarning, per object whose fields a forced apply takes over from
another field manager (unless the client reports those through its `notice` callback).

The kubernetes client's own ApiException/DynamicApiError are not wrapped everywhere; turn
them into text with `api_error_text` (their `str()` dumps every response header).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.errors import HarnessError


class Ref(Protocol):
    """What an error needs of an object reference (harness.kube.objects.ObjectRef is one;
    a Protocol so that this module stays below objects.py, which raises ManifestError)."""

    @property
    def api_version(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def name(self) -> str: ...


class KubeError(HarnessError):
    """Base of the errors this package raises on purpose."""


class ManifestError(KubeError, ValueError):
    """A manifest the harness cannot even send (no kind, no name, ...)."""


@dataclass(frozen=True)
class ApplyFailure:
    """One object the API server (or discovery, or the client itself) rejected."""

    ref: Ref
    message: str
    status: int | None = None  # HTTP status; None when it never reached the server
    reason: str = ""  # Status.reason, e.g. Invalid, NotFound, Forbidden

    def __str__(self) -> str:
        code = f" [{f'{self.status} {self.reason}'.rstrip()}]" if self.status else ""
        return f"{self.ref}: {self.message}{code}"


class ApplyError(KubeError):
    """Apply or preflight failed; `failures` names each object, `applied` what was written."""

    def __init__(
        self, phase: str, failures: Sequence[ApplyFailure], applied: Sequence[Ref] = ()
    ) -> None:
        self.phase = phase
        self.failures = list(failures)
        self.applied = list(applied)
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.failures)
        what = (
            "server-side dry run (preflight)" if self.phase == "preflight" else "server-side apply"
        )
        head = f"{what} rejected {n} object{'s' if n != 1 else ''}"
        if self.applied:
            done = ", ".join(str(r) for r in self.applied)
            head += f"; already applied: {done}"
        elif self.phase == "preflight":
            head += "; nothing was applied"
        return head + "".join(f"\n  {f}" for f in self.failures)


class WaitTimeout(KubeError, TimeoutError):
    """A wait ran out of time; the message names the object(s) and what was last seen."""

    def __init__(self, ref: Ref | str, want: str, elapsed_s: float, last_seen: str) -> None:
        self.ref = ref
        self.want = want
        self.elapsed_s = elapsed_s
        self.last_seen = last_seen
        super().__init__(
            f"timed out after {elapsed_s:.1f}s waiting for {ref} to be {want}; "
            f"last seen: {last_seen}"
        )


class UnverifiedTLSWarning(UserWarning):
    """The kubeconfig turns TLS verification off: said once per client (a warning, since the
    user asked for it; urllib3 would repeat its own on every request)."""


class FieldTakeoverWarning(UserWarning):
    """A forced server-side apply takes fields of an existing object from another field
    manager (issued when the client has no `notice` callback)."""


def status_words(err: Any) -> tuple[str, str]:
    """(message, reason) of an API error, from the `Status` object in its body."""
    message, reason = "", str(getattr(err, "reason", "") or "")
    body = getattr(err, "body", None)
    body = body.decode(errors="replace") if isinstance(body, bytes) else body
    if body:
        try:
            status = json.loads(body)
            message = str(status.get("message") or "")
            reason = str(status.get("reason") or reason)
        except (ValueError, AttributeError):
            message = str(body)[:2000]
    return message, reason


def api_failure(ref: Ref, err: Any) -> ApplyFailure:
    """The API server's own words for `ref`: Status.message and reason from the error body."""
    message, reason = status_words(err)
    status = getattr(err, "status", None)
    return ApplyFailure(ref, message or f"HTTP {status}", status, reason)


def api_error_text(exc: BaseException) -> str | None:
    """`HTTP 403 Forbidden: <the API server's message>` for the kubernetes client's errors
    (whose `str()` dumps every response header), None for any other exception."""
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or not hasattr(exc, "body"):
        return None
    message, reason = status_words(exc)
    return f"HTTP {status} {reason}".rstrip() + (f": {message}" if message else "")
