"""The CRD bundles: finding them, the parsed index and its cache, what happens when they are
missing or broken."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from helpers import SCENARIOS
from lint_corpus import CORPUS, lint_output

from harness.lint import crds


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
    bundle_dir = tmp_path / "crds"
    bundle_dir.mkdir()
    (bundle_dir / "broken.yaml").write_text("kind: CustomResourceDefinition\nspec: [\n")
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(bundle_dir))
    rc, out = lint_output([SCENARIOS / "ambient-authz-l4"])
    assert rc == 2
    assert out.startswith(f"{bundle_dir / 'broken.yaml'}:3: invalid YAML: ")
    assert "(run: ambient-harness schemas fetch)" in out.splitlines()[0]


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
    # One CRD file is enough to show the cache at work (and parses in a third of the time).
    bundle_dir = copy_crds(crd_dir, tmp_path / "crds", "istio-*.yaml")
    cache = tmp_path / "cache"
    first = crds.load_index(bundle_dir, cache_dir=cache)
    assert first.kinds("security.istio.io")
    (cache_file,) = cache.glob("crd-index-*.json")
    crds._MEMO.clear()

    def no_parsing(file: Path) -> list[dict[str, Any]]:
        raise AssertionError(f"re-parsed {file} although the cache is valid")

    # A context, not monkeypatch.undo(): that would also undo the autouse _crds fixture.
    with monkeypatch.context() as patch:
        patch.setattr(crds, "_parse_crd_file", no_parsing)
        second = crds.load_index(bundle_dir, cache_dir=cache)
    assert second.crds == first.crds
    # A changed CRD file changes the key: parsed again, and the stale cache file is replaced.
    (istio_crds,) = bundle_dir.glob("istio-*.yaml")
    with istio_crds.open("a") as fh:
        fh.write("\n# changed\n")
    crds.load_index(bundle_dir, cache_dir=cache)
    (new_file,) = cache.glob("crd-index-*.json")
    assert new_file != cache_file


def test_unwritable_cache_falls_back_to_memory(crd_dir: Path, tmp_path: Path) -> None:
    bundle_dir = copy_crds(crd_dir, tmp_path / "crds", "istio-*.yaml")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    index = crds.load_index(bundle_dir, cache_dir=blocker / "cache")
    assert not index.empty
    assert blocker.read_text() == "not a directory"


def test_index_without_descriptions_or_cel(crd_dir: Path) -> None:
    schema = crds.load_index(crd_dir).schema("security.istio.io", "v1", "AuthorizationPolicy")
    assert schema is not None
    text = repr(schema)
    assert "x-kubernetes-validations" not in text and "'description'" not in text
