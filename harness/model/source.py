"""YAML documents that remember where each value came from.

PyYAML's constructed objects forget their source lines and silently keep the last of two
duplicate keys. Error messages in this project name `file:line` and a field path, so documents
are composed to nodes first: the node tree gives every path its line and exposes duplicates,
then the ordinary safe constructor builds the Python values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError

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


@dataclass
class Document:
    """One YAML document: its value plus the line of every field path in it."""

    file: Path
    index: int
    data: Any
    start_line: int
    lines: dict[PathKey, int] = field(default_factory=dict)

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


def _walk(
    node: yaml.Node, path: PathKey, lines: dict[PathKey, int], dupes: list[tuple[PathKey, int]]
) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                dupes.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            _walk(value_node, child, lines, dupes)
            # A key's own line is where a reader looks for it (block values start below).
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, dupes)


def _mark_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return int(mark.line) + 1 if mark is not None else 1


def parse_documents(file: Path, text: str) -> list[Document]:
    """Every non-empty document of `text`; raises SourceError for syntax or duplicate keys."""
    docs: list[Document] = []
    problems: list[Problem] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        reason = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None:
            # Where the unclosed bracket or block started: often the line to fix.
            reason += f" ({context} at line {context_mark.line + 1})"
        raise SourceError([Problem(file, _mark_line(exc), f"invalid YAML: {reason}")]) from exc
    for index, node in enumerate(nodes):
        if node is None:
            continue
        lines: dict[PathKey, int] = {}
        dupes: list[tuple[PathKey, int]] = []
        _walk(node, (), lines, dupes)
        for path, line in dupes:
            problems.append(Problem(file, line, f"{format_path(path)}: duplicate key"))
        loader = yaml.SafeLoader("")
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            problems.append(Problem(file, _mark_line(exc), f"invalid YAML: {exc}"))
            continue
        finally:
            loader.dispose()
        if data is None:
            continue
        docs.append(Document(file, index, data, node.start_mark.line + 1, lines))
    if problems:
        raise SourceError(problems)
    return docs


def load_documents(file: Path) -> list[Document]:
    """Read and parse `file`; a missing or unreadable file is a Problem, not a traceback."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SourceError([Problem(file, 1, "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError([Problem(file, 1, f"cannot read file: {exc}")]) from exc
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
