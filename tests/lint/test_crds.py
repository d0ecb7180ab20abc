"""The CRD bundles: finding them, the parsed index and its cache, what happens when they are
missing or broken."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, SCENARIOS, main_in_process
from lint_corpus import CORPUS, lint_output

from harness.host import versions
from harness.lint import crds

BUNDLES = "gateway-api-v1.5.1-experimental.yaml, istio-1.30.3-crd-all.gen.yaml"
FIX = (
    "run: ambient-harness schemas fetch, or set AMBIENT_HARNESS_CRD_DIR to a directory "
    "holding the pinned bundles"
)


def test_missing_schemas_are_an_error_naming_the_fix(tmp_path: Path, monkeypatch: Any) -> None:
    for crd_dir in (tmp_path / "empty", tmp_path / "absent"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(crd_dir))
        # A schema-only problem is not found without schemas, but the run still fails.
        case = CORPUS / "crd-bad-enum"
        rc, out = lint_output([case], strip=case)
        assert (rc, out) == (
            2,
            f"error: no CRD schemas: {BUNDLES} not found in {crd_dir} ({FIX})\n"
            "1 problem in 0 of 1 scenario\n",
        )


def test_one_missing_bundle_is_named(crd_dir: Path, tmp_path: Path, monkeypatch: Any) -> None:
    only = copy_crds(crd_dir, tmp_path / "crds", "istio-*.yaml")
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(only))
    rc, out = lint_output([SCENARIOS / "ambient-authz-l4"])
    assert rc == 2
    assert out.splitlines()[0] == (
        f"error: no CRD schemas: gateway-api-v1.5.1-experimental.yaml not found in {only} ({FIX})"
    )


def test_no_schemas_skips_them_on_purpose_and_says_so(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(tmp_path / "absent"))
    note = (
        "note: --no-schemas: Istio and Gateway API manifests were not validated against their "
        "CRD schemas"
    )
    # Non-schema problems are still found: principals, namespaces, step order, probes.
    case = CORPUS / "principal-foreign"
    rc, out = lint_output([case], strip=case, use_schemas=False)
    lines = out.splitlines()
    assert rc == 2
    assert lines.count(note) == 1
    assert sum(1 for ln in lines if ln.startswith("manifests/policy.yaml:")) == 3
    # A schema-only problem is not: the run is clean apart from the note.
    case = CORPUS / "crd-bad-enum"
    rc, out = lint_output([case], strip=case, use_schemas=False)
    assert (rc, out) == (0, f"{note}\nno problems in 1 scenario\n")
    # Built-in kinds keep their structural checks without any CRD.
    case = CORPUS / "service-manifest"
    rc, out = lint_output([case], strip=case, use_schemas=False)
    assert out == (case / "expected.txt").read_text().replace("5 problems", f"{note}\n5 problems")


def test_a_truncated_bundle_is_damaged_not_a_note(
    crd_dir: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    # The bundle's path sorts after the scenario's (as /tmp does after /check/...): the
    # damaged bundle is still named first, whatever the two paths are.
    bundle_dir = copy_crds(crd_dir, tmp_path / "z-crds")
    istio = bundle_dir / "istio-1.30.3-crd-all.gen.yaml"
    istio.chmod(0o644)
    text = istio.read_text()
    # Cut at a document boundary: still valid YAML, but the last CRDs are gone.
    istio.write_text(text[: text.rindex("\n---\n")] + "\n")
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(bundle_dir))
    case = shutil.copytree(CORPUS / "crd-unknown-field", tmp_path / "a-case")
    rc, out = lint_output([case], strip=case)
    assert rc == 2
    digest = hashlib.sha256(istio.read_bytes()).hexdigest()
    assert out.splitlines()[0] == (
        f"{istio}:1: damaged CRD bundle: sha256 {digest} is not the pinned "
        f"{versions.ISTIO_CRDS.artifact.sha256} (truncated, edited or another version; {FIX})"
    )
    assert "note:" not in out


def test_cli_no_schemas_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command's main in this process (what `python -m harness` runs): two interpreters
    # importing lint cost ~0.8 s of CPU and test nothing more.
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(tmp_path / "absent"))
    monkeypatch.chdir(REPO)
    proc = main_in_process(capsys, "lint", "scenarios/ambient-authz-l4")
    assert proc.returncode == 2 and proc.stdout.startswith("error: no CRD schemas: ")
    proc = main_in_process(capsys, "lint", "--no-schemas", "scenarios/ambient-authz-l4")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("note: --no-schemas: ")


# ------------------------------------------------------------------------------------------
# The CRD index and its cache.


def copy_crds(crd_dir: Path, dest: Path, pattern: str = "*.yaml") -> Path:
    dest.mkdir()
    for f in crd_dir.glob(pattern):
        shutil.copy(f, dest / f.name)
    return dest


def test_index_has_the_pinned_kinds(crd_dir: Path) -> None:
    index = crds.load_index(crd_dir)
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
    # One CRD bundle is enough to show the cache at work (and parses in a third of the time).
    bundle_dir = copy_crds(crd_dir, tmp_path / "crds", "istio-*.yaml")
    cache = tmp_path / "cache"
    istio = (versions.ISTIO_CRDS,)
    first = crds.load_index(bundle_dir, cache_dir=cache, bundles=istio)
    assert first.kinds("security.istio.io")
    (cache_file,) = cache.glob("crd-index-*.json")
    crds._MEMO.clear()

    def no_parsing(file: Path) -> list[dict[str, Any]]:
        raise AssertionError(f"re-parsed {file} although the cache is valid")

    # A context, not monkeypatch.undo(): that would also undo the autouse _crds fixture.
    with monkeypatch.context() as patch:
        patch.setattr(crds, "_parse_crd_file", no_parsing)
        second = crds.load_index(bundle_dir, cache_dir=cache, bundles=istio)
    assert second.crds == first.crds
    # A changed bundle no longer matches its pin; with a pin of its new sha256 (another
    # release), the key changes: parsed again, and the stale cache file is replaced.
    bundle = bundle_dir / versions.ISTIO_CRDS.filename
    bundle.chmod(0o644)
    with bundle.open("a") as fh:
        fh.write("\n# changed\n")
    with pytest.raises(crds.CrdFileError, match="damaged CRD bundle"):
        crds.load_index(bundle_dir, cache_dir=cache, bundles=istio)
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    repinned = dataclasses.replace(
        versions.ISTIO_CRDS,
        artifact=dataclasses.replace(versions.ISTIO_CRDS.artifact, sha256=digest),
    )
    crds.load_index(bundle_dir, cache_dir=cache, bundles=(repinned,))
    (new_file,) = cache.glob("crd-index-*.json")
    assert new_file != cache_file


def test_unwritable_cache_falls_back_to_memory(crd_dir: Path, tmp_path: Path) -> None:
    bundle_dir = copy_crds(crd_dir, tmp_path / "crds", "istio-*.yaml")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    index = crds.load_index(bundle_dir, cache_dir=blocker / "cache", bundles=(versions.ISTIO_CRDS,))
    assert not index.empty
    assert blocker.read_text() == "not a directory"


def test_index_keeps_cel_rules_and_defaults_but_no_descriptions(crd_dir: Path) -> None:
    """The CEL engine needs the rules and the defaults; prose is dropped to keep the cache small."""
    index = crds.load_index(crd_dir)
    schema = index.schema("security.istio.io", "v1", "AuthorizationPolicy")
    assert schema is not None
    text = repr(schema)
    assert "'description'" not in text
    assert schema["properties"]["spec"]["x-kubernetes-validations"][0]["message"] == (
        "only one of targetRefs or selector can be set"
    )
    route = index.schema("gateway.networking.k8s.io", "v1", "HTTPRoute")
    assert route is not None
    rule = route["properties"]["spec"]["properties"]["rules"]["items"]
    default = [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert rule["properties"]["matches"]["default"] == default
