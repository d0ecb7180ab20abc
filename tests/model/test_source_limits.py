"""YAML with positions, at its edges: libyaml and the pure parser agree, hostile or broken
input is a located problem (never a traceback, a hang or MemoryError)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from helpers import REPO

from harness.model import files, source
from harness.model.source import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES, SourceError, load_documents

CORPUS_FILES = sorted(
    p
    for d in ("scenarios", "tests/malformed")
    for p in (REPO / d).rglob("*")
    if p.suffix in (".yaml", ".yml") and p.is_file()
)

SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def outcome(file: Path) -> Any:
    """What the loader makes of a file: documents with their line tables, or the problems."""
    try:
        return [(d.data, d.start_line, d.lines) for d in load_documents(file)]
    except SourceError as exc:
        return [str(p) for p in exc.problems]


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")
def test_libyaml_and_the_pure_parser_agree_on_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(CORPUS_FILES) > 100
    fast = [outcome(f) for f in CORPUS_FILES]
    monkeypatch.setattr(source, "_FAST_LOADER", None)
    pure = [outcome(f) for f in CORPUS_FILES]
    for file, a, b in zip(CORPUS_FILES, fast, pure, strict=True):
        assert a == b, file


def test_libyaml_is_used_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[Any] = []
    real = yaml.compose_all

    def spy(text: str, Loader: Any) -> Any:
        used.append(Loader)
        return real(text, Loader=Loader)

    monkeypatch.setattr(yaml, "compose_all", spy)
    source.parse_documents(Path("x.yaml"), "a: 1\n")
    assert len(used) == 1 and issubclass(used[0], getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def problems(tmp_path: Path, content: str | bytes) -> list[str]:
    file = tmp_path / "f.yaml"
    if isinstance(content, str):
        file.write_text(content, encoding="utf-8")
    else:
        file.write_bytes(content)
    with pytest.raises(SourceError) as info:
        load_documents(file)
    return [str(p).removeprefix(f"{file}:") for p in info.value.problems]


def alias_bomb() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    return text


def test_an_alias_bomb_is_refused(tmp_path: Path) -> None:
    assert len(alias_bomb()) < 1024
    (message,) = problems(tmp_path, alias_bomb())
    assert message == (
        "1: invalid YAML: more than 100000 values once aliases are expanded (an alias bomb?): "
        "write the values out, or use fewer aliases"
    )


ALIASED = [
    "\n".join(alias_bomb().splitlines()[:4]) + "\n",  # a small bomb: 9 ** 4 values
    "a: &a {x: 1, x: 2}\nb: [*a, *a]\nc: &c [*a, {y: *a}]\nd: [*c, *c, *c]\n",  # duplicates
    "a: &a [[[[1]]]]\nb: &b [*a, [*a]]\nc: [[[*b]]]\nd: [[[[[*b]]]]]\n",  # depth
    "a: &r [1, *r]\nb: &m {self: *m, x: [*r]}\n",  # recursive
]


def test_aliases_are_counted_where_a_full_walk_counts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The builder counts a subtree walked again at once: it trips on the same node, with
    the same duplicates, as `_walk` (which walks every value) under any bound."""
    for budget, depth, text in itertools.product(
        (1, 2, 3, 7, 10, 11, 12, 40, 90, 91, 730, 7000, MAX_VALUES), (3, 5, 8, MAX_DEPTH), ALIASED
    ):
        monkeypatch.setattr(source, "MAX_VALUES", budget)
        monkeypatch.setattr(source, "MAX_DEPTH", depth)
        (node,) = source.compose(text)
        assert node is not None
        try:
            dupes: Any = source._build(node)[1]
        except source._LimitExceeded as exc:
            dupes = (exc.line, exc.message)
        try:
            walked: Any = source._walk(node)[1]
        except source._LimitExceeded as exc:
            walked = (exc.line, exc.message)
        assert dupes == walked, (budget, depth, text)


def test_ordinary_aliases_still_work(tmp_path: Path) -> None:
    file = tmp_path / "ok.yaml"
    file.write_text("base: &b {x: 1}\nuse: *b\n")
    (doc,) = load_documents(file)
    assert doc.data == {"base": {"x": 1}, "use": {"x": 1}}
    assert doc.line_of(["use", "x"]) == 1  # where the aliased value was written


DEEP = f"invalid YAML: nested deeper than {MAX_DEPTH} levels: not a scenario or manifest"


@pytest.mark.parametrize("pure", [False, True], ids=["libyaml", "pure"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 999, 5000])
def test_deep_nesting_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, depth: int, pure: bool
) -> None:
    if pure:
        monkeypatch.setattr(source, "_FAST_LOADER", None)
    assert problems(tmp_path, "a:\n  b: " + "[" * depth + "]" * depth + "\n") == [f"2: {DEEP}"]


def test_the_pure_composer_refuses_deep_nesting_far_from_the_recursion_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It relied on RecursionError: at the limit, a collection ran a leftover urllib3 pool's
    finalizer, which failed there, and pytest failed the test above (once in a suite run)."""
    monkeypatch.setattr(source, "_FAST_LOADER", None)
    compose_node = yaml.composer.Composer.compose_node.__code__
    deepest = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal deepest
        if event == "call" and frame.f_code is compose_node:
            depth, outer = 0, frame
            while outer is not None:
                depth, outer = depth + 1, outer.f_back
            deepest = max(deepest, depth)

    sys.setprofile(profile)
    try:
        found = problems(tmp_path, "a:\n  b: " + "[" * 5000 + "]" * 5000 + "\n")
    finally:
        sys.setprofile(None)
    assert found == [f"2: {DEEP}"]
    assert 0 < deepest < sys.getrecursionlimit() - 200


def test_block_nesting_counts_too(tmp_path: Path) -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 1)) + "  " * 101 + "v\n"
    ((message),) = problems(tmp_path, text)
    assert message.endswith(DEEP)
    ok = "".join("  " * i + f"k{i}:\n" for i in range(50)) + "  " * 50 + "v\n"
    (tmp_path / "ok.yaml").write_text(ok)
    assert load_documents(tmp_path / "ok.yaml")


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    size = MAX_FILE_BYTES + 1
    assert problems(tmp_path, "#" * size) == [
        f"1: file too large: {size} bytes (at most {MAX_FILE_BYTES})"
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "a:\n  b: " + "1" * 5000 + "\n",
            "2: a.b: invalid integer '" + "1" * 37 + "'...: 5000 digits is too long",
        ),
        ("a:\n  - 2024-13-45\n", "2: a[0]: invalid value '2024-13-45': month must be in 1..12"),
        (b"a: 1\nb: caf\xe9\n", "2: cannot read file: not UTF-8 text (byte 0xe9)"),
        (
            "a: 1\nb: x\x00y\n",
            "2: invalid YAML: unacceptable character #x0000 (special characters are not allowed)",
        ),
        (
            "a:\n\tb: 1\n",
            "2: invalid YAML: found character '\\t' that cannot start any token "
            "(YAML indents with spaces, never tabs)",
        ),
    ],
    ids=["huge integer", "impossible date", "latin-1", "NUL", "tab"],
)
def test_bad_values_and_bytes_are_located(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    assert problems(tmp_path, content) == [expected]


def test_bom_and_crlf_are_read_like_plain_text(tmp_path: Path) -> None:
    plain, odd = tmp_path / "plain.yaml", tmp_path / "odd.yaml"
    text = "a: 1\nb:\n  - [x,\n     y]\n"
    plain.write_text(text)
    odd.write_bytes(("\ufeff" + text).replace("\n", "\r\n").encode())
    assert outcome(plain) == outcome(odd)


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").mkdir()
    with pytest.raises(SourceError) as info:
        load_documents(tmp_path / "d.yaml")
    assert [p.message for p in info.value.problems] == ["is a directory, not a YAML file"]


def test_paths_the_os_refuses_are_invalid_not_a_crash(tmp_path: Path) -> None:
    assert files.path_kind(tmp_path / ("a" * 300)) == "invalid"  # ENAMETOOLONG
    assert files.path_kind(tmp_path / "a\0b") == "missing"  # pathlib: False for a NUL byte
    assert files.path_kind(tmp_path) == "dir"
    assert files.path_kind(tmp_path / "nothing") == "missing"


def test_the_data_is_what_pyyaml_safe_load_builds() -> None:
    """The one-pass builder constructs exactly what PyYAML's safe constructor does."""
    compared = 0
    for file in CORPUS_FILES:
        try:
            docs = load_documents(file)
        except SourceError:
            continue
        # PyYAML's safe constructor, fed by libyaml when there (as safe_load, ~10x faster).
        text = file.read_text(encoding="utf-8")
        expected = [d for d in yaml.load_all(text, Loader=SAFE_LOADER) if d is not None]
        assert [d.data for d in docs] == expected, file
        compared += 1
    assert compared > 100


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {x: 1, y: [1, 2]}\nuse: {<<: *b, y: 3}\n",  # merge key: PyYAML's constructor
        "a: !!binary aGVsbG8=\nb: !!set {x, y}\nc: 2024-01-02\n1: one\ntrue: yes\n~: nothing\n",
        "a: 1\na: 2\nb: 3\n",  # the last duplicate wins, in the first one's place
        "shared: &s [1, {k: v}]\nagain: *s\n",
    ],
    ids=["merge", "tags and keys", "duplicates", "aliases"],
)
def test_unusual_yaml_builds_the_same_data(text: str) -> None:
    try:
        (doc,) = source.parse_documents(Path("u.yaml"), text)
        data = doc.data
    except SourceError as exc:  # duplicates are reported, as before
        assert [p.message for p in exc.problems] == ["a: duplicate key"]
        return
    assert data == yaml.safe_load(text)
    assert list(data) == list(yaml.safe_load(text))


def tokens(text: str, loader: Any) -> list[Any]:
    """Every token the scanner emits (kind, value, where), or the error it stops with."""
    out: list[Any] = []
    try:
        scanner = loader(text)  # the reader refuses some characters at once
        while scanner.check_token():
            tok = scanner.get_token()
            where = (tok.start_mark.index, tok.end_mark.index)
            out.append((type(tok).__name__, getattr(tok, "value", None), where))
    except yaml.YAMLError as exc:
        out.append(str(exc))
    return out


SIMPLE_KEY_EDGES = [
    "a:\n  b\n  c: d\n",  # a required key never finished: the scanner's own error
    "{" + "k" * 1100 + ": 1}\n",  # a flow key over 1024 characters
    "{" + "k" * 1010 + ": 1}\n" + "k" * 1010 + ": 2\n",  # keys just within the 1024
    "k" * 1030 + ": 2\n",  # a block key over 1024 characters: an error
    "[a, {b: [c, {d: e}]}, [f: g], {[h]: i}]\n",
    "x: [[[[\n  ]]]]\n? [a]\n: b\n",
    "a:\n  b: " + "[" * 300 + "]" * 300 + "\n",
]


def test_the_linear_scanner_emits_pyyamls_tokens_and_errors() -> None:
    """The pure loader's simple-key bookkeeping (linear in flow depth) changes nothing the
    scanner emits: same tokens at the same places, same errors, on every malformed case and
    edge (the valid catalogue is compared through libyaml above)."""
    malformed = [f for f in CORPUS_FILES if "malformed" in f.parts and f.stat().st_size < 8192]
    texts = [f.read_bytes().decode("utf-8", "replace") for f in malformed] + SIMPLE_KEY_EDGES
    stopped = 0
    for text in texts:
        expected = tokens(text, yaml.SafeLoader)
        assert tokens(text, source._PureLoader) == expected, text[:200]
        stopped += isinstance(expected[-1], str)
    assert stopped >= 2  # the comparison covers the error paths too


def _resolving(directory: Path, path: Path) -> Path | None:
    """link_outside by resolving both paths: what its lstat shortcut must agree with."""
    try:
        target = path.resolve()
        return None if target.is_relative_to(directory.resolve()) else target
    except (OSError, RuntimeError, ValueError):
        return None


def test_link_outside_agrees_with_resolving_the_paths(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "manifests").mkdir(parents=True)
    (real / "manifests" / "a.yaml").write_text("a: 1\n")
    (tmp_path / "secret.yaml").write_text("s: 1\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.yaml").write_text("x: 1\n")
    links = {
        "manifests/in.yaml": "a.yaml",
        "manifests/out.yaml": "../../secret.yaml",
        "manifests/broken.yaml": "../../gone.yaml",
        "manifests/loop.yaml": "loop.yaml",
        "outdir": "../elsewhere",
        "indir": "manifests",
    }
    for name, target in links.items():
        (real / name).symlink_to(target)
    (tmp_path / "linked").symlink_to("real")  # the scenario directory itself reached by a link
    rels = [
        "manifests/a.yaml", "manifests/./a.yaml", *links, "outdir/x.yaml", "indir/a.yaml",
        "indir/out.yaml", "missing/x.yaml", "manifests/a.yaml/x", "manifests/a\0.yaml",
        "../secret.yaml", "manifests/../../secret.yaml", str(tmp_path / "secret.yaml"),
    ]  # fmt: skip
    outside = 0
    for directory in (real, tmp_path / "linked", Path(str(real) + "/")):
        for rel in rels:
            path = directory / rel
            expected = _resolving(directory, path)
            assert files.link_outside(directory, path) == expected, (directory, rel)
            outside += expected is not None
    # out, broken, outdir, outdir/x, indir/out and the three paths written outside
    assert outside == 3 * 8


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")
def test_the_fast_loaders_tags_are_pyyamls() -> None:
    """libyaml with the quicker resolver tags every node as PyYAML's own resolver does."""
    scalars = [
        "", "~", "null", "Null", "NULL", "yes", "No", "on", "OFF", "true", "False", "y", "n",
        "0", "-0", "+12", "0x1F", "0o17", "017", "1_000", "0b101", "190:20:30", "1.5", "-.5",
        "1e3", "6.8523015e+5", ".inf", "-.Inf", ".NaN", "2024-01-01", "2001-12-14t21:59:43.1-05:00",
        "<<", "=", "a", "plain text", "8080", "v1", "-", ".", "+",
    ]  # fmt: skip
    text = "".join(f"- {s}\n- '{s}'\n- \"{s}\"\n- {{{s or 'k'}: {s or 'v'}}}\n" for s in scalars)
    text += "- '!x'\n- '&a'\n- '*a'\n- ! a\n- !!str 1\n- [a, {b: c}]\n- &x y\n- *x\n"

    def tags(loader: Any) -> list[str]:
        out: list[str] = []
        stack = list(yaml.compose_all(text, Loader=loader))
        while stack:
            node = stack.pop()
            out.append(node.tag)
            if isinstance(node, yaml.MappingNode):
                stack.extend(x for kv in node.value for x in kv)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)
        return out

    assert source._FAST_LOADER is not yaml.CSafeLoader  # the quicker resolver is in use
    assert tags(source._FAST_LOADER) == tags(yaml.CSafeLoader) == tags(yaml.SafeLoader)
    assert len(set(tags(yaml.CSafeLoader))) >= 8


def test_the_line_table_is_read_off_the_nodes_when_first_asked_for(tmp_path: Path) -> None:
    """Built lazily (lint asks for lines only to report), it is the same whole table."""
    file = tmp_path / "m.yaml"
    file.write_text("a: &x\n  b: [1,\n    2]\nc:\n- *x\n- d: e\na: 2\n")
    with pytest.raises(SourceError, match=r"m.yaml:7: a: duplicate key"):
        load_documents(file)
    file.write_text("a: &x\n  b: [1,\n    2]\nc:\n- *x\n- d: e\n")
    (doc,) = load_documents(file)
    assert doc.data == {"a": {"b": [1, 2]}, "c": [{"b": [1, 2]}, {"d": "e"}]}
    assert doc.lines == {
        (): 1,
        ("a",): 1,
        ("a", "b"): 2,
        ("a", "b", 0): 2,
        ("a", "b", 1): 3,
        ("c",): 4,
        ("c", 0): 1,
        ("c", 0, "b"): 2,
        ("c", 0, "b", 0): 2,
        ("c", 0, "b", 1): 3,
        ("c", 1): 6,
        ("c", 1, "d"): 6,
    }  # fmt: skip  (an alias is where its anchor was written)
    assert doc == load_documents(file)[0]


def _typed(value: Any) -> Any:
    """`value` with every scalar's type beside it (`1 == True` for ==, not here)."""
    if isinstance(value, dict):
        return [(_typed(k), _typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def test_integers_and_booleans_are_pyyamls_to_the_type() -> None:
    spellings = [
        "0", "7", "8080", "-1", "+1", "007", "0o17", "0x1f", "0b11", "1_000", "1:30", "10.0",
        "yes", "No", "TRUE", "false", "on", "Off", "y", "1e3", "99999999999999999999",
    ]  # fmt: skip
    text = "".join(f"k{i}: {s}\n" for i, s in enumerate(spellings)) + "t: !!bool yes\n"
    (doc,) = source.parse_documents(Path("t.yaml"), text)
    assert _typed(doc.data) == _typed(yaml.load(text, Loader=SAFE_LOADER))
    for file in CORPUS_FILES[:60]:
        try:
            docs = load_documents(file)
        except SourceError:
            continue
        expected = [d for d in yaml.load_all(file.read_text(), Loader=SAFE_LOADER) if d is not None]
        assert [_typed(d.data) for d in docs] == [_typed(d) for d in expected], file


_TAGS = sorted(t.rsplit(":", 1)[-1] for t in yaml.SafeLoader.yaml_constructors if t)
_WORDS = ["maybe", "abc", "''", "1", "-", "2020-13-45", "0x", "~", "=", "<<", "[1]", "{a: 1}"]


@pytest.mark.parametrize("tag", _TAGS)
def test_an_explicit_tag_on_any_word_loads_or_is_a_located_problem(
    tmp_path: Path, tag: str
) -> None:
    # PyYAML's constructors fail on some words with a KeyError, IndexError or AttributeError
    # (`!!bool maybe`, `!!int ''`, `!!timestamp soon`): each was a traceback out of lint.
    f = tmp_path / "x.yaml"
    for word in _WORDS:
        f.write_text(f"spec:\n  a: !!{tag} {word}\n")
        try:
            load_documents(f)
        except SourceError as exc:
            assert [p.line for p in exc.problems] == [2], (tag, word, exc)
            assert all(p.file == f for p in exc.problems)


def test_a_word_an_explicit_tag_cannot_read_is_named_with_what_was_expected(
    tmp_path: Path,
) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("a: !!bool maybe\nb: !!timestamp soon\n")
    with pytest.raises(SourceError) as caught:
        load_documents(f)
    assert str(caught.value) == (
        f"{f}:1: a: invalid boolean 'maybe': expected one of true, false, yes, no, on, off"
    )
