"""Scenario features: the names that become pytest markers, and which names they must not be.

Features become pytest markers (`-m l7`), so a feature must never be a marker that pytest or
a plugin acts on: `features: [skip]` would skip the scenario, `[xfail]` turn a failure into
XFAIL, `[timeout]` crash pytest-timeout. The rule for a feature name: a DNS label (lower-case
letters, digits, '-'; the marker is the name with '-' as '_'), not one of RESERVED_FEATURES
(pytest's own markers, well-known plugins' markers, the harness's own markers and the data
planes). The pytest plugin also refuses a feature that collides with any other marker
registered in its session (`feature_problem` is the one place that words the refusal).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

RESERVED_FEATURES: frozenset[str] = frozenset(
    {
        # pytest itself (and the misspellings pytest refuses with an error)
        "skip", "skipif", "xfail", "parametrize", "parameterize", "parametrise",
        "parameterise", "usefixtures", "filterwarnings", "tryfirst", "trylast",
        # well-known plugins
        "timeout",  # pytest-timeout
        "flaky",  # flaky, pytest-rerunfailures
        "asyncio",  # pytest-asyncio
        "anyio", "trio",  # anyio, pytest-trio
        "django_db", "urls", "ignore_template_errors",  # pytest-django
        "order", "run", "first", "second", "third", "last",  # pytest-order, pytest-ordering
        "dependency",  # pytest-dependency
        "benchmark",  # pytest-benchmark
        "no_cover",  # pytest-cov
        "xdist_group",  # pytest-xdist
        "forked",  # pytest-forked
        "repeat",  # pytest-repeat
        "randomly_dont_reorganize", "randomly_seed",  # pytest-randomly
        "httpx_mock",  # pytest-httpx
        "respx",  # respx
        "vcr", "block_network", "default_cassette", "allowed_hosts",  # pytest-recording
        "freeze_time",  # pytest-freezer, pytest-freezegun
        "hypothesis",  # hypothesis
        "env",  # pytest-env
        "serial",  # pytest-xdist serial groups (pytest-serial)
        "subtests",  # pytest-subtests
        # this project's own markers
        "scenario", "live", "envoy", "ambient", "sidecar",
    }
)  # fmt: skip


def feature_marker(name: str) -> str:
    """The pytest marker a feature becomes."""
    return name.replace("-", "_")


def feature_problem(name: str) -> str | None:
    """Why `name` cannot be a feature, or None when it can (the rule above RESERVED_FEATURES)."""
    marker = feature_marker(name)
    if marker in RESERVED_FEATURES:
        return (
            f"{name!r} is reserved: features become pytest markers, and {marker!r} is a "
            "marker pytest, a pytest plugin or the harness acts on; choose another name"
        )
    return None


def _feature(name: str) -> str:
    problem = feature_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


Feature = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63),
    AfterValidator(_feature),
]
