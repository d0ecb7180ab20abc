"""The scenario loader (harness/model/scenario.py) and YAML-with-lines (harness/model/source.py).

Valid scenarios load whole, with their defaults; every invalid one raises SourceError whose
problems name the right file, line and field path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers import SCENARIOS

from harness.model.scenario import Expect, Timing, discover, load_scenario, parse_scenario
from harness.model.source import (
    Problem,
    SourceError,
    format_path,
    iter_paths,
    load_documents,
    parse_documents,
)

NAME = "demo"
TOP_FIELDS = (
    "name, title, description, references, dataplane, features, compare_with, namespaces, "
    "backends, clients, waypoints, steps"
)

BASE = """\
name: demo
title: "Demo"
description: "A scenario for loader tests."
dataplane: ambient
namespaces:
  - name: demo
backends:
  - service: ratings
  - service: reviews
    versions: [v1, v2]
    port: 8080
clients:
  - name: productpage
  - name: reviews
    service_account: custom-sa
waypoints:
  - services: [reviews]
steps:
  - name: policy
    title: "Apply the policy"
    apply: [manifests/policy.yaml]
    probes:
      - from: productpage
        url: http://ratings:9080/ratings/1
        expect: denied-l4
      - from: reviews
        method: POST
        url: http://reviews:8080/reviews/1
        headers: {X-Test: istio-is-cool}
        expect: {served_by: v2, l7: true}
        timing: {hold: 2}
"""


def write(tmp_path: Path, text: str, name: str = NAME) -> Path:
    directory = tmp_path / name
    (directory / "manifests").mkdir(parents=True, exist_ok=True)
    (directory / "manifests" / "policy.yaml").write_text("kind: ConfigMap\n")
    (directory / "scenario.yaml").write_text(text)
    return directory


def problems_of(directory: Path) -> list[tuple[str, int, str]]:
    with pytest.raises(SourceError) as info:
        load_scenario(directory)
    return [(p.file.name, p.line, p.message) for p in info.value.problems]


# ------------------------------------------------------------------------------------------
# Valid scenarios.


def test_valid_scenario_loads_with_defaults(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE))
    assert s.name == NAME and s.dataplane == "ambient"
    assert s.directory == tmp_path / NAME
    assert s.namespace == "demo"
    assert s.mode_of("demo") == "ambient"
    ratings, reviews = s.backends
    assert ratings.versions == ["v1"] and ratings.port == 9080 and ratings.replicas == 1
    assert ratings.account == "bookinfo-ratings"
    assert reviews.versions == ["v1", "v2"] and reviews.port == 8080
    assert s.client("productpage").account == "bookinfo-productpage"
    assert s.client("reviews").account == "custom-sa"
    (w,) = s.waypoints
    assert (w.name, w.for_, w.services) == ("waypoint", "service", ["reviews"])
    assert not w.enroll_namespace
    (step,) = s.steps
    assert step.apply == ["manifests/policy.yaml"] and step.delete == []
    first, second = step.probes
    assert first.method == "GET" and first.headers == {} and first.samples is None  # derived
    assert first.timing == Timing() and first.host == "ratings"
    assert (first.timing.budget, first.timing.streak, first.timing.hold) == (30.0, 3, 0.0)
    assert first.timing.interval == 0.1
    assert second.method == "POST" and second.headers == {"X-Test": "istio-is-cool"}
    assert second.timing.hold == 2 and second.timing.budget == 30.0
    assert s.manifest_path("manifests/policy.yaml") == tmp_path / NAME / "manifests/policy.yaml"
    assert s.markers == ["ambient"]


def test_expect_shorthand_is_an_outcome(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE))
    shorthand, full = s.steps[0].probes
    assert shorthand.expect == Expect(outcome="denied-l4")
    assert shorthand.expect.summary() == {"outcome": "denied-l4"}
    assert full.expect.summary() == {"served_by": "v2", "l7": True}


def test_split_summary_carries_its_tolerance() -> None:
    e = Expect.model_validate({"split": {"v1": 90, "v2": 10}})
    assert e.summary() == {"split": {"v1": 90, "v2": 10}, "tolerance": 5.0}


def test_scenario_yaml_path_and_directory_are_equivalent(tmp_path: Path) -> None:
    directory = write(tmp_path, BASE)
    assert load_scenario(directory) == load_scenario(directory / "scenario.yaml")


@pytest.mark.parametrize("name", sorted(p.parent.name for p in SCENARIOS.glob("*/scenario.yaml")))
def test_repo_scenarios_load(name: str) -> None:
    s = load_scenario(SCENARIOS / name)
    assert s.name == name
    assert all(ns.name.startswith(name) for ns in s.namespaces)


# ------------------------------------------------------------------------------------------
# Invalid scenarios: file, line and field path of every problem.

ERRORS = [
    # (description, old text, new text, expected (line, message) list)
    (
        "wrong type",
        "    port: 8080\n",
        '    port: "8080"\n',
        [(11, "backends[1].port: expected integer, got string '8080'")],
    ),
    (
        "unknown top-level key",
        "dataplane: ambient\n",
        "dataplane: ambient\nlabels: {a: b}\n",
        [(5, f"labels: unknown field; valid fields: {TOP_FIELDS}")],
    ),
    (
        "unknown nested key with a hint",
        "        timing: {hold: 2}\n",
        "        timing: {hold: 2, budgit: 3}\n",
        [
            (
                31,
                "steps[0].probes[1].timing.budgit: unknown field (did you mean 'budget'?); "
                "valid fields: budget, streak, hold, interval",
            )
        ],
    ),
    (
        "missing required field",
        'title: "Demo"\n',
        "",
        [(1, "title: required field missing")],
    ),
    (
        "bad enum",
        "dataplane: ambient\n",
        "dataplane: ambiant\n",
        [(4, "dataplane: expected 'ambient' or 'sidecar', got 'ambiant'")],
    ),
    (
        "bad outcome in the shorthand",
        "        expect: denied-l4\n",
        "        expect: denied-l5\n",
        [
            (
                25,
                "steps[0].probes[0].expect.outcome: expected 'allowed', 'denied-l4', "
                "'denied-l7' or 'unreachable', got 'denied-l5'",
            )
        ],
    ),
    (
        "unknown client",
        "      - from: productpage\n",
        "      - from: details\n",
        [
            (
                23,
                "steps[0].probes[0].from: unknown client 'details'; "
                "declared clients: productpage, reviews",
            )
        ],
    ),
    (
        "missing manifest",
        "    apply: [manifests/policy.yaml]\n",
        "    apply: [manifests/policy.yaml, manifests/nope.yaml]\n",
        [(21, "steps[0].apply[1]: 'manifests/nope.yaml': file not found")],
    ),
    (
        "manifest outside the scenario",
        "    apply: [manifests/policy.yaml]\n",
        "    apply: [../policy.yaml]\n",
        [(21, "steps[0].apply[0]: '../policy.yaml': must be a path inside the scenario")],
    ),
    (
        "waypoint for an unknown service",
        "  - services: [reviews]\n",
        "  - services: [reviewz]\n",
        [(17, "waypoints[0].services[0]: unknown backend service 'reviewz'")],
    ),
    (
        "invalid name",
        "  - name: productpage\n",
        "  - name: Product_Page\n",
        [
            (
                13,
                "clients[0].name: 'Product_Page' is not a valid name (lower-case letters, "
                "digits and '-')",
            )
        ],
    ),
    (
        "bad URL port",
        "url: http://ratings:9080/ratings/1",
        "url: http://ratings:0/ratings/1",
        [
            (
                24,
                "steps[0].probes[0].url: invalid port in 'http://ratings:0/ratings/1': "
                "expected 1-65535",
            )
        ],
    ),
    (
        "status with a denial",
        "        expect: denied-l4\n",
        "        expect: {outcome: denied-l4, status: 403}\n",
        [(25, "steps[0].probes[0].expect: status cannot be combined with outcome denied-l4")],
    ),
    (
        "empty expect",
        "        expect: denied-l4\n",
        "        expect: {}\n",
        [
            (
                25,
                "steps[0].probes[0].expect: expect needs at least one of outcome, status, "
                "served_by, split, l7, headers, backend_saw",
            )
        ],
    ),
    (
        "negative split weight",
        "        expect: denied-l4\n",
        "        expect: {split: {v1: 110, v2: -10}}\n",
        [(25, "steps[0].probes[0].expect: split weights must not be negative")],
    ),
    (
        "duplicate backend",
        "  - service: reviews\n",
        "  - service: ratings\n",
        [
            (9, "backends[1].service: duplicate backend name 'ratings'"),
            (17, "waypoints[0].services[0]: unknown backend service 'reviews'"),
        ],
    ),
    (
        "duplicate versions",
        "    versions: [v1, v2]\n",
        "    versions: [v1, v1]\n",
        [(10, "backends[1].versions: versions must be unique")],
    ),
    (
        "empty title",
        'title: "Demo"\n',
        'title: ""\n',
        [(2, "title: must not be empty")],
    ),
    (
        "timing out of range",
        "        timing: {hold: 2}\n",
        "        timing: {hold: 2, streak: 0}\n",
        [(31, "steps[0].probes[1].timing.streak: must be >= 1, got 0")],
    ),
    (
        "list instead of mapping",
        "        timing: {hold: 2}\n",
        "        timing: [2]\n",
        [(31, "steps[0].probes[1].timing: expected a mapping, got a list")],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [e[1:] for e in ERRORS],
    ids=[e[0] for e in ERRORS],
)
def test_error_has_file_line_and_field_path(
    tmp_path: Path, old: str, new: str, expected: list[tuple[int, str]]
) -> None:
    assert old in BASE
    directory = write(tmp_path, BASE.replace(old, new, 1))
    assert problems_of(directory) == [("scenario.yaml", line, msg) for line, msg in expected]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = BASE.replace("dataplane: ambient\n", "dataplane: nope\n").replace(
        "    port: 8080\n", "    port: 0\n"
    )
    got = problems_of(write(tmp_path, text))
    assert [(line, msg.split(":")[0]) for _, line, msg in got] == [
        (4, "dataplane"),
        (11, "backends[1].port"),
    ]


def test_problem_file_is_the_scenario_file(tmp_path: Path) -> None:
    directory = write(tmp_path, BASE.replace("dataplane: ambient", "dataplane: 1"))
    with pytest.raises(SourceError) as info:
        load_scenario(directory)
    (problem,) = info.value.problems
    assert problem.file == directory / "scenario.yaml"
    expected = "dataplane: expected 'ambient' or 'sidecar', got 1"
    assert str(problem) == f"{directory / 'scenario.yaml'}:4: {expected}"


def test_name_must_match_directory(tmp_path: Path) -> None:
    directory = write(tmp_path, BASE, name="elsewhere")
    assert problems_of(directory)[0] == (
        "scenario.yaml",
        1,
        "name: name 'demo' must match its directory 'elsewhere'",
    )


def test_namespaces_must_start_with_the_scenario_name(tmp_path: Path) -> None:
    directory = write(tmp_path, BASE.replace("  - name: demo\n", "  - name: shared\n"))
    assert problems_of(directory) == [
        (
            "scenario.yaml",
            6,
            "namespaces[0].name: namespace 'shared' must start with the scenario name 'demo' "
            "(so scenarios can run in parallel on one cluster)",
        )
    ]


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    twice = "dataplane: ambient\ndataplane: sidecar\n"
    directory = write(tmp_path, BASE.replace("dataplane: ambient\n", twice))
    assert problems_of(directory) == [("scenario.yaml", 5, "dataplane: duplicate key")]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    directory = write(tmp_path, BASE.replace("versions: [v1, v2]", "versions: [v1, v2"))
    ((file, line, message),) = problems_of(directory)
    assert (file, line) == ("scenario.yaml", 11)
    assert message.startswith("invalid YAML: ")
    assert message.endswith("(while parsing a flow sequence at line 10)")


WHOLE = "name, title, description, dataplane, namespaces, clients, steps, ..."


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (BASE + "---\n" + BASE, 33, "a second YAML document: a scenario file holds one, found 2"),
        ("", 1, f"empty file: a scenario is a YAML mapping ({WHOLE})"),
        ("# only a comment\n", 1, f"empty file: a scenario is a YAML mapping ({WHOLE})"),
        ("- a\n- b\n", 1, f"a scenario must be a YAML mapping ({WHOLE}), got a list"),
        ("just text\n", 1, f"a scenario must be a YAML mapping ({WHOLE}), got a string"),
    ],
    ids=["two documents", "empty", "comments only", "a list", "a string"],
)
def test_whole_file_problems(tmp_path: Path, text: str, line: int, message: str) -> None:
    assert problems_of(write(tmp_path, text)) == [("scenario.yaml", line, message)]


def test_missing_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert problems_of(tmp_path / "empty") == [("scenario.yaml", 1, "file not found")]
    # A path that does not exist is taken as the file itself.
    assert problems_of(tmp_path / "nothing") == [("nothing", 1, "file not found")]


def test_parse_scenario_takes_an_already_parsed_document(tmp_path: Path) -> None:
    directory = write(tmp_path, BASE)
    (doc,) = load_documents(directory / "scenario.yaml")
    assert parse_scenario(doc, directory) == load_scenario(directory)


# ------------------------------------------------------------------------------------------
# discover()


def test_discover_accepts_directories_files_and_parents(tmp_path: Path) -> None:
    a = write(tmp_path, BASE, name="a")
    b = write(tmp_path, BASE, name="b")
    (tmp_path / "not-a-scenario").mkdir()
    found = discover([tmp_path, a, b / "scenario.yaml"])
    assert found == [a / "scenario.yaml", b / "scenario.yaml"]
    assert discover([tmp_path / "not-a-scenario"]) == []


# ------------------------------------------------------------------------------------------
# yamlsource: lines per field path.


def test_document_lines_per_path_and_nearest_ancestor() -> None:
    text = textwrap.dedent(
        """\
        # comment
        apiVersion: v1
        kind: Service
        metadata:
          name: ratings
        spec:
          ports:
            - name: http
              port: 9080
        ---
        kind: Second
        """
    )
    first, second = parse_documents(Path("m.yaml"), text)
    assert first.start_line == 2 and second.start_line == 11 and second.index == 1
    assert first.line_of(["metadata", "name"]) == 5
    assert first.line_of(["spec", "ports", 0]) == 8
    assert first.line_of(["spec", "ports", 0, "port"]) == 9
    # A missing field is located at its nearest existing ancestor.
    assert first.line_of(["spec", "ports", 0, "targetPort"]) == 8
    assert first.line_of(["status", "x"]) == 2
    assert first.problem(["spec", "selector"], "m") == Problem(Path("m.yaml"), 6, "m")


def test_duplicate_keys_are_reported_at_each_repeat() -> None:
    text = "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"
    with pytest.raises(SourceError) as info:
        parse_documents(Path("d.yaml"), text)
    assert [str(p) for p in info.value.problems] == [
        "d.yaml:4: b.c: duplicate key",
        "d.yaml:5: a: duplicate key",
    ]


def test_empty_documents_are_skipped() -> None:
    docs = parse_documents(Path("e.yaml"), "---\n# only a comment\n---\na: 1\n---\n")
    assert [d.data for d in docs] == [{"a": 1}]


def test_unreadable_files_are_problems(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SourceError) as info:
        load_documents(binary)
    (problem,) = info.value.problems
    assert problem.line == 1 and problem.message.startswith("cannot read file: ")


def test_format_path_and_iter_paths() -> None:
    assert format_path(("spec", "rules", 0, "from", 1, "source")) == "spec.rules[0].from[1].source"
    assert format_path(()) == "(document)"
    assert format_path((0, "a")) == "[0].a"
    assert list(iter_paths({"a": [1, {"b": 2}]})) == [
        ((), {"a": [1, {"b": 2}]}),
        (("a",), [1, {"b": 2}]),
        (("a", 0), 1),
        (("a", 1), {"b": 2}),
        (("a", 1, "b"), 2),
    ]
