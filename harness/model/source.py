"""YAML documents that remember where each value came from.

PyYAML's constructed objects forget their source lines and silently keep the last of two
duplicate keys. Error messages in this project name `file:line` and a field path, so documents
are composed to nodes first: the node tree gives every path its line and exposes duplicates,
then the ordinary safe constructor builds the Python values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.model.files import path_kind
from harness.model.yaml_loaders import FAST_LOADER, PureLoader, deep_line, node_extent

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, printed as `file:line: message`."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class SourceError(HarnessError):
    """Raised with every problem found; nothing is returned half-loaded."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def format_path(path: PathKey) -> str:
    """`spec.rules[0].from` style, as Kubernetes and pydantic users read field paths."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


class _Text:
    """A file's text, composed again (once) when one of its documents' lines is asked for
    (by libyaml; the pure parser's nodes are kept instead)."""

    nodes: list[yaml.Node | None] | None = None

    def __init__(self, text: str) -> None:
        self.text = text

    def node(self, index: int) -> yaml.Node | None:
        if self.nodes is None:
            self.nodes = compose(self.text)  # composed once already: the same nodes
        return self.nodes[index]


@dataclass(eq=False)
class Document:
    """One YAML document: its value plus the line of every field path in it. The line table
    is made when first asked for, from the text composed again: most documents are never
    reported on, and keeping their node trees would cost the garbage collector as much."""

    file: Path
    index: int
    data: Any
    start_line: int
    _lines: dict[PathKey, int] | None = field(default=None, repr=False)
    _text: _Text | None = field(default=None, repr=False)

    @property
    def lines(self) -> dict[PathKey, int]:
        if self._lines is None:
            node = self._text.node(self.index) if self._text is not None else None
            self._lines = _walk(node)[0] if node is not None else {}
        return self._lines

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        mine = (self.file, self.index, self.data, self.start_line, self.lines)
        return mine == (other.file, other.index, other.data, other.start_line, other.lines)

    def line_of(self, path: Sequence[str | int]) -> int:
        """Line of `path`, or of its nearest ancestor that exists (e.g. for a missing field)."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.start_line

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        return Problem(self.file, self.line_of(path), message)


# Bounds on what a scenario or manifest file may be: far above any real one, low enough that
# a hostile or broken file is refused in milliseconds instead of exhausting memory or the stack.
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 100  # nesting levels (mappings and sequences) of one document
MAX_VALUES = 100_000  # values of one document, aliases expanded (a YAML alias bomb)
# The pure-Python parser re-words a libyaml syntax error only for files this small: it is ~25x
# slower, and a large file must still be answered within a second.
_REWORD_MAX_CHARS = 64 * 1024

_FAST_LOADER: Any = FAST_LOADER  # libyaml, when PyYAML was built with it
_PureLoader = PureLoader


class _LimitExceeded(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message
        super().__init__(message)


def _walk(root: yaml.Node) -> tuple[dict[PathKey, int], list[tuple[PathKey, int]]]:
    """Line of every path (a key's own line for mapping values) and the duplicate keys, in
    document order; iterative and bounded, since aliases can make the tree exponential."""
    lines: dict[PathKey, int] = {}
    dupes: list[tuple[PathKey, int]] = []
    # (node, path, line to record for the path, duplicate key?)
    stack: list[tuple[yaml.Node, PathKey, int, bool]] = [
        (root, (), root.start_mark.line + 1, False)
    ]
    visited = 0
    while stack:
        node, path, line, dupe = stack.pop()
        visited += 1
        if visited > MAX_VALUES:
            raise _LimitExceeded(node.start_mark.line + 1, _bomb())
        if len(path) > MAX_DEPTH:
            raise _LimitExceeded(node.start_mark.line + 1, _too_deep())
        if dupe:
            dupes.append((path, line))
        lines[path] = line
        children: list[tuple[yaml.Node, PathKey, int, bool]] = []
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                # A key's own line is where a reader looks for it (block values start below).
                children.append(
                    (value_node, (*path, key), key_node.start_mark.line + 1, key in seen)
                )
                seen.add(key)
        elif isinstance(node, yaml.SequenceNode):
            children = [
                (item, (*path, i), item.start_mark.line + 1, False)
                for i, item in enumerate(node.value)
            ]
        stack.extend(reversed(children))
    return lines, dupes


_TAG = "tag:yaml.org,2002:"
# Keys the builder constructs itself (`1: x`, `true: y`); any other (merge `<<`, tags) is
# left to PyYAML.
_PLAIN_KEY_TAGS = frozenset(_TAG + t for t in ("int", "float", "bool", "null", "timestamp"))


class _Unusual(Exception):
    """A construct the fast builder leaves to PyYAML's constructor (merge keys, explicit
    tags, complex keys): rare in scenarios, and PyYAML words its errors."""


class _Sink(dict[Any, Any]):
    """Where the values of an alias walked again go: they were built the first time."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


_DECIMAL, _BOOLS = re.compile(r"(?:0|[1-9][0-9]*)\Z"), yaml.constructor.SafeConstructor.bool_values
_Link = tuple[Any, str | int] | None  # a path as (parent's link, key): no tuple per node


def _path_of(link: _Link) -> PathKey:
    parts: list[str | int] = []
    while link is not None:
        link, key = link
        parts.append(key)
    return tuple(reversed(parts))


def _build(root: yaml.Node) -> tuple[Any, list[tuple[PathKey, int]]]:
    """PyYAML's safe constructor, duplicate keys and `_walk`'s bounds (same order, so the same
    node trips one) in one pass: the same data (aliases shared, the last duplicate in the first
    one's place) ~2x faster than the pure-Python constructor. Raises _Unusual for the rest."""
    constructor = yaml.constructor.SafeConstructor()
    scalar_of = constructor.yaml_constructors
    dupes: list[tuple[PathKey, int]] = []
    built: dict[int, Any] = {}
    extents: dict[int, tuple[int, int, bool]] = {}
    holder: list[Any] = [None]
    sink = _Sink()
    str_tag, map_tag, seq_tag = _TAG + "str", _TAG + "map", _TAG + "seq"
    int_tag, bool_tag = _TAG + "int", _TAG + "bool"
    # (node, its path's link, depth, its key's line if a duplicate else 0, container, slot)
    stack: list[tuple[yaml.Node, _Link, int, int, Any, Any]] = [(root, None, 0, 0, holder, 0)]
    visited = 0
    while stack:
        node, link, depth, dupe, parent, slot = stack.pop()
        visited += 1
        if visited > MAX_VALUES:
            raise _LimitExceeded(node.start_mark.line + 1, _bomb())
        if depth > MAX_DEPTH:
            raise _LimitExceeded(node.start_mark.line + 1, _too_deep())
        if dupe:
            dupes.append((_path_of(link), dupe))
        kind, tag = type(node), node.tag
        if kind is yaml.ScalarNode:
            if tag == str_tag:
                parent[slot] = node.value
            elif tag == int_tag and _DECIMAL.match(node.value):
                parent[slot] = int(node.value)  # what construct_yaml_int makes of 8080
            elif tag == bool_tag:
                parent[slot] = _BOOLS[node.value.lower()]  # as construct_yaml_bool
            elif tag.startswith(_TAG) and tag in scalar_of:
                parent[slot] = scalar_of[tag](constructor, node)
            else:
                raise _Unusual(tag)
            continue
        seen_before = id(node) in built
        if seen_before:
            # An alias walked again only counts values and checks bounds: a subtree that
            # stays within them and holds no duplicate key is counted at once (an alias bomb
            # is refused in a millisecond, at the same node).
            size, height, dupes_inside = node_extent(node, extents, MAX_VALUES, MAX_DEPTH)
            if not dupes_inside and visited + size <= MAX_VALUES and depth + height <= MAX_DEPTH:
                visited += size
                parent[slot] = built[id(node)]
                continue
        below = depth + 1
        children: list[tuple[yaml.Node, _Link, int, int, Any, Any]] = []
        if kind is yaml.MappingNode:
            if tag != map_tag:
                raise _Unusual(tag)
            mapping: dict[Any, Any] = built.get(id(node), {})
            target = sink if seen_before else mapping
            names: set[str] = set()
            for key_node, value_node in node.value:
                key_tag = key_node.tag
                if type(key_node) is not yaml.ScalarNode or (
                    key_tag != str_tag and key_tag not in _PLAIN_KEY_TAGS
                ):
                    raise _Unusual(key_tag)
                key = (
                    key_node.value
                    if key_tag == str_tag
                    else scalar_of[key_tag](constructor, key_node)
                )
                if not seen_before:
                    mapping.setdefault(key, None)  # YAML order; a duplicate keeps its place
                name = str(key_node.value)
                again = key_node.start_mark.line + 1 if name in names else 0
                children.append((value_node, (link, name), below, again, target, key))
                names.add(name)
            value: Any = mapping
        elif kind is yaml.SequenceNode:
            if tag != seq_tag:
                raise _Unusual(tag)
            value = built.get(id(node), [None] * len(node.value))
            target = sink if seen_before else value
            children = [(item, (link, i), below, 0, target, i) for i, item in enumerate(node.value)]
        else:
            raise _Unusual(type(node).__name__)
        built[id(node)] = value
        parent[slot] = value
        children.reverse()
        stack.extend(children)
    return holder[0], dupes


def _bomb() -> str:
    return (
        f"more than {MAX_VALUES} values once aliases are expanded (an alias bomb?): "
        "write the values out, or use fewer aliases"
    )


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels: not a scenario or manifest"


def _mark_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return int(mark.line) + 1 if mark is not None else 1


def _syntax_problem(file: Path, text: str, exc: yaml.YAMLError) -> Problem:
    """One line: what the parser found, and where the construct it was reading started."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character
        code = f"#x{ord(char) if isinstance(char, str) else char:04x}"
        return Problem(file, line, f"invalid YAML: unacceptable character {code} ({exc.reason})")
    problem = getattr(exc, "problem", None)
    if problem == "exceeded maximum nesting depth":  # libyaml's own bound (1000 levels)
        return Problem(file, _mark_line(exc), f"invalid YAML: {_too_deep()}")
    reason = problem or str(exc).splitlines()[0]
    if "'\\t'" in reason:
        reason += " (YAML indents with spaces, never tabs)"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        # Where the unclosed bracket or block started: often the line to fix.
        reason += f" ({context} at line {context_mark.line + 1})"
    return Problem(file, _mark_line(exc), f"invalid YAML: {reason}")


def compose(text: str, loader: Any = None) -> list[yaml.Node | None]:
    """The node tree of every document, composed by libyaml when available."""
    return list(yaml.compose_all(text, Loader=loader or _FAST_LOADER or _PureLoader))


def _compose_or_raise(file: Path, text: str) -> list[yaml.Node | None]:
    try:
        return compose(text)
    except yaml.YAMLError as exc:
        error = exc
    except RecursionError:  # the pure-Python composer recurses once per level
        raise SourceError(
            [Problem(file, deep_line(text, MAX_DEPTH), f"invalid YAML: {_too_deep()}")]
        ) from None
    reworded = _FAST_LOADER is not None and len(text) <= _REWORD_MAX_CHARS
    if reworded and getattr(error, "problem", None) != "exceeded maximum nesting depth":
        # libyaml words some errors differently (no quoted character): the pure parser's
        # wording keeps messages identical with or without libyaml.
        try:
            compose(text, _PureLoader)
        except yaml.YAMLError as pure:
            error = pure
        except RecursionError:
            pass
    raise SourceError([_syntax_problem(file, text, error)]) from None


def _short(value: str) -> str:
    return repr(value) if len(value) <= 40 else repr(value[:37]) + "..."


# How PyYAML's constructors fail on a word an explicit tag cannot read (`!!bool maybe`,
# `!!int ''`, `!!timestamp soon`): a lookup or a regular expression that did not match.
_TAG_MISREAD = (KeyError, IndexError, AttributeError, TypeError)
_TAG_WORDS = {
    "bool": ("boolean", "expected one of true, false, yes, no, on, off"),
    "int": ("integer", "expected an integer"),
    "float": ("float", "expected a number"),
    "timestamp": ("timestamp", "expected a date (2024-01-31) or a date and time"),
}


def _value_problem(file: Path, root: yaml.Node) -> Problem:
    """The first scalar the constructor rejects with a plain ValueError (a 5,000-digit
    integer, the date 2024-13-45), located; PyYAML does not say where."""
    loader = yaml.SafeLoader("")
    stack: list[tuple[yaml.Node, PathKey]] = [(root, ())]
    try:
        while stack:
            node, path = stack.pop()
            if isinstance(node, yaml.ScalarNode):
                try:
                    loader.construct_object(node)
                except _TAG_MISREAD:
                    kind = node.tag.rsplit(":", 1)[-1]
                    what, reason = _TAG_WORDS.get(kind, ("value", f"not a YAML {kind}"))
                except (ValueError, OverflowError) as exc:
                    what = "integer" if node.tag.endswith(":int") else "value"
                    reason = (
                        f"{len(node.value)} digits is too long"
                        if what == "integer" and "digits" in str(exc)
                        else str(exc)
                    )
                else:
                    continue
                where = f"{format_path(path)}: " if path else ""
                return Problem(
                    file,
                    node.start_mark.line + 1,
                    f"{where}invalid {what} {_short(node.value)}: {reason}",
                )
            if isinstance(node, yaml.MappingNode):
                stack.extend((v, (*path, str(k.value))) for k, v in reversed(node.value))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(node.value))))
    finally:
        loader.dispose()
    return Problem(file, root.start_mark.line + 1, "invalid YAML: a value cannot be read")


_UNBUILT = object()


def parse_documents(file: Path, text: str) -> list[Document]:
    """Every non-empty document of `text`; raises SourceError for syntax or duplicate keys."""
    docs: list[Document] = []
    problems: list[Problem] = []
    nodes = _compose_or_raise(file, text)
    source = _Text(text)
    if _FAST_LOADER is None:  # the pure parser costs ~25x libyaml: keep, not compose again
        source.nodes = nodes
    for index, node in enumerate(nodes):
        if node is None:
            continue
        lines: dict[PathKey, int] | None = None  # read off `node` when asked for
        try:
            data, dupes = _build(node)
        except _LimitExceeded as exc:
            problems.append(Problem(file, exc.line, f"invalid YAML: {exc.message}"))
            continue
        except (_Unusual, yaml.YAMLError, ValueError, OverflowError, *_TAG_MISREAD):
            data = _UNBUILT
        if data is _UNBUILT:  # PyYAML's own constructor: merge keys, tags, its error wording
            lines, dupes = _walk(node)
        for path, line in dupes:
            problems.append(Problem(file, line, f"{format_path(path)}: duplicate key"))
        if data is _UNBUILT:
            loader = yaml.SafeLoader("")
            try:
                data = loader.construct_document(node)
            except yaml.YAMLError as exc:
                problems.append(_syntax_problem(file, text, exc))
                continue
            except (ValueError, OverflowError, *_TAG_MISREAD):
                problems.append(_value_problem(file, node))
                continue
            finally:
                loader.dispose()
        if data is None:
            continue
        docs.append(Document(file, index, data, node.start_mark.line + 1, lines, source))
    if problems:
        raise SourceError(problems)
    return docs


def load_documents(file: Path) -> list[Document]:
    """Read and parse `file`; a missing, oversized or unreadable file is a Problem."""
    kind = path_kind(file)
    if kind == "invalid":
        raise SourceError([Problem(file, 1, "cannot read file: not a valid path")])
    try:
        if kind == "dir":
            raise SourceError([Problem(file, 1, "is a directory, not a YAML file")])
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SourceError(
                [Problem(file, 1, f"file too large: {size} bytes (at most {MAX_FILE_BYTES})")]
            )
        raw = file.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError([Problem(file, 1, "file not found")]) from exc
    except OSError as exc:
        raise SourceError([Problem(file, 1, f"cannot read file: {exc.strerror or exc}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            [Problem(file, line, f"cannot read file: not UTF-8 text (byte 0x{raw[exc.start]:02x})")]
        ) from None
    return parse_documents(file, text)


def iter_paths(value: Any, prefix: PathKey = ()) -> Iterator[tuple[PathKey, Any]]:
    """Every (path, value) pair under `value`, depth first."""
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from iter_paths(v, (*prefix, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_paths(v, (*prefix, i))
