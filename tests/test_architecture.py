"""The layering of docs/architecture.md §2, checked on the source: every import (function-level
ones included) points downwards, there is no cycle, no module is over 500 lines (the in-pod
agent excepted), and only the faces see argparse or pytest."""

from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from helpers import REPO

PACKAGE = REPO / "harness"
# Each layer may import only the layers below it (and itself). Same-rank packages do not
# import each other, except where listed.
RANK = {
    "errors": 0,
    "model": 1,
    "kube": 2,
    "host": 2,
    "judge": 3,
    "mesh": 3,
    "lint": 3,
    "probe": 3,
    "predict": 3,
    "report": 4,
    "run": 5,
    "cli": 6,
    "pytest_plugin": 6,
}
SIDEWAYS = {
    ("host", "kube"),  # the existing-cluster provider and the doctor read the API server
    ("mesh", "host"),  # install commands (argv) and pins
    ("probe", "host"),  # the port-forward the forwarded agent rides on
    ("lint", "host"),  # the pinned CRD bundles and their checksums
    ("lint", "judge"),
    ("lint", "predict"),  # expectations the mesh model contradicts are lint errors
}
# Narrower than the ranks: a report renders from JSON alone, and judging is pure.
ONLY = {
    "report": {"model", "judge", "errors"},
    "judge": {"model", "errors"},
    "predict": {"model", "errors"},  # the mesh model reads only scenarios and manifests
    "model": {"errors"},
}
FACES = {"cli", "pytest_plugin"}
MAX_LINES = 500
ALLOWED_LONG = {"inpod/agent.py"}  # one file, mounted into pods as it is


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(["harness", *parts]), path


# The fields that hold statements (an import is one): walking only them, not every
# expression, finds the same imports in a fraction of ast.walk's time.
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def statements(body: list[ast.AST]) -> Iterator[ast.AST]:
    """Every statement of `body` and of the blocks nested in it, at any depth."""
    for node in body:
        yield node
        for name in _BODIES:
            inner = getattr(node, name, None)
            if isinstance(inner, list):
                yield from statements(inner)


def imports_in(nodes: Iterable[ast.AST]) -> tuple[tuple[int, str], ...]:
    found: list[tuple[int, str]] = []
    for node in statements(list(nodes)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return tuple(found)


NESTED = """
import a
from b.c import d, e
from . import relative
def f():
    import g
    class K:
        async def m(self):
            async with x:
                from h import i
            async for y in z:
                import j
            else:
                import k
    lambda: __import__("not-a-statement")
if t:
    import l
elif u:
    import m
else:
    import n
try:
    import o
except ImportError:
    import p
else:
    import q
finally:
    import r
while w:
    import s
else:
    import t2
with v:
    for q2 in r2:
        import u2
match x:
    case 1:
        import v2
    case _:
        from w2 import x2
try:
    pass
except* OSError:
    import y2
"""


def test_the_statement_walk_finds_every_import_ast_walk_finds() -> None:
    tree = ast.parse(NESTED)
    everything = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert sorted(imports_in(tree.body)) == sorted(imports_in(everything)) != []
    assert {name for _, name in imports_in(tree.body)} >= {
        "g",
        "h.i",
        "k",
        "p",
        "r",
        "t2",
        "w2.x2",
        "y2",
    }
    for path in list(MODULES.values())[::10]:  # and on a tenth of the package
        tree = ast.parse(path.read_text(encoding="utf-8"))
        everything = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert sorted(imports_in(tree.body)) == sorted(imports_in(everything)), path


Imports = dict[Path, tuple[tuple[int, str], ...]]


def import_table(directory: Path, paths: Iterable[Path]) -> Imports:
    """Each file's imports (line, name), as `imports_in` finds them in its parsed source.

    Parsing the package takes ~0.2 s of CPU, and pytest-xdist spreads these tests over its
    workers: the first worker to get here parses and leaves the table in `directory` (the
    run's shared temporary directory), the others wait on the lock and read it. Each entry
    is kept with the sha256 of the source it came from, and a file whose text differs is
    parsed again: the table is never older than the files."""
    table_file = directory / "architecture-imports.json"
    with (directory / "architecture-imports.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        stored = json.loads(table_file.read_text(encoding="utf-8")) if table_file.exists() else {}
        table: Imports = {}
        fresh = {}
        for path in paths:
            source = path.read_bytes()
            digest = hashlib.sha256(source).hexdigest()
            entry = stored.get(str(path))
            if entry is None or entry["sha256"] != digest:
                entry = {"sha256": digest, "imports": imports_in(ast.parse(source).body)}
            fresh[str(path)] = entry
            table[path] = tuple((line, name) for line, name in entry["imports"])
        if any(stored.get(key) is not entry for key, entry in fresh.items()) or set(stored) - set(
            fresh
        ):
            partial = table_file.with_suffix(f".{os.getpid()}")
            partial.write_text(json.dumps(fresh), encoding="utf-8")
            partial.replace(table_file)
    return table


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory) -> Imports:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's temporary directory sits in the run's one shared directory.
    shared = base.parent if "PYTEST_XDIST_WORKER" in os.environ else base
    return import_table(shared, MODULES.values())


def test_the_shared_table_is_what_a_fresh_parse_finds_and_a_changed_file_is_parsed_again(
    tmp_path: Path,
) -> None:
    paths = list(MODULES.values())[::20]  # a few files, as all of them would be
    changed = paths[-1]
    parsed = {path: imports_in(ast.parse(path.read_bytes()).body) for path in paths}
    assert import_table(tmp_path, paths) == parsed  # written by this call
    assert import_table(tmp_path, paths) == parsed  # read back
    # An entry of another text (the file changed since the table was written) is not used.
    table_file = tmp_path / "architecture-imports.json"
    stored = json.loads(table_file.read_text(encoding="utf-8"))
    stored[str(changed)] = {"sha256": "0" * 64, "imports": [[1, "harness.cli.main"]]}
    table_file.write_text(json.dumps(stored), encoding="utf-8")
    assert import_table(tmp_path, paths) == parsed
    assert json.loads(table_file.read_text(encoding="utf-8"))[str(changed)]["imports"] != [
        [1, "harness.cli.main"]
    ]


def package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "harness" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANK else None


MODULES = dict(modules())


def graph(imports: Imports) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for _, target in imports[path]:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("harness."):
                targets.add(target)
        edges[name] = targets
    return edges


def test_every_package_is_in_the_layer_table() -> None:
    top = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    top |= {p.stem for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", "__main__"}}
    assert top - {"inpod"} == set(RANK)


def test_imports_point_downwards(imports: Imports) -> None:
    wrong = []
    for name, path in MODULES.items():
        src = package_of(name)
        if src is None:
            continue
        for line, target in imports[path]:
            dst = package_of(target)
            if dst is None or dst == src:
                continue
            if src in ONLY and dst not in ONLY[src]:
                pass
            elif RANK[dst] < RANK[src] or (src, dst) in SIDEWAYS:
                continue
            wrong.append(f"{path.relative_to(REPO)}:{line}: {src} imports {dst} ({target})")
    assert wrong == []


def test_no_import_cycle(imports: Imports) -> None:
    edges = graph(imports)
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            # A package imports its own modules from __init__ (a re-export), never the reverse.
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_in_pod_agent_imports_nothing_from_the_package(imports: Imports) -> None:
    agent = PACKAGE / "inpod" / "agent.py"
    assert [t for _, t in imports[agent] if t.split(".")[0] == "harness"] == []


@pytest.mark.parametrize("banned", ["argparse", "pytest", "_pytest"])
def test_only_the_faces_see_argparse_and_pytest(imports: Imports, banned: str) -> None:
    seen = [
        f"{path.relative_to(REPO)}:{line}"
        for name, path in MODULES.items()
        if package_of(name) not in FACES and not name.startswith("harness.inpod")
        for line, target in imports[path]
        if target.split(".")[0] == banned
    ]
    assert seen == []


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert {k: v for k, v in long.items() if k not in ALLOWED_LONG} == {}


def test_every_design_reference_resolves() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    sections = {line.split()[1] for line in doc.splitlines() if line.startswith("## §")}
    cited = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "DESIGN.md" not in text, path
        cited |= set(re.findall(r"docs/architecture\.md\s+(§\d+)", text))
    assert cited, "the code cites its design notes"
    assert cited <= sections
