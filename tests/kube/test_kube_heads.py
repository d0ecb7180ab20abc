"""harness.kube.heads: each manifest's head read from the YAML events agrees with the full load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helpers import CRDS

from harness.host import versions
from harness.kube import heads
from harness.kube.errors import ManifestError
from harness.kube.heads import head_of, load_heads
from harness.kube.objects import Manifest, load_manifests


@pytest.fixture(autouse=True)
def fresh_memo() -> Iterator[None]:
    heads._HEADS.clear()
    yield
    heads._HEADS.clear()


def loaded_whole(path: Path) -> list[Manifest]:
    return [head_of(doc) for doc in load_manifests(path)]


def no_full_load(path: Path) -> list[Manifest]:
    raise AssertionError(f"{path} was loaded whole")


def test_the_gateway_api_bundle_is_read_from_events_alone_with_the_full_loads_heads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The file the dry run reads (the full load costs ~90 ms: one bundle is enough here).
    bundle = CRDS / versions.GATEWAY_API_CRDS.filename
    expected = loaded_whole(bundle)
    assert any(h.get("kind") == "CustomResourceDefinition" for h in expected)
    monkeypatch.setattr(heads, "load_manifests", no_full_load)
    assert load_heads(bundle) == expected


# Read from the events alone.
FAST = {
    "quoted and flow style": (
        '"apiVersion": v1\nkind: \'ConfigMap\'\nmetadata: {name: "a b", namespace: ns}\n'
        "data: {x: [1, {y: &z 2}], z: *z}\n"
    ),
    "comments, empty documents, anchors on other fields": (
        "# head\n---\n---\napiVersion: v1 # c\nkind: Service\nspec: &s {ports: [{port: 80}]}\n"
        "other: *s\nmetadata:\n  labels: {a: b}\n  name: svc\n---\n"
    ),
    "a repeated field: the last wins": "kind: A\nkind: B\nmetadata: {name: n}\n",
    "no metadata, no kind": "apiVersion: v1\nspec: {}\n",
    "explicit string tags": "kind: !!str 123\nmetadata: !!map {name: !!str 456}\n",
    "a non-specific tag on a collection": "kind: K\nmetadata: ! {name: n}\n",
    "a known tag deep inside": "kind: K\nspec: {data: !!binary aGk=}\n",
    "merge keys below the head are skipped": "kind: K\nspec: {<<: {a: 1}}\nmetadata: {name: n}\n",
}
# What only the full load settles the way the safe loader does.
UNSURE = {
    "a number as name": "kind: K\nmetadata: {name: 123}\n",
    "an aliased kind": "x: &k Kind\nkind: *k\n",
    "a merge key in metadata": "d: &d {name: n}\nkind: K\nmetadata: {<<: *d}\n",
    "a merge key at the top": "d: &d {kind: K}\n<<: *d\n",
    "a repeated metadata": "kind: K\nmetadata: {name: a}\nmetadata: plain\n",
    "metadata not a mapping": "kind: K\nmetadata: [a]\n",
    "a null name": "kind: K\nmetadata: {name: ~, namespace: null}\n",
    "a boolean key": "true: x\nkind: K\n",
    "a non-specific tag on a number": "kind: K\nmetadata: {name: ! 456}\n",
}


@pytest.mark.parametrize("text", FAST.values(), ids=FAST.keys())
def test_heads_from_events_agree_with_the_full_load(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(text)
    expected = loaded_whole(file)
    monkeypatch.setattr(heads, "load_manifests", no_full_load)
    assert load_heads(file) == expected


@pytest.mark.parametrize("text", UNSURE.values(), ids=UNSURE.keys())
def test_what_events_cannot_settle_is_loaded_whole(text: str, tmp_path: Path) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(text)
    with pytest.raises(heads._Unsure):
        heads._scan(file)
    assert load_heads(file) == loaded_whole(file)


REJECTED = {
    "a document that is not a mapping": ("kind: A\n---\n- a list\n", ManifestError),
    "invalid YAML": ("kind: A\nmetadata: {name: [unclosed\n", yaml.YAMLError),
    "an undefined alias deep inside": ("kind: A\nspec: {x: [1, *nowhere]}\n", yaml.YAMLError),
    "an anchor used twice": ("kind: A\nspec: {a: &x 1, b: &x 2}\n", yaml.YAMLError),
    "an unknown tag deep inside": ("kind: A\nspec: {a: !custom 1}\n", yaml.YAMLError),
}


@pytest.mark.parametrize(("text", "error"), REJECTED.values(), ids=REJECTED.keys())
def test_what_the_full_load_rejects_is_rejected_alike(
    text: str, error: type[Exception], tmp_path: Path
) -> None:
    file = tmp_path / "m.yaml"
    file.write_text(text)
    with pytest.raises(error) as whole:
        load_manifests(file)
    with pytest.raises(error) as from_heads:
        load_heads(file)
    assert str(from_heads.value) == str(whole.value)


def test_a_rewritten_file_is_read_again_and_callers_get_their_own_copies(
    tmp_path: Path,
) -> None:
    file = tmp_path / "m.yaml"
    file.write_text("kind: A\nmetadata: {name: a}\n")
    first = load_heads(file)
    first[0]["metadata"]["name"] = "changed by a caller"
    assert load_heads(file) == [{"kind": "A", "metadata": {"name": "a"}}]
    file.write_text("kind: B\nmetadata: {name: bb}\n")
    assert load_heads(file) == [{"kind": "B", "metadata": {"name": "bb"}}]
