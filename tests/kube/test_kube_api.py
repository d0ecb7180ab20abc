"""harness.kube: The connection and CRUD: namespaces, labels, pods, logs, events, errors, TLS."""

from __future__ import annotations

import subprocess
import threading
import warnings
from pathlib import Path

import pytest
import urllib3
from fakes.fake_apiserver import FakeApiServer
from kube_manifests import ns_doc, obj, pod

from harness.kube.client import Kube
from harness.kube.objects import (
    ObjectRef,
    deployment_ref,
    namespace_ref,
    service_ref,
)


def test_ensure_namespace_and_label(api: FakeApiServer, kube: Kube) -> None:
    kube.ensure_namespace("demo", {"istio.io/dataplane-mode": "ambient"})
    (apply,) = api.patches(dry_run=False)
    assert apply.path == "/api/v1/namespaces/demo"
    assert apply.body["metadata"]["labels"] == {"istio.io/dataplane-mode": "ambient"}

    api.add(obj("v1", "Service", "ratings", "demo", spec={"ports": [{"port": 9080}]}))
    kube.label(service_ref("demo", "ratings"), {"istio.io/use-waypoint": "waypoint"})
    (patch,) = api.calls("PATCH", "/api/v1/namespaces/demo/services/ratings")
    assert patch.content_type == "application/merge-patch+json"
    assert patch.body == {"metadata": {"labels": {"istio.io/use-waypoint": "waypoint"}}}
    svc = api.get("Service", "demo", "ratings")
    assert svc is not None and svc["spec"]["ports"] == [{"port": 9080}]
    assert svc["metadata"]["labels"] == {"istio.io/use-waypoint": "waypoint"}

    kube.label(service_ref("demo", "ratings"), {"istio.io/use-waypoint": None})
    svc = api.get("Service", "demo", "ratings")
    assert svc is not None and "istio.io/use-waypoint" not in svc["metadata"].get("labels", {})


def test_pods_logs_events_and_version(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("demo"))
    api.add(pod("demo", "agent-a", labels={"app": "agent"}))
    api.add(pod("demo", "echo-b", labels={"app": "echo"}, containers=("echo", "istio-proxy")))
    api.set_logs("demo", "echo-b", "".join(f"line {i}\n" for i in range(10)), container="echo")
    for i, when in enumerate(["2030-01-01T00:00:02Z", "2030-01-01T00:00:01Z"]):
        api.add(obj("v1", "Event", f"ev{i}", "demo", lastTimestamp=when, reason=f"R{i}"))

    assert [p["metadata"]["name"] for p in kube.pods("demo", "app=echo")] == ["echo-b"]
    assert len(kube.pods("demo")) == 2
    text = kube.pod_logs("demo", "echo-b", "echo", tail_lines=3, limit_bytes=12)
    assert text == "line 7\nline "
    (logreq,) = api.calls("GET", "/api/v1/namespaces/demo/pods/echo-b/log")
    assert logreq.param("container") == "echo"
    assert logreq.param("tailLines") == "3" and logreq.param("limitBytes") == "12"
    assert [e["reason"] for e in kube.events("demo")] == ["R1", "R0"]
    assert kube.server_version() == "v1.35.8"


def test_get_of_a_kind_the_server_does_not_serve_is_none(kube: Kube) -> None:
    assert kube.get(ObjectRef("example.com/v9", "Nothing", "demo", "x")) is None
    assert kube.get(deployment_ref("demo", "absent")) is None


def test_a_hung_api_server_fails_a_call_instead_of_blocking_it(api: FakeApiServer) -> None:
    kube = Kube(api.api_client(), request_timeout=0.02)
    api.add(ns_doc("demo"))
    api.add(obj("apps/v1", "Deployment", "slow", "demo"))
    # Discovery and the first read with room to spare: on a loaded machine the fake's
    # ordinary answers can take longer than 20 ms, and only the hung read is the point.
    bound, kube.request_timeout = kube.request_timeout, 30.0
    assert kube.get(deployment_ref("demo", "slow")) is not None  # discovery done
    kube.request_timeout = bound
    # Hung until the client has given up: an answer that never comes in time, not one 80 ms
    # late (which a descheduled client could still read).
    release = threading.Event()
    api.on_read("Deployment", "demo", "slow", lambda o, n: release.wait(10) if n >= 2 else None)
    try:
        with pytest.raises(urllib3.exceptions.HTTPError, match="ReadTimeoutError"):
            kube.get(deployment_ref("demo", "slow"))
    finally:
        release.set()
    kube.close()
    # Let the fake finish answering the client's retries (one at a time) inside this test,
    # so its complaints about the closed connections stay in this test's captured output.
    api.wait_idle()


def test_api_errors_are_described_by_the_servers_message_not_its_headers() -> None:
    from kubernetes.client.exceptions import ApiException

    from harness.kube.errors import api_error_text
    from harness.run.runner import describe_error as _describe

    err = ApiException(status=403, reason="Forbidden")
    err.body = (
        b'{"kind":"Status","reason":"Forbidden","message":"customresourcedefinitions is '
        b'forbidden: User \\"dev\\" cannot create resource"}'
    )
    err.headers = {"Audit-Id": "0f00", "Content-Type": "application/json"}
    text = api_error_text(err)
    assert text == (
        'HTTP 403 Forbidden: customresourcedefinitions is forbidden: User "dev" cannot '
        "create resource"
    )
    assert _describe(err) == f"ApiException: {text}"
    assert "Audit-Id" in str(err) and "Audit-Id" not in _describe(err)
    assert api_error_text(ValueError("x")) is None


def test_an_unverified_tls_api_server_is_reported_once_not_per_request(tmp_path: Path) -> None:
    # Issue 11 item 12: urllib3 printed InsecureRequestWarning for each of 89 requests.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",  # an EC key: made in a millisecond, where RSA-2048 takes 0.4 s of CPU
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    with (
        FakeApiServer(tls=(str(cert), str(key))) as api,
        warnings.catch_warnings(record=True) as seen,
    ):
        warnings.simplefilter("always")
        kube = Kube(api.api_client(verify_ssl=False), poll_interval=0.005)
        for _ in range(5):
            kube.get(namespace_ref("demo"))
        kube.close()

    kinds = [type(w.message).__name__ for w in seen]
    assert kinds.count("UnverifiedTLSWarning") == 1
    assert "InsecureRequestWarning" not in kinds
    assert api.calls("GET", "/api/v1/namespaces/demo")  # the requests did go over TLS
