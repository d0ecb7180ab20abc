"""No false errors on valid manifests (the shapes Istio's and Gateway API's docs use), and the
structural checks of built-in kinds."""

from __future__ import annotations

import textwrap
from pathlib import Path

from harness.lint import crds
from harness.lint.checks import check_document
from harness.lint.findings import Findings
from harness.lint.resolution import resolve
from harness.model.source import parse_documents

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
    index = crds.load_index(crd_dir)
    docs = parse_documents(Path("valid.yaml"), VALID_MANIFESTS)
    assert len(docs) == 21
    found = Findings()
    for doc in docs:
        res = resolve(index, doc.data["apiVersion"], doc.data["kind"])
        assert res.schema is not None, doc.data["kind"]
        check_document(doc, index, None, found)
    assert [str(p) for p in found.problems + found.notes] == []


def test_invalid_gateway_address_is_caught(crd_dir: Path) -> None:
    index = crds.load_index(crd_dir)
    text = VALID_MANIFESTS.split("---\n")[1].replace("value: 10.0.0.10", "value: not-an-ip")
    (doc,) = parse_documents(Path("gw.yaml"), text)
    found = Findings()
    check_document(doc, index, None, found)
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
    found = Findings()
    for doc in parse_documents(Path("b.yaml"), text):
        check_document(doc, crds.load_index(crd_dir), None, found)
    assert [str(p) for p in found.problems] == [
        'b.yaml:6: metadata.resourceVersion: "resourceVersion" is set by the API server; remove it',
        "b.yaml:7: spec.selector: required field missing",
        "b.yaml:12: spec.replicas: must be >= 0, got -1",
        "b.yaml:17: data.port: expected string, got integer 9080",
        "b.yaml:22: spec: expected object, got array",
    ]
