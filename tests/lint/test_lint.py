"""`ambient-harness lint`: the malformed corpus, the repo's scenarios, the CRD schema index and
the strict validator, against the real pinned CRDs (../shared/crds)."""

from __future__ import annotations

import io
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO, SCENARIOS, run_cli

from harness.lint import checks as lint
from harness.lint import schemas
from harness.lint.checks import run_lint
from harness.model.source import parse_documents

CORPUS = Path(__file__).resolve().parents[1] / "malformed"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


@pytest.fixture(autouse=True)
def _crds(crd_dir: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: Any) -> None:
    """Every test sees the real CRDs and a private index cache (never the user's)."""
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(crd_dir))
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def lint_output(targets: list[Path], strip: Path | None = None) -> tuple[int, str]:
    buf = io.StringIO()
    rc = run_lint(targets, buf)
    text = buf.getvalue()
    return rc, text.replace(f"{strip}/", "") if strip else text


def case_targets(case: Path) -> list[Path]:
    """A case is a scenario directory, or loose manifest files linted on their own."""
    if (case / "scenario.yaml").is_file():
        return [case]
    return sorted(case.glob("*.yaml"))


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert all((CORPUS / c / "expected.txt").is_file() for c in CASES)


def test_no_crds_are_copied_into_the_repo() -> None:
    yaml_files = [p for d in ("harness", "tests", "scenarios") for p in (REPO / d).rglob("*.yaml")]
    assert yaml_files
    assert not [p for p in yaml_files if "kind: CustomResourceDefinition" in p.read_text()]


@pytest.mark.parametrize("name", CASES)
def test_malformed_case(name: str) -> None:
    case = CORPUS / name
    expected = (case / "expected.txt").read_text()
    rc, out = lint_output(case_targets(case), strip=case)
    assert out == expected
    summary = expected.splitlines()[-1]
    assert rc == (0 if summary.startswith("no problems") else 2)


def test_every_case_but_the_note_fails_with_a_located_problem() -> None:
    for name in CASES:
        lines = (CORPUS / name / "expected.txt").read_text().splitlines()
        located = [ln for ln in lines if ln.split(":")[1:2] and ln.split(":")[1].isdigit()]
        if name == "unknown-group-note":
            assert all(": note: " in ln for ln in located), name
        else:
            assert any(": note: " not in ln for ln in located), name


def test_repo_scenarios_pass_lint() -> None:
    rc, out = lint_output([SCENARIOS])
    count = len(list(SCENARIOS.glob("*/scenario.yaml")))
    assert out.splitlines()[-1] == f"no problems in {count} scenario" + ("s" if count != 1 else "")
    assert rc == 0, out


def test_repo_manifests_were_really_validated() -> None:
    """The clean result above is not vacuous: a typo in a repo manifest is caught."""
    rc, out = lint_output([SCENARIOS])
    assert rc == 0 and "note:" not in out
    manifests = sorted(SCENARIOS.glob("*/manifests/*.yaml"))
    assert manifests
    index = schemas.load_index()
    for path in manifests:
        for doc in parse_documents(path, path.read_text()):
            res = schemas.resolve(index, doc.data["apiVersion"], doc.data["kind"])
            assert res.error is None and res.schema is not None, path
            broken = {**doc.data, "spec": {**doc.data.get("spec", {}), "specc": 1}}
            errors = [str(e) for e in schemas.validate_object(broken, res)]
            assert 'spec.specc: unknown field "specc"' in errors[0], path


def test_empty_crd_dir_prints_the_note_and_still_checks(tmp_path: Path, monkeypatch: Any) -> None:
    empty = tmp_path / "crds"
    empty.mkdir()
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(empty))
    note = (
        f"note: no CRD schemas in {empty}: Istio/Gateway API manifests were not validated "
        "against their schemas (run: ambient-harness schemas fetch)"
    )
    # Non-schema problems are still found: principals, namespaces, step order, probes.
    case = CORPUS / "principal-foreign"
    rc, out = lint_output([case], strip=case)
    lines = out.splitlines()
    assert rc == 2
    assert lines.count(note) == 1
    assert sum(1 for ln in lines if ln.startswith("manifests/policy.yaml:")) == 3
    # A schema-only problem is not: the run is clean apart from the note.
    case = CORPUS / "crd-unknown-field"
    rc, out = lint_output([case], strip=case)
    assert (rc, out) == (0, f"{note}\nno problems in 1 scenario\n")
    # Built-in kinds keep their structural checks without any CRD.
    case = CORPUS / "service-manifest"
    rc, out = lint_output([case], strip=case)
    assert out == (case / "expected.txt").read_text().replace("5 problems", f"{note}\n5 problems")


def test_missing_crd_dir_is_the_same_as_empty(tmp_path: Path, monkeypatch: Any) -> None:
    missing = tmp_path / "nope"
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(missing))
    rc, out = lint_output([CORPUS / "manifest-namespace-missing"])
    assert rc == 2
    assert f"note: no CRD schemas in {missing}:" in out


def test_broken_crd_file_is_a_located_problem(tmp_path: Path, monkeypatch: Any) -> None:
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "broken.yaml").write_text("kind: CustomResourceDefinition\nspec: [\n")
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(crds))
    rc, out = lint_output([SCENARIOS / "ambient-authz-l4"])
    assert rc == 2
    assert out.startswith(f"{crds / 'broken.yaml'}:3: invalid YAML: ")
    assert "(run: ambient-harness schemas fetch)" in out.splitlines()[0]


def test_summary_counts_problems_and_failing_scenarios() -> None:
    rc, out = lint_output(
        [CORPUS / "crd-bad-enum", CORPUS / "bad-url", SCENARIOS / "ambient-authz-l4"]
    )
    assert rc == 2
    assert out.splitlines()[-1] == "4 problems in 2 of 3 scenarios"


def test_output_is_sorted_by_file_and_line() -> None:
    case = CORPUS / "scenario-error-manifest-checked"
    rc, out = lint_output([case], strip=case)
    assert rc == 2
    assert out.splitlines()[:2] == [
        'manifests/policy.yaml:10: spec.acton: unknown field "acton" (did you mean "action"?)',
        "scenario.yaml:5: dataplan: unknown field (did you mean 'dataplane'?)",
    ]


def test_nothing_to_lint_is_an_error(tmp_path: Path) -> None:
    rc, out = lint_output([tmp_path])
    assert (rc, out) == (2, f"error: no scenario.yaml found under {tmp_path}\n")
    rc, out = lint_output([tmp_path / "missing"])
    assert (rc, out) == (2, f"error: {tmp_path / 'missing'}: no such file or directory\n")


def test_cli_lint_bad_case_prints_locations_and_exits_2() -> None:
    proc = run_cli("lint", "tests/malformed/crd-unknown-field")
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [
        "tests/malformed/crd-unknown-field/manifests/policy.yaml:10: spec.acton: "
        'unknown field "acton" (did you mean "action"?)',
        "tests/malformed/crd-unknown-field/manifests/policy.yaml:13: "
        'spec.rules[0].from[0].sources: unknown field "sources" (did you mean "source"?)',
        "2 problems in 1 of 1 scenario",
    ]


def test_cli_lint_repo_scenarios_exits_0() -> None:
    proc = run_cli("lint", "scenarios/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("no problems in ")


# ------------------------------------------------------------------------------------------
# The CRD index and its cache.


def copy_crds(crd_dir: Path, dest: Path, pattern: str = "*.yaml") -> Path:
    dest.mkdir()
    for f in crd_dir.glob(pattern):
        shutil.copy(f, dest / f.name)
    return dest


def test_index_has_the_pinned_kinds(crd_dir: Path) -> None:
    index = schemas.load_index(crd_dir)
    assert index.kinds("security.istio.io") == [
        "AuthorizationPolicy",
        "PeerAuthentication",
        "RequestAuthentication",
    ]
    assert {"HTTPRoute", "TCPRoute", "Gateway", "GatewayClass"} <= set(
        index.kinds("gateway.networking.k8s.io")
    )
    assert index.schema("security.istio.io", "v1", "AuthorizationPolicy") is not None
    assert index.schema("security.istio.io", "v2", "AuthorizationPolicy") is None
    assert index.crds[("networking.istio.io", "DestinationRule")].served == [
        "v1",
        "v1beta1",
        "v1alpha3",
    ]
    assert index.crds[("gateway.networking.k8s.io", "GatewayClass")].scope == "Cluster"


def test_index_is_cached_and_the_cache_is_used(
    crd_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    # One CRD file is enough to show the cache at work (and parses in a third of the time).
    crds = copy_crds(crd_dir, tmp_path / "crds", "istio-*.yaml")
    cache = tmp_path / "cache"
    first = schemas.load_index(crds, cache_dir=cache)
    assert first.kinds("security.istio.io")
    (cache_file,) = cache.glob("crd-index-*.json")
    schemas._MEMO.clear()

    def no_parsing(file: Path) -> list[dict[str, Any]]:
        raise AssertionError(f"re-parsed {file} although the cache is valid")

    # A context, not monkeypatch.undo(): that would also undo the autouse _crds fixture.
    with monkeypatch.context() as patch:
        patch.setattr(schemas, "_parse_crd_file", no_parsing)
        second = schemas.load_index(crds, cache_dir=cache)
    assert second.crds == first.crds
    # A changed CRD file changes the key: parsed again, and the stale cache file is replaced.
    (istio_crds,) = crds.glob("istio-*.yaml")
    with istio_crds.open("a") as fh:
        fh.write("\n# changed\n")
    schemas.load_index(crds, cache_dir=cache)
    (new_file,) = cache.glob("crd-index-*.json")
    assert new_file != cache_file


def test_unwritable_cache_falls_back_to_memory(crd_dir: Path, tmp_path: Path) -> None:
    crds = copy_crds(crd_dir, tmp_path / "crds", "istio-*.yaml")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    index = schemas.load_index(crds, cache_dir=blocker / "cache")
    assert not index.empty
    assert blocker.read_text() == "not a directory"


def test_index_without_descriptions_or_cel(crd_dir: Path) -> None:
    schema = schemas.load_index(crd_dir).schema("security.istio.io", "v1", "AuthorizationPolicy")
    assert schema is not None
    text = repr(schema)
    assert "x-kubernetes-validations" not in text and "'description'" not in text


# ------------------------------------------------------------------------------------------
# Resolution of apiVersion + kind.


@pytest.mark.parametrize(
    ("api", "kind", "error"),
    [
        (
            "security.istio.io/v2",
            "AuthorizationPolicy",
            "no version v2 of security.istio.io AuthorizationPolicy; served: v1, v1beta1",
        ),
        (
            "networking.istio.io/v1",
            "VirtualServices",
            'no kind VirtualServices in group networking.istio.io (did you mean "VirtualService"?)'
            "; kinds: DestinationRule, EnvoyFilter, Gateway, ProxyConfig, ServiceEntry, Sidecar, "
            "VirtualService, WorkloadEntry, WorkloadGroup",
        ),
        ("apps/v1beta2", "Deployment", "no version v1beta2 of apps Deployment; served: v1"),
        ("v1", "Deployment", "no kind Deployment in API group core (v1)"),
        ("batch/v1", "Job", None),
        ("autoscaling/v2", "HorizontalPodAutoscaler", None),
        ("gateway.networking.k8s.io/v1beta1", "HTTPRoute", None),
    ],
)
def test_resolve(crd_dir: Path, api: str, kind: str, error: str | None) -> None:
    res = schemas.resolve(schemas.load_index(crd_dir), api, kind)
    assert res.error == error
    assert (res.schema is not None) == (error is None)


def test_unknown_group_is_a_note_not_an_error(crd_dir: Path) -> None:
    res = schemas.resolve(schemas.load_index(crd_dir), "cert-manager.io/v1", "Certificate")
    assert (res.error, res.schema) == (None, None)
    assert res.note == "cert-manager.io/v1 Certificate: no schema for this API group, not validated"


def test_version_priority_order() -> None:
    assert schemas.sort_versions(["v1alpha3", "v1beta1", "v2", "v1", "v1alpha10"]) == [
        "v2",
        "v1",
        "v1beta1",
        "v1alpha10",
        "v1alpha3",
    ]


# ------------------------------------------------------------------------------------------
# The validator on small schemas: the OpenAPI/Kubernetes features CRDs use.

OBJ = {
    "type": "object",
    "properties": {
        "port": {"x-kubernetes-int-or-string": True},
        "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
        "maybe": {"type": "string", "nullable": True},
        "never": {"type": "string"},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "count": {"type": "integer", "format": "int32"},
        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "ip": {"type": "string", "format": "ipv4"},
        "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2},
        "match": {
            "type": "object",
            "properties": {"exact": {"type": "string"}, "prefix": {"type": "string"}},
            "oneOf": [
                {"not": {"anyOf": [{"required": ["exact"]}, {"required": ["prefix"]}]}},
                {"required": ["exact"]},
                {"required": ["prefix"]},
            ],
        },
    },
}


def messages(value: Any, schema: dict[str, Any] = OBJ) -> list[str]:
    return [str(e) for e in schemas.validate(value, schema)]


def test_valid_values_have_no_errors() -> None:
    value = {
        "port": "http",
        "open": {"anything": {"nested": [1, 2]}},
        "labels": {"a": "abc"},
        "maybe": None,
        "ratio": 1,
        "count": 7,
        "tags": ["a", "b"],
        "ip": "10.0.0.1",
        "name": "ok",
        "match": {"prefix": "/"},
    }
    assert messages(value) == []
    assert messages({"port": 9080, "match": {}}) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"port": 1.5}, "port: expected integer or string, got number 1.5"),
        ({"labels": {"a": 1}}, "labels.a: expected string, got integer 1"),
        ({"labels": {"a": "abcd"}}, "labels.a: must be at most 3 characters, got 4"),
        ({"never": None}, "never: expected string, got null (an empty value)"),
        ({"ratio": 1.5}, "ratio: must be <= 1, got 1.5"),
        ({"ratio": True}, "ratio: expected number, got boolean true"),
        ({"count": 2**31}, "count: 2147483648 does not fit in int32"),
        ({"tags": ["a", "a"]}, 'tags[1]: duplicate entry "a" (same as [0])'),
        ({"ip": "10.0.0.300"}, 'ip: expected an ipv4 address, got "10.0.0.300"'),
        ({"name": "a"}, "name: must be at least 2 character(s), got 1"),
        ({"name": "Ab"}, 'name: "Ab" does not match the pattern ^[a-z]+$'),
        (
            {"match": {"exact": "/a", "prefix": "/"}},
            "match: only one of exact, prefix may be set, got exact, prefix",
        ),
        ({"nmae": "x"}, 'nmae: unknown field "nmae" (did you mean "name"?)'),
    ],
)
def test_each_violation_is_reported(value: dict[str, Any], expected: str) -> None:
    assert messages(value) == [expected]


def test_unknown_fields_are_allowed_only_where_the_schema_keeps_them() -> None:
    assert messages({"open": {"x": 1}, "labels": {"y": "z"}}) == []
    assert messages({"match": {"regex": "x"}}) == ['match.regex: unknown field "regex"']


def test_list_map_keys_detect_duplicates() -> None:
    schema = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name", "port"],
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
        },
    }
    ok = [{"name": "a", "port": 1}, {"name": "a", "port": 2}]
    assert messages(ok, schema) == []
    dup = [*ok, {"name": "a", "port": 1}]
    assert messages(dup, schema) == ['[2]: duplicate entry name="a", port=1 (same as [0])']


def test_yaml_timestamps_count_as_strings() -> None:
    value = yaml.safe_load("when: 2024-01-02T03:04:05Z")
    schema = {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"}}}
    assert messages(value, schema) == []


# ------------------------------------------------------------------------------------------
# No false errors on valid manifests: the shapes Istio's and Gateway API's docs use.

VALID_MANIFESTS = """\
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: demo
  labels:
    istio.io/waypoint-for: service
spec:
  gatewayClassName: istio-waypoint
  listeners:
    - name: mesh
      port: 15008
      protocol: HBONE
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ingress
  namespace: demo
spec:
  gatewayClassName: istio
  addresses:
    - type: IPAddress
      value: 10.0.0.10
    - type: Hostname
      value: ingress.example.com
  listeners:
    - name: http
      port: 80
      protocol: HTTP
      allowedRoutes:
        namespaces:
          from: Same
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reviews
  namespace: demo
spec:
  parentRefs:
    - group: ""
      kind: Service
      name: reviews
      port: 9080
  rules:
    - matches:
        - headers:
            - name: end-user
              value: jason
          path:
            type: PathPrefix
            value: /reviews
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            add:
              - name: x-routed
                value: "yes"
      backendRefs:
        - name: reviews-v2
          port: 9080
    - backendRefs:
        - name: reviews-v1
          port: 9080
          weight: 90
        - name: reviews-v2
          port: 9080
          weight: 10
      timeouts:
        request: 2s
      retry:
        attempts: 3
        codes: [503]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: ratings-tcp
  namespace: demo
spec:
  parentRefs:
    - group: ""
      kind: Service
      name: ratings
      port: 9080
  rules:
    - backendRefs:
        - name: ratings-v1
          port: 9080
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: allow-routes
  namespace: demo
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      namespace: other
  to:
    - group: ""
      kind: Service
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ratings-l7
  namespace: demo
spec:
  targetRefs:
    - kind: Service
      group: ""
      name: ratings
  action: ALLOW
  rules:
    - from:
        - source:
            principals: [cluster.local/ns/demo/sa/bookinfo-productpage]
            notNamespaces: [kube-system]
      to:
        - operation:
            methods: [GET]
            paths: ["/ratings/*"]
            ports: ["9080"]
      when:
        - key: request.headers[X-Test]
          values: [istio-is-cool]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz
  namespace: demo
spec:
  action: CUSTOM
  provider:
    name: my-ext-authz
  rules:
    - to:
        - operation:
            paths: ["/admin"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-all
  namespace: demo
spec: {}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: strict
  namespace: demo
spec:
  mtls:
    mode: STRICT
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: ratings-permissive-port
  namespace: demo
spec:
  selector:
    matchLabels:
      app: ratings
  mtls:
    mode: STRICT
  portLevelMtls:
    9080:
      mode: PERMISSIVE
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt
  namespace: demo
spec:
  targetRefs:
    - kind: Gateway
      group: gateway.networking.k8s.io
      name: waypoint
  jwtRules:
    - issuer: https://issuer.example.com
      jwksUri: https://issuer.example.com/jwks.json
      forwardOriginalToken: true
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
  namespace: demo
spec:
  hosts: [ratings]
  http:
    - match:
        - uri:
            prefix: /ratings
          headers:
            end-user:
              exact: jason
      fault:
        abort:
          httpStatus: 418
          percentage:
            value: 100
        delay:
          fixedDelay: 2s
          percentage:
            value: 50.5
      retries:
        attempts: 3
        perTryTimeout: 2s
        retryOn: 5xx,connect-failure
      timeout: 10s
      route:
        - destination:
            host: ratings
            subset: v1
            port:
              number: 9080
          weight: 100
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: demo
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpHeaderName: x-user
    connectionPool:
      http:
        http1MaxPendingRequests: 1
        maxRequestsPerConnection: 1
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100
  subsets:
    - name: v1
      labels:
        version: v1
    - name: v2
      labels:
        version: v2
      trafficPolicy:
        loadBalancer:
          simple: ROUND_ROBIN
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external
  namespace: demo
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
    - number: 443
      name: https
      protocol: TLS
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: demo
spec:
  egress:
    - hosts: ["./*", "istio-system/*"]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: logs
  namespace: demo
spec:
  accessLogging:
    - providers:
        - name: envoy
---
apiVersion: v1
kind: Namespace
metadata:
  name: demo-extra
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: extra
  namespace: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
  namespace: demo
  annotations:
    example.com/anything: "any text, even with spaces"
data:
  key: value
---
apiVersion: v1
kind: Service
metadata:
  name: extra
  namespace: demo
  labels:
    istio.io/use-waypoint: waypoint
spec:
  selector:
    app: extra
  ports:
    - name: http
      port: 8080
      targetPort: 8080
      appProtocol: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: extra
  namespace: demo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: extra
  template:
    metadata:
      labels:
        app: extra
    spec:
      containers:
        - name: app
          image: python:3.12-slim
"""


def test_valid_manifests_have_no_problems(crd_dir: Path) -> None:
    index = schemas.load_index(crd_dir)
    docs = parse_documents(Path("valid.yaml"), VALID_MANIFESTS)
    assert len(docs) == 21
    found = lint.Findings()
    for doc in docs:
        res = schemas.resolve(index, doc.data["apiVersion"], doc.data["kind"])
        assert res.schema is not None, doc.data["kind"]
        lint.check_document(doc, index, None, found)
    assert [str(p) for p in found.problems + found.notes] == []


def test_invalid_gateway_address_is_caught(crd_dir: Path) -> None:
    index = schemas.load_index(crd_dir)
    text = VALID_MANIFESTS.split("---\n")[1].replace("value: 10.0.0.10", "value: not-an-ip")
    (doc,) = parse_documents(Path("gw.yaml"), text)
    found = lint.Findings()
    lint.check_document(doc, index, None, found)
    (problem,) = found.problems
    assert problem.line == 9
    assert problem.message == (
        "spec.addresses[0]: does not match exactly one of the allowed forms "
        '(spec.addresses[0].value: expected a value of format ipv4 or ipv6, got string "not-an-ip"'
        '; spec.addresses[0].type: must not be one of IPAddress, got "IPAddress")'
    )


def test_builtin_kinds_get_structural_checks(crd_dir: Path) -> None:
    text = textwrap.dedent(
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: demo
          resourceVersion: "12"
        spec:
          template:
            metadata:
              labels: {app: web}
            spec: {containers: []}
          replicas: -1
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cm, namespace: demo}
        data: {port: 9080}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: r, namespace: demo}
        spec: [not, a, mapping]
        """
    )
    found = lint.Findings()
    for doc in parse_documents(Path("b.yaml"), text):
        lint.check_document(doc, schemas.load_index(crd_dir), None, found)
    assert [str(p) for p in found.problems] == [
        'b.yaml:6: metadata.resourceVersion: "resourceVersion" is set by the API server; remove it',
        "b.yaml:7: spec.selector: required field missing",
        "b.yaml:12: spec.replicas: must be >= 0, got -1",
        "b.yaml:17: data.port: expected string, got integer 9080",
        "b.yaml:22: spec: expected object, got array",
    ]
