"""harness.mesh.gateway_api: the Gateway API CRDs applied server-side, never downgraded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.fake_apiserver import CORE_TYPES, GATEWAY_API_TYPES, FakeApiServer
from mesh_objects import GATEWAY_BUNDLE, gateway_bundle

from harness import mesh
from harness.kube.client import Kube
from harness.kube.errors import ApplyError
from harness.kube.objects import Manifest, load_manifests
from harness.mesh import gateway_api

# --- Gateway API ---------------------------------------------------------------------------


def test_gateway_api_bundle_is_applied_server_side_then_waited_established() -> None:
    docs = gateway_bundle()
    crds = [d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert len(crds) >= 10 and "httproutes.gateway.networking.k8s.io" in crds
    with FakeApiServer(CORE_TYPES, crd_established_after=2) as api:
        kube = Kube(api.api_client(), poll_interval=0.002)
        lines: list[str] = []

        refs = mesh.install_gateway_api(kube, GATEWAY_BUNDLE, timeout=10, output=lines.append)

        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
        real = api.patches(dry_run=False)
        assert [r.path for r in real[: len(crds)]] == [base + n for n in crds]
        vap = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/"
        assert vap + "safe-upgrades.gateway.networking.k8s.io" in [r.path for r in real]
        assert len(real) == len(docs) == len(refs)
        assert all(r.param("fieldManager") == "ambient-harness" for r in real)
        # Every document was dry-run before the first real write.
        first_real = api.requests.index(real[0])
        assert len([r for r in api.requests[:first_real] if r.is_apply and r.dry_run]) == len(docs)
        # Each CRD was polled until Established (the fake flips it on the 2nd read).
        for name in crds:
            assert api.reads("CustomResourceDefinition", None, name) >= 2
            crd = api.get("CustomResourceDefinition", None, name)
            assert crd is not None
            assert {"type": "Established", "status": "True"}.items() <= crd["status"]["conditions"][
                -1
            ].items()
        assert api.find_type("gateway.networking.k8s.io/v1", "HTTPRoute").plural == "httproutes"
        assert any("Established" in line for line in lines)
        kube.close()


def test_a_newer_gateway_api_on_the_cluster_is_not_downgraded() -> None:
    docs = gateway_bundle()
    newer = next(d for d in docs if d["kind"] == "CustomResourceDefinition")
    newer = json.loads(json.dumps(newer))
    newer["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] = "v1.6.0"
    with FakeApiServer(CORE_TYPES) as api:
        api.add(newer)
        kube = Kube(api.api_client(), poll_interval=0.002)
        lines: list[str] = []
        assert mesh.install_gateway_api(kube, GATEWAY_BUNDLE, output=lines.append) == []
        assert api.patches() == []
        assert lines == [
            "the cluster has Gateway API v1.6.0, newer than the pinned v1.5.1: leaving it as it is"
        ]
        kube.close()


def test_gateway_api_channel_refusal_stops_before_any_write() -> None:
    with FakeApiServer(CORE_TYPES) as api:
        kube = Kube(api.api_client(), poll_interval=0.002)
        refusal = (
            "Installing experimental CRDs on top of standard channel CRDs is prohibited by default."
        )
        api.fail_dry_run(
            "CustomResourceDefinition", "httproutes.gateway.networking.k8s.io", refusal
        )
        with pytest.raises(ApplyError) as err:
            mesh.install_gateway_api(kube, GATEWAY_BUNDLE, timeout=5)
        assert "CustomResourceDefinition httproutes.gateway.networking.k8s.io" in str(err.value)
        assert refusal in str(err.value)
        assert api.patches(dry_run=False) == []
        kube.close()


def test_gateway_api_readiness_is_printable_data() -> None:
    docs = gateway_bundle()
    checks = mesh.gateway_api_readiness(docs)
    assert str(checks[0]) == (
        "CustomResourceDefinition backendtlspolicies.gateway.networking.k8s.io: Established=True"
    )
    assert {c.want for c in checks} == {"established"}


def test_gateway_api_types_fixture_matches_the_bundle() -> None:
    """The fake's built-in Gateway API kinds exist in the pinned bundle (no drift)."""
    docs = gateway_bundle()
    served = {
        (d["spec"]["group"], v["name"], d["spec"]["names"]["kind"])
        for d in docs
        if d["kind"] == "CustomResourceDefinition"
        for v in d["spec"]["versions"]
        if v.get("served")
    }
    for t in GATEWAY_API_TYPES:
        assert (t.group, t.version, t.kind) in served


def test_the_bundle_is_parsed_once_per_file_and_each_call_gets_its_own_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(CRD_DOC.format(name="a") + "---\n" + CRD_DOC.format(name="b"))
    parsed: list[Path] = []

    def counted(path: Path) -> list[Manifest]:
        parsed.append(path)
        return load_manifests(path)

    monkeypatch.setattr(gateway_api, "load_manifests", counted)
    first = gateway_api.load_bundle(bundle)
    assert first == load_manifests(bundle) and len(first) == 2
    first[0]["metadata"]["name"] = "changed by the caller"
    second = gateway_api.load_bundle(bundle)
    assert second == load_manifests(bundle) and second is not first
    assert parsed == [bundle]
    second[1]["spec"]["names"]["kind"] = "Changed"
    assert gateway_api.load_bundle(bundle) == load_manifests(bundle)
    # Another content (size and mtime change) is parsed again.
    bundle.write_text(CRD_DOC.format(name="c"))
    assert [d["metadata"]["name"] for d in gateway_api.load_bundle(bundle)] == ["c.example.io"]
    assert parsed == [bundle, bundle]


CRD_DOC = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {name}.example.io
  annotations: {{gateway.networking.k8s.io/bundle-version: v1.5.1}}
spec:
  group: example.io
  names: {{kind: Thing, plural: things}}
  scope: Namespaced
  versions: [{{name: v1, served: true, storage: true}}]
"""
