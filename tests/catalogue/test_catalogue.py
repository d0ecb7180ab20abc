"""The scenario catalogue keeps its meaning.

Every scenario under `scenarios/` is loaded with the real loader and compared with the table
below: data plane, step names, and for each probe the client, target, request headers and
expected outcome. A later edit that silently changes what a scenario claims (a 403 becoming a
reset, a split losing its gate, a step disappearing) fails here and has to change this table
too, on purpose. The other tests check what a reader relies on: where each scenario says the
decision is made, what it cites, and that its manifests use today's APIs in its own
namespaces.
"""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import copy_scenario

from harness.model.scenario import Expect, Probe, Scenario, load_scenario
from harness.model.topology import USE_WAYPOINT, topology
from harness.model.yaml_loaders import load_all_plain
from harness.report.plan import plan_dict

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
CATALOGUE_DOC = ROOT / "README.md"

# (client, host:port/path, request headers, expectation [| gate]) for every probe of a step.
ProbeRow = tuple[str, str, str, str]
StepRow = tuple[str, list[ProbeRow]]

R1 = "ratings:9080/ratings/1"
REV = "reviews:9080/reviews/1"
COOL = "X-Test=istio-is-cool"
NOT_ISTIO = "X-Test=not-istio"

EXPECTED: dict[str, tuple[str, list[StepRow]]] = {
    "sidecar-authz-l4": ("sidecar", [
        ("l4-policy", [
            ("productpage", R1, "", "allowed, l7 true"),
            ("reviews", R1, "", "denied-l7"),
        ]),
    ]),
    "sidecar-authz-l7": ("sidecar", [
        ("l7-policy", [
            ("productpage", R1, COOL, "allowed, l7 true"),
            ("productpage", R1, NOT_ISTIO, "denied-l7"),
            ("productpage", R1, "", "denied-l7"),
            ("reviews", R1, COOL, "denied-l7"),
        ]),
    ]),
    "ambient-authz-l4": ("ambient", [
        ("baseline", [
            ("productpage", R1, "", "allowed, l7 false"),
            ("reviews", R1, "", "allowed, l7 false"),
        ]),
        ("l4-policy", [
            ("productpage", R1, "", "allowed"),
            ("reviews", R1, "", "denied-l4"),
        ]),
    ]),
    "ambient-authz-l7-no-waypoint": ("ambient", [
        ("baseline", [
            ("productpage", R1, COOL, "allowed, l7 false"),
            ("reviews", R1, "", "allowed, l7 false"),
        ]),
        ("l7-policy-without-waypoint", [
            ("productpage", R1, COOL, "denied-l4"),
            ("productpage", R1, NOT_ISTIO, "denied-l4"),
            ("productpage", R1, "", "denied-l4"),
            ("reviews", R1, COOL, "denied-l4"),
        ]),
        ("http-only-deny-is-ignored", [
            ("reviews", R1, COOL, "allowed"),
            ("productpage", R1, "", "denied-l4"),
            ("reviews", R1, COOL, "allowed, l7 false"),
        ]),
    ]),
    "ambient-authz-l7-waypoint": ("ambient", [
        ("waypoint-in-path", [
            ("productpage", R1, "", "allowed, l7 true"),
            ("reviews", R1, "", "allowed, l7 true"),
        ]),
        ("l7-policy", [
            ("productpage", R1, COOL, "allowed, l7 true"),
            ("productpage", R1, NOT_ISTIO, "denied-l7"),
            ("reviews", R1, COOL, "denied-l7"),
        ]),
        ("l4-allow-list-blocks-waypoint", [
            ("productpage", R1, COOL, "status 503"),
            ("reviews", R1, COOL, "denied-l7"),
        ]),
        ("admit-waypoint", [
            ("productpage", R1, COOL, "allowed, l7 true"),
            ("productpage", R1, NOT_ISTIO, "denied-l7"),
            ("reviews", R1, COOL, "denied-l7"),
        ]),
    ]),
    "sidecar-fault-vs-authz": ("sidecar", [
        ("l7-policy", [
            ("productpage", R1, COOL, "allowed, l7 true"),
            ("reviews", R1, COOL, "denied-l7"),
        ]),
        ("fault-418", [
            ("productpage", R1, COOL, "status 418"),
            ("reviews", R1, COOL, "status 418"),
        ]),
    ]),
    "ambient-fault-vs-authz": ("ambient", [
        ("l7-policy", [
            ("productpage", R1, COOL, "allowed, l7 true"),
            ("reviews", R1, COOL, "denied-l7"),
        ]),
        ("fault-418", [
            ("productpage", R1, COOL, "status 418"),
            ("reviews", R1, COOL, "denied-l7"),
        ]),
    ]),
    "sidecar-traffic-shift": ("sidecar", [
        ("weighted-90-10", [
            ("productpage", REV, "",
             "split v1 90/v2 10, l7 true | gate headers x-route=reviews-90-10"),
        ]),
        ("all-to-v2", [
            ("productpage", REV, "", "served_by v2, l7 true, headers x-route=reviews-0-100"),
        ]),
    ]),
    "ambient-traffic-shift": ("ambient", [
        ("weighted-90-10", [
            ("productpage", REV, "",
             "split v1 90/v2 10, l7 true | gate headers x-route=reviews-90-10"),
        ]),
        ("weighted-50-50", [
            ("productpage", REV, "",
             "split v1 50/v2 50, l7 true | gate headers x-route=reviews-50-50"),
        ]),
        ("all-to-v2", [
            ("productpage", REV, "", "served_by v2, l7 true, headers x-route=reviews-0-100"),
        ]),
    ]),
    "ambient-routing-header": ("ambient", [
        ("waypoint-in-path", [
            ("productpage", REV, "", "allowed, l7 true"),
        ]),
        ("match-end-user", [
            ("productpage", REV, "end-user=jason",
             "served_by v2, l7 true, headers x-route=reviews-jason"),
            ("productpage", REV, "", "served_by v1, l7 true, headers x-route=reviews-default"),
            ("productpage", REV, "end-user=alice",
             "served_by v1, l7 true, headers x-route=reviews-default"),
        ]),
    ]),
    "ambient-tcproute": ("ambient", [
        ("tcp-service", [
            ("productpage", "reviews-tcp:9080/reviews/1", "", "served_by v1, l7 false"),
        ]),
        ("tcp-split-50-50", [
            ("productpage", "reviews-tcp:9080/reviews/1", "",
             "split v1 50/v2 50, l7 false | gate served_by v2"),
        ]),
        ("tcp-all-v2", [
            ("productpage", "reviews-tcp:9080/reviews/1", "", "served_by v2, l7 false"),
        ]),
    ]),
    "ambient-mtls-strict": ("ambient", [
        ("permissive", [
            ("productpage", "ratings.ambient-mtls-strict:9080/ratings/1", "", "allowed, l7 false"),
            ("legacy", "ratings.ambient-mtls-strict:9080/ratings/1", "", "allowed, l7 false"),
        ]),
        ("strict", [
            ("productpage", "ratings.ambient-mtls-strict:9080/ratings/1", "", "allowed"),
            ("legacy", "ratings.ambient-mtls-strict:9080/ratings/1", "", "denied-l4"),
        ]),
    ]),
    "ambient-l7-features": ("ambient", [
        ("defaults", [
            ("productpage", R1, "", "allowed, l7 true"),
            ("productpage", "ratings:9080/delay/3", "", "allowed, l7 true"),
            ("productpage", "ratings:9080/status/503", "", "status 503, attempts 1"),
        ]),
        ("request-headers", [
            ("productpage", R1, "", "allowed, l7 true, backend_saw x-mesh-layer=waypoint"),
        ]),
        ("request-timeout", [
            ("productpage", "ratings:9080/delay/3", "", "status 504"),
            ("productpage", R1, "", "allowed, l7 true, backend_saw x-mesh-layer=waypoint"),
        ]),
        ("retries", [
            ("productpage", "ratings:9080/status/503", "", "status 503, attempts 4"),
            ("productpage", "ratings:9080/delay/3", "", "status 504"),
        ]),
    ]),
}  # fmt: skip

# Where each scenario says the decision is made ("enforced by the <point>" in its description).
ENFORCEMENT: dict[str, set[str]] = {
    "sidecar-authz-l4": {"server sidecar"},
    "sidecar-authz-l7": {"server sidecar"},
    "ambient-authz-l4": {"destination ztunnel"},
    "ambient-authz-l7-no-waypoint": {"destination ztunnel"},
    "ambient-authz-l7-waypoint": {"waypoint", "destination ztunnel"},
    "sidecar-fault-vs-authz": {"client sidecar", "server sidecar"},
    "ambient-fault-vs-authz": {"waypoint"},
    "sidecar-traffic-shift": {"client sidecar"},
    "ambient-traffic-shift": {"waypoint"},
    "ambient-routing-header": {"waypoint"},
    "ambient-tcproute": {"waypoint"},
    "ambient-mtls-strict": {"destination ztunnel"},
    "ambient-l7-features": {"waypoint"},
}

# Pairs the talk compares that the name rule (sidecar-X beside ambient-X) would miss.
COMPARE_WITH: dict[str, str] = {"ambient-authz-l7-waypoint": "sidecar-authz-l7"}

# Today's APIs only (no v1beta1 policies, no v1alpha3 routing); TCPRoute has no newer version.
CURRENT_APIS = {
    ("security.istio.io/v1", "AuthorizationPolicy"),
    ("security.istio.io/v1", "PeerAuthentication"),
    ("networking.istio.io/v1", "VirtualService"),
    ("networking.istio.io/v1", "DestinationRule"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("gateway.networking.k8s.io/v1alpha2", "TCPRoute"),
    ("v1", "Service"),
}

# HTTP attributes in an AuthorizationPolicy: only a waypoint (or a sidecar) can evaluate them.
HTTP_OPERATION_FIELDS = {"hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"}
HTTP_SOURCE_FIELDS = {"requestPrincipals", "notRequestPrincipals"}


# ---------------------------------------------------------------------------- helpers


def expect_summary(e: Expect) -> str:
    parts: list[str] = []
    if e.outcome is not None:
        parts.append(e.outcome)
    if e.status is not None:
        parts.append(f"status {e.status}")
    if e.served_by is not None:
        parts.append(f"served_by {e.served_by}")
    if e.split is not None:
        parts.append("split " + "/".join(f"{k} {v:g}" for k, v in e.split.items()))
    if e.l7 is not None:
        parts.append(f"l7 {str(e.l7).lower()}")
    if e.headers:
        parts.append("headers " + ",".join(f"{k}={v}" for k, v in sorted(e.headers.items())))
    if e.backend_saw:
        parts.append(
            "backend_saw " + ",".join(f"{k}={v}" for k, v in sorted(e.backend_saw.items()))
        )
    if e.attempts is not None:
        parts.append(f"attempts {e.attempts}")
    return ", ".join(parts)


def probe_row(p: Probe) -> ProbeRow:
    url = urlsplit(p.url)
    headers = ",".join(f"{k}={v}" for k, v in sorted(p.headers.items()))
    summary = expect_summary(p.expect)
    if p.gate is not None:
        summary += " | gate " + expect_summary(p.gate)
    return (p.from_, f"{url.netloc}{url.path}", headers, summary)


@functools.cache
def load(name: str) -> Scenario:
    """Loaded once per process: a dozen tests read each scenario (none changes it)."""
    return load_scenario(SCENARIOS / name)


def manifest_docs(s: Scenario) -> Iterator[tuple[Path, dict[str, Any]]]:
    return iter(_manifest_docs(s.directory))


@functools.cache
def _manifest_docs(directory: Path) -> tuple[tuple[Path, dict[str, Any]], ...]:
    """Read once per process, as `load`: the tests only read the documents."""
    return tuple(
        (file, doc)
        for file in sorted((directory / "manifests").glob("*.yaml"))
        for doc in load_all_plain(file.read_text())  # yaml.safe_load_all's, from libyaml
        if doc
    )


def step_files(s: Scenario) -> set[str]:
    return {rel for st in s.steps for rel in (*st.apply, *st.delete)}


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


NAMES = sorted(EXPECTED)


# ---------------------------------------------------------------------------- tests


def shipped_missing(root: Path) -> set[str]:
    """The shipped scenarios `root` lacks. A user's own scenario beside them is no concern of
    this table: the catalogue is frozen by name, not by count."""
    found = {p.parent.name for p in root.glob("*/scenario.yaml")}
    return set(EXPECTED) - found


def test_catalogue_holds_the_thirteen_shipped_scenarios() -> None:
    assert len(EXPECTED) == 13
    assert shipped_missing(SCENARIOS) == set()


def test_a_users_own_scenario_beside_the_catalogue_breaks_nothing(tmp_path: Path) -> None:
    shutil.copytree(SCENARIOS, tmp_path / "scenarios")
    copy_scenario("ambient-authz-l4", tmp_path, "my-team-policy")
    assert shipped_missing(tmp_path / "scenarios") == set()
    shutil.rmtree(tmp_path / "scenarios" / "sidecar-authz-l7")
    assert shipped_missing(tmp_path / "scenarios") == {"sidecar-authz-l7"}


@pytest.mark.parametrize("name", NAMES)
def test_scenario_means_what_the_catalogue_says(name: str) -> None:
    s = load(name)
    dataplane, steps = EXPECTED[name]
    assert s.name == name
    assert s.dataplane == dataplane
    got = [(st.name, [probe_row(p) for p in st.probes]) for st in s.steps]
    assert got == steps


@pytest.mark.parametrize("name", NAMES)
def test_declared_comparison_partners(name: str) -> None:
    assert load(name).compare_with == COMPARE_WITH.get(name)


@pytest.mark.parametrize("name", NAMES)
def test_plan_is_printable(name: str) -> None:
    plan = plan_dict(load(name))
    assert [st["name"] for st in plan["steps"]] == [st for st, _ in EXPECTED[name][1]]


@pytest.mark.parametrize("name", NAMES)
def test_description_names_where_it_is_enforced(name: str) -> None:
    text = one_line(load(name).description)
    for point in ENFORCEMENT[name]:
        assert f"enforced by the {point}" in text, f"{name}: say where: {point}"


@pytest.mark.parametrize("name", NAMES)
def test_references_cite_the_talk_and_a_doc_page(name: str) -> None:
    refs = load(name).references
    assert any(r.startswith("Talk: 'Developing a Mental Model of Istio") for r in refs)
    docs = [r for r in refs if r.startswith("https://")]
    assert docs, f"{name}: cite the Istio or Gateway API page it follows"
    assert any(urlsplit(r).hostname in {"istio.io", "gateway-api.sigs.k8s.io"} for r in docs)


@pytest.mark.parametrize("name", NAMES)
def test_namespaces_are_the_scenarios_own_and_enrolled_as_declared(name: str) -> None:
    s = load(name)
    for ns in s.namespaces:
        assert ns.name.startswith(name)
    modes = {ns.name: s.mode_of(ns.name) for ns in s.namespaces}
    # The scenario's data plane is the first namespace's; only a deliberately plaintext
    # client lives elsewhere.
    assert modes[s.namespace] == s.dataplane
    assert set(modes.values()) <= {s.dataplane, "none"}


@pytest.mark.parametrize("name", NAMES)
def test_manifests_are_namespaced_current_and_all_used(name: str) -> None:
    s = load(name)
    namespaces = {ns.name for ns in s.namespaces}
    files = set()
    for file, doc in manifest_docs(s):
        files.add(file.relative_to(s.directory).as_posix())
        where = f"{file.name}: {doc.get('kind')}"
        assert (doc.get("apiVersion"), doc.get("kind")) in CURRENT_APIS, where
        assert doc["metadata"].get("namespace") in namespaces, where
        assert "istio.io/for-service-account" not in file.read_text(), where
    assert files, f"{name} has no manifests"
    assert files == step_files(s), "every manifest is applied or deleted by a step"


@pytest.mark.parametrize("name", NAMES)
def test_principals_name_real_identities(name: str) -> None:
    s = load(name)
    topo = topology(s)
    known = {a.principal for a in topo.agents} | {w.identity for w in topo.waypoints}
    for file, doc in manifest_docs(s):
        if doc["kind"] != "AuthorizationPolicy":
            continue
        for rule in doc["spec"].get("rules", []):
            for src in rule.get("from", []):
                for principal in src["source"].get("principals", []):
                    assert principal in known, f"{file.name}: {principal}"


def _needs_http(rule: dict[str, Any]) -> bool:
    ops = [t["operation"] for t in rule.get("to", [])]
    srcs = [f["source"] for f in rule.get("from", [])]
    return (
        any(HTTP_OPERATION_FIELDS & op.keys() for op in ops)
        or any(HTTP_SOURCE_FIELDS & src.keys() for src in srcs)
        or any(w["key"].startswith(("request.", "experimental.")) for w in rule.get("when", []))
    )


@pytest.mark.parametrize("name", NAMES)
def test_l7_policy_placement(name: str) -> None:
    """Ambient L7 policies attach to a waypoint, except where failing closed is the point."""
    s = load(name)
    for file, doc in manifest_docs(s):
        if doc["kind"] != "AuthorizationPolicy":
            continue
        spec = doc["spec"]
        l7 = any(_needs_http(r) for r in spec.get("rules", []))
        if "targetRefs" in spec:
            assert s.dataplane == "ambient" and s.waypoints, file.name
            assert "selector" not in spec, file.name
        if l7 and s.dataplane == "ambient" and name != "ambient-authz-l7-no-waypoint":
            assert "targetRefs" in spec, f"{file.name}: ztunnel cannot evaluate HTTP rules"
        if name == "ambient-authz-l7-no-waypoint":
            assert "selector" in spec and not s.waypoints


@pytest.mark.parametrize("name", NAMES)
def test_routes_attach_to_services_served_by_a_waypoint(name: str) -> None:
    s = load(name)
    waypoint_names = {w.name for w in s.waypoints}
    served = {svc for w in s.waypoints for svc in w.services}
    for _, doc in manifest_docs(s):
        if doc["kind"] == "Service" and doc["metadata"].get("labels", {}).get(USE_WAYPOINT):
            assert doc["metadata"]["labels"][USE_WAYPOINT] in waypoint_names
            served.add(doc["metadata"]["name"])
    for file, doc in manifest_docs(s):
        if doc["kind"] not in {"HTTPRoute", "TCPRoute"}:
            continue
        assert s.dataplane == "ambient", file.name
        for ref in doc["spec"]["parentRefs"]:
            assert (ref.get("group"), ref.get("kind")) == ("", "Service"), file.name
            assert ref["name"] in served, f"{file.name}: {ref['name']} has no waypoint"
            assert ref.get("port") == 9080, file.name


@pytest.mark.parametrize("name", NAMES)
def test_no_virtualservice_and_httproute_for_one_host(name: str) -> None:
    s = load(name)
    vs_hosts = {
        h for _, d in manifest_docs(s) if d["kind"] == "VirtualService" for h in d["spec"]["hosts"]
    }
    route_hosts = {
        r["name"]
        for _, d in manifest_docs(s)
        if d["kind"] in {"HTTPRoute", "TCPRoute"}
        for r in d["spec"]["parentRefs"]
    }
    assert not vs_hosts & route_hosts


@pytest.mark.parametrize("name", NAMES)
def test_every_split_is_gated_on_the_new_route(name: str) -> None:
    for st in load(name).steps:
        for p in st.probes:
            if p.expect.split is not None:
                assert p.gate is not None, f"{name}/{st.name}: sample only after the route is live"


def test_catalogue_doc_has_a_row_per_scenario() -> None:
    text = CATALOGUE_DOC.read_text().split("## Scenario catalogue", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    named = [re.match(r"\| `([^`]+)`", line) for line in rows]
    assert sorted(m.group(1) for m in named if m) == NAMES
    for line in rows:
        name = line.split("`")[1]
        assert f"| {EXPECTED[name][0]} |" in line, f"{name}: data plane column"
