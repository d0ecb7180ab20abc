"""Send requests through an agent (docs/architecture.md §3) and turn each answer into an `Outcome`.

The harness reaches an agent at a local address (a port-forward, or a subprocess in tests)
and uses it as an ordinary HTTP proxy: httpx sends absolute-form targets to it over a
keep-alive connection, and the agent replays each request from inside its pod.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from types import TracebackType
from typing import Any

import httpx

from harness.errors import HarnessError
from harness.host.tls import tls_context
from harness.model.outcome import Outcome, ProbeError

EXCERPT_CHARS = 200
# The agent answers within the probe timeout; httpx waits this much longer, so a slow
# upstream is reported by the agent (x-probe-error: timeout) and not mistaken for a dead agent.
AGENT_MARGIN_S = 5.0
POOL_WAIT_S = 60.0
# Set by echo (harness/inpod/agent.py, which the package must not import): the request
# headers it received, as JSON, for answers without a body.
ECHO_HEADERS_HEADER = "x-echo-request-headers"


class AgentError(HarnessError):
    """The harness could not get an answer from the agent itself: not a mesh outcome."""


class AgentUnreachable(AgentError):
    """Connecting to or talking with the agent failed (port-forward down, agent gone)."""


class AgentLate(AgentError):
    """The agent took the request but did not answer within the probe timeout plus a margin.

    Not a dead forward: the agent answers within `x-probe-timeout` whatever the upstream does,
    so a late answer is a stall to report, never a reason to restart the forward.
    """


class AgentBusy(AgentError):
    """The agent refused the connection: it is at its --max-connections limit."""


class _NoCookies(CookieJar):
    """A cookie jar that keeps nothing: each probe sends exactly the headers it was given."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class Prober:
    """An httpx client that sends every request through one agent.

    Thread-safe: `sample` shares the client (and its keep-alive pool) between threads.
    """

    def __init__(self, host: str, port: int, *, max_connections: int = 16) -> None:
        self.host = host
        self.port = port
        self.agent_url = f"http://{host}:{port}"
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        # trust_env=False: an HTTP(S)_PROXY or NO_PROXY from the user's shell must not
        # reroute or bypass the agent. No cookie jar: httpx's would send a cookie one answer
        # set with every later probe to that host, so a probe's outcome would depend on the
        # probes before it (a route or policy matching on Cookie); remembering them was also
        # a seventh of each probe's CPU.
        self._client = httpx.Client(
            proxy=self.agent_url,
            limits=limits,
            trust_env=False,
            verify=tls_context(),
            cookies=_NoCookies(),
        )

    def probe(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        content: bytes | None = None,
    ) -> Outcome:
        """One request to `url` from the agent's pod; raises AgentError if the agent fails."""
        sent = dict(headers or {})
        sent["x-probe-timeout"] = f"{timeout:g}"
        started = time.monotonic()
        try:
            response = self._client.request(
                method,
                url,
                headers=sent,
                content=content,
                timeout=httpx.Timeout(timeout + AGENT_MARGIN_S, pool=POOL_WAIT_S),
            )
        except httpx.ReadTimeout as exc:
            # Connected and sent: the agent (or the forward) holds the request.
            raise AgentLate(
                f"agent {self.agent_url} gave no answer within {timeout:g}s + "
                f"{AGENT_MARGIN_S:g}s: {exc}"
            ) from exc
        except httpx.PoolTimeout as exc:
            # Every connection to the agent is busy with slow upstreams: nothing is broken.
            raise AgentLate(
                f"agent {self.agent_url}: no free connection within {POOL_WAIT_S:g}s "
                f"(all busy with earlier requests): {exc}"
            ) from exc
        except httpx.TransportError as exc:
            raise AgentUnreachable(f"agent {self.agent_url}: {type(exc).__name__}: {exc}") from exc
        elapsed_ms = (time.monotonic() - started) * 1000.0
        if response.headers.get("x-probe-agent") == "busy":
            raise AgentBusy(f"agent {self.agent_url} is at its connection limit")
        return outcome_from_response(response, elapsed_ms)

    def sample(
        self,
        method: str,
        url: str,
        n: int,
        headers: Mapping[str, str] | None = None,
        concurrency: int = 8,
        timeout: float = 5.0,
    ) -> list[Outcome]:
        """`n` probes, at most `concurrency` in flight; outcomes in the order sent."""
        if n <= 0:
            return []
        workers = max(1, min(concurrency, n))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
            futures = [pool.submit(self.probe, method, url, headers, timeout) for _ in range(n)]
            return [f.result() for f in futures]

    def healthy(self, timeout: float = 1.0) -> bool:
        """The agent answers its own /healthz (asked directly, not proxied)."""
        try:
            response = httpx.get(
                f"{self.agent_url}/healthz", timeout=timeout, trust_env=False, verify=tls_context()
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Prober:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def outcome_from_response(response: httpx.Response, measured_ms: float) -> Outcome:
    """Read the agent's answer: its x-probe-* headers, and echo's JSON when present."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    text = response.content.decode("utf-8", errors="replace")
    echo = _echo_body(text)
    backend_headers = _backend_headers(echo, headers)
    error_value = headers.get("x-probe-error")
    probe_error = _probe_error(error_value) if error_value is not None else None
    return Outcome(
        status=response.status_code,
        probe_error=probe_error,
        served_by=headers.get("x-served-by"),
        l7="x-request-id" in backend_headers,
        elapsed_ms=_float(headers.get("x-probe-elapsed-ms"), measured_ms),
        body_excerpt=text[:EXCERPT_CHARS],
        headers=headers,
        backend_headers=backend_headers,
        attempt=_attempt(echo, headers),
        detail=_detail(text) if probe_error is not None else "",
    )


def _probe_error(value: str) -> ProbeError:
    try:
        return ProbeError(value.strip().lower())
    except ValueError:
        return ProbeError.ERROR  # an agent newer than this harness: still not a mesh answer


def _echo_body(text: str) -> dict[str, Any] | None:
    """Echo's JSON (it has service, version and headers), or None for any other body."""
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and {"service", "version", "headers"} <= data.keys():
        return data
    return None


def _backend_headers(echo: dict[str, Any] | None, headers: Mapping[str, str]) -> dict[str, str]:
    """What echo received: from its JSON body, else (HEAD, 204, 304) its response header."""
    seen: Any = echo.get("headers") if echo is not None else None
    if not isinstance(seen, dict) and ECHO_HEADERS_HEADER in headers:
        try:
            seen = json.loads(headers[ECHO_HEADERS_HEADER])
        except ValueError:
            seen = None
    if not isinstance(seen, dict):
        return {}
    return {str(k).lower(): str(v) for k, v in seen.items()}


def _attempt(echo: dict[str, Any] | None, headers: Mapping[str, str]) -> int | None:
    if echo is not None and isinstance(echo.get("attempt"), int):
        return int(echo["attempt"])
    value = headers.get("x-echo-attempt")
    return int(value) if value is not None and value.isdigit() else None


def _detail(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text[:EXCERPT_CHARS]
    if isinstance(data, dict):
        return str(data.get("detail", ""))
    return ""


def _float(value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        return default
