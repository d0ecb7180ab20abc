"""load_all_plain: libyaml's events built into the safe loader's documents, without positions.

It must be `yaml.load_all(..., Loader=CSafeLoader)` to the type, the shared alias and the
error: each input here is loaded both ways and compared strictly.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import CRDS, REPO

from harness.model import yaml_loaders
from harness.model.yaml_loaders import load_all_plain

pytestmark = pytest.mark.skipif(
    not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml"
)

FILES = sorted(
    p
    for d in ("scenarios", "tests/malformed")
    for p in (REPO / d).rglob("*")
    if p.suffix in (".yaml", ".yml") and p.is_file()
)
BUNDLES = sorted(CRDS.glob("*.yaml"))


def strict(value: Any, seen: dict[int, int] | None = None) -> Any:
    """A comparable picture of a loaded value: every type, and which containers are one
    object (an alias) — `1 == 1.0 == True` and two equal lists are not the same here."""
    seen = {} if seen is None else seen
    if isinstance(value, (dict, list)):
        if id(value) in seen:
            return ("same-as", seen[id(value)])
        seen[id(value)] = len(seen)
        if isinstance(value, dict):
            return ("dict", [(strict(k, seen), strict(v, seen)) for k, v in value.items()])
        return ("list", [strict(v, seen) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def outcome(load: Any, data: str | bytes) -> Any:
    try:
        return strict(load(data))
    except Exception as exc:  # PyYAML's constructors let ValueError, KeyError, ... out
        return ("error", type(exc).__name__, str(exc))


def pyyaml(data: str | bytes) -> list[Any]:
    return list(yaml.load_all(data, Loader=yaml.CSafeLoader))


def test_every_scenario_manifest_and_corpus_file_loads_as_pyyaml_loads_it() -> None:
    assert len(FILES) > 100
    for file in FILES:
        data = file.read_bytes()
        assert outcome(load_all_plain, data) == outcome(pyyaml, data), file


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_the_crd_bundles_load_as_pyyaml_loads_them_without_falling_back(bundle: Path) -> None:
    data = bundle.read_bytes()
    # The events path itself (not PyYAML's, as after an unusual construct) builds them. They
    # hold no alias; repr tells every type apart (`1`, `1.0`, `True`, `'1'`) at C speed.
    assert repr(yaml_loaders._build_from_events(data)) == repr(pyyaml(data))


CASES = {
    "scalars": (
        "s: text\nq: '1'\nd: \"true\"\ni: 8080\nneg: -3\nhex: 0x1f\noct: 0o17\nold_oct: 017\n"
        "under: 1_000\nsexa: 190:20:30\nf: 1.5\nexp: 6.8523015e+5\ninf: .inf\nninf: -.Inf\n"
        "nan: .NaN\nyes: yes\nno: No\non: on\nt: true\nnull1: ~\nnull2: null\nnull3:\n"
        "date: 2002-12-14\nts: 2001-12-14t21:59:43.10-05:00\nver: 1.30.3\nempty: ''\n"
    ),
    "keys that are not strings": "1: a\ntrue: b\n~: c\n1.5: d\n2002-12-14: e\n",
    "block and folded": "a: |\n  one\n  two\nb: >-\n  three\n  four\nc: |+\n  keep\n\n",
    "flow": "a: [1, {b: c, d: [e, 'f']}, []]\ne: {}\n",
    "duplicate keys": "a: 1\nb: 2\na: 3\n",
    "aliases are shared": "a: &x {k: [1, 2]}\nb: *x\nc: &y [*x, *x]\nd: *y\ns: &s v\nt: *s\n",
    "an alias as a key": "a: &k key\n*k : value\n",
    "recursive alias": "a: &r [1, *r]\nb: &m {self: *m}\n",
    "documents": "---\na: 1\n---\n---\n- 2\n...\n--- 3\n",
    "empty stream": "",
    "only a comment": "# nothing\n",
    "directives": "%YAML 1.1\n---\na: 1\n",
    "merge key": "base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\n",
    "value key": "=: x\n",
    "explicit tags": "a: !!str 1\nb: !!int '7'\nc: !!float 1\nd: !!binary aGk=\ne: ! 12\n",
    "set and omap": "s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\n",
    "a local tag": "a: !thing 1\n",
    "complex key": "? [a, b]\n: 1\n",
    "alias of a mapping as a key": "a: &m {x: 1}\n? *m\n: 2\n",
    "undefined alias": "a: *nowhere\n",
    "an anchor of the document before": "a: &x 1\n---\nb: *x\n",
    "an anchor named again in the next document": "a: &x 1\nb: *x\n---\nc: &x [2]\nd: *x\n",
    "nested past libyaml's limit": "a: " + "[" * 1100 + "]" * 1100 + "\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "a tab": "a:\n\tb: 1\n",
    "unclosed flow": "a: [1, 2\n",
    "an error after a good document": "a: 1\n---\nb: [\n",
    "bad timestamp": "t: 2001-13-45\n",
}


@pytest.mark.parametrize("text", CASES.values(), ids=list(CASES))
def test_each_construct_and_error_is_pyyamls(text: str) -> None:
    for data in (text, text.encode("utf-8")):
        assert outcome(load_all_plain, data) == outcome(pyyaml, data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbfa: 1\n",
        "a: \u00e9\n".encode("utf-16"),
        b"a: \xff\n",
        "a: \x07\n",
        "\ufeffa: [1]\n",
    ],
    ids=["utf-8 bom", "utf-16", "invalid utf-8", "control character", "str bom"],
)
def test_encodings_and_reader_errors_are_pyyamls(data: str | bytes) -> None:
    assert outcome(load_all_plain, data) == outcome(pyyaml, data)


def test_without_libyaml_it_is_the_pure_safe_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_loaders, "FAST_LOADER", None)
    text = CASES["scalars"] + CASES["aliases are shared"].replace("s:", "s2:")
    assert strict(load_all_plain(text)) == strict(list(yaml.safe_load_all(text)))


@pytest.mark.parametrize("case", ["aliases are shared", "merge key", "undefined alias", "a tab"])
def test_an_open_file_is_loaded_from_where_it_is_and_errors_name_it(
    tmp_path: Path, case: str
) -> None:
    file = tmp_path / "f.yaml"
    file.write_text("skipped: [\n" + CASES[case], encoding="utf-8")
    for mode in ("r", "rb"):
        with file.open(mode) as a, file.open(mode) as b:
            a.readline(), b.readline()  # a fallback reads again from here, not from the start
            got, want = outcome(load_all_plain, a), outcome(pyyaml, b)
            assert got == want
            assert got[0] != "error" or str(file) in got[2]
