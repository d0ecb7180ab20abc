"""Each rule of the model names the Istio 1.30 doc page or source file it follows (issue 13):
a comment above the function or a line of it naming an istio.io / Gateway API / Kubernetes
page, an `istio/istio/...` or `istio/ztunnel/...` source file, or, for what the harness itself
does (echo, the runner's step order), the harness file it mirrors."""

from __future__ import annotations

import ast
import re

import pytest
from helpers import REPO

CITATION = re.compile(
    r"https://(?:istio\.io|gateway-api\.sigs\.k8s\.io|kubernetes\.io)/\S+"
    r"|istio/(?:istio|ztunnel)/[\w./-]+\.(?:go|rs)"
    r"|harness/[\w/]+\.py|docs/mental-model\.md"
)
# Plumbing, not rules: formatting and container helpers no Istio behaviour stands behind.
NOT_RULES = {
    "_strs", "_who", "label", "where", "summary", "_verdict", "_int", "manifest_file",
    "__str__", "of_kind", "client_pod", "scenario_topology",
}  # fmt: skip
MODULES = ["authz", "routes", "path", "world"]


def uncited(source: str) -> list[str]:
    lines = source.splitlines()
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef) or node.name in NOT_RULES:
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        above, i = [], start - 1
        while i >= 0 and lines[i].strip().startswith("#"):
            above.append(lines[i])
            i -= 1
        if not CITATION.search("\n".join([*above, *lines[start : node.end_lineno]])):
            out.append(node.name)
    return out


@pytest.mark.parametrize("module", MODULES)
def test_every_rule_function_cites_its_source(module: str) -> None:
    source = (REPO / "harness" / "predict" / f"{module}.py").read_text(encoding="utf-8")
    assert uncited(source) == []


def test_an_uncited_rule_is_found() -> None:
    cited = "# Follows istio/ztunnel/src/rbac.rs\ndef a() -> None:\n    pass\n"
    bare = "def string_match() -> None:\n    pass\n"
    assert uncited(cited) == [] and uncited(bare) == ["string_match"]
