"""What the suite's collection skips (tests/conftest.py) must hold no test."""

from __future__ import annotations

from pathlib import Path


def test_the_lint_corpus_pytest_does_not_walk_holds_no_test_module() -> None:
    """tests/conftest.py keeps pytest out of tests/malformed/ (data: ~155 directories of YAML
    the lint tests read): a test module put there would never run."""
    corpus = Path(__file__).parent / "malformed"
    assert len(list(corpus.glob("*/scenario.yaml"))) > 50
    assert sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*.py")) == ["conftest.py"]
