"""What lint found in one input file (problems fail the run, notes do not), and the small
wording helpers every check shares."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from harness.model.source import Document, PathKey, Problem, format_path


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def hint(word: str, candidates: set[str] | list[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def listing(names: set[str] | list[str]) -> str:
    return ", ".join(sorted(names)) or "none"


@dataclass
class Findings:
    """Problems (errors) and notes (informational) of one input file."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # not about a line of a file

    def add(
        self,
        doc: Document,
        path: PathKey | list[str | int],
        message: str,
        at: PathKey | None = None,
    ) -> None:
        """`<path>: <message>` at the line of `at` (default: of `path`)."""
        line_path = list(path if at is None else at)
        self.problems.append(doc.problem(line_path, f"{format_path(tuple(path))}: {message}"))
