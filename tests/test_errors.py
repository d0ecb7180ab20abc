"""harness/errors.py documents the exception tree; the code and the document agree."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import harness
from harness import errors
from harness.errors import HarnessError


def public_errors() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(harness.__path__, "harness."):
        if info.name.startswith("harness.inpod") or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Exception)
                and not issubclass(cls, Warning)
                and cls.__module__ == info.name
                and not name.startswith("_")
            ):
                found[name] = cls
    return found


def documented() -> set[str]:
    doc = errors.__doc__ or ""
    tree = doc[doc.index("    HarnessError") :]
    # Class names are the CamelCase words of two or more parts (the root is not listed).
    return set(re.findall(r"\b[A-Z][a-z]+(?:[A-Z][a-z]*)+\b", tree)) - {"HarnessError"}


def test_every_error_the_harness_raises_derives_from_the_root() -> None:
    stray = {n for n, c in public_errors().items() if not issubclass(c, HarnessError)}
    assert stray == set()


def test_the_documented_tree_is_the_tree_in_the_code() -> None:
    code = set(public_errors()) - {"HarnessError"}
    assert documented() == code
