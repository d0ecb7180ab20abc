"""The PyYAML loaders the source layer composes with: libyaml when PyYAML was built with it,
with a cheaper tag resolver, and the pure-Python parser without its quadratic cost in flow
depth (for files libyaml refuses, and where PyYAML lacks libyaml)."""

from __future__ import annotations

from typing import Any

import yaml

_C_LOADER: Any = getattr(yaml, "CSafeLoader", None)
_IMPLICIT = (_C_LOADER or yaml.SafeLoader).yaml_implicit_resolvers
_WILDCARD = tuple(_IMPLICIT.get(None, ()))
# The safe loader's implicit resolvers by a scalar's first character, wildcards appended, as
# BaseResolver.resolve concatenates them on every call.
_BY_FIRST = {k: (*v, *_WILDCARD) for k, v in _IMPLICIT.items() if k is not None}
_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{t}" for t in ("str", "seq", "map"))
_SCALAR, _SEQUENCE = yaml.ScalarNode, yaml.SequenceNode


def _resolve(self: Any, kind: Any, value: Any, implicit: Any) -> str:
    """BaseResolver.resolve for a loader without path resolvers: libyaml's composer calls it
    for every node (a plain scalar's tag by its first character, `''` for the empty one)."""
    if kind is _SCALAR:
        if implicit[0]:
            for tag, regexp in _BY_FIRST.get(value[:1], _WILDCARD):
                if regexp.match(value):
                    return str(tag)
        return _STR
    return _SEQ if kind is _SEQUENCE else _MAP


FAST_LOADER: Any = (
    type("FastCSafeLoader", (_C_LOADER,), {"resolve": _resolve})
    if _C_LOADER is not None and not _C_LOADER.yaml_path_resolvers
    else _C_LOADER
)


class PureLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader without its quadratic cost in flow depth.

    The stock scanner walks every pending simple-key candidate (one per open flow level) for
    each token, so 5,000 `[` take seconds before any limit can refuse them. Candidates are
    only ever added at the current position (a level's old one is deleted first), so the
    dict is in position order: the nearest is the first, and the stale ones (an earlier line,
    or over 1024 characters back) are a prefix. Same tokens, same errors, linear time."""

    def next_possible_simple_key(self) -> int | None:
        for key in self.possible_simple_keys.values():
            return int(key.token_number)  # the first is the nearest
        return None

    def stale_possible_simple_keys(self) -> None:
        keys = self.possible_simple_keys
        while keys:
            level, key = next(iter(keys.items()))
            if key.line == self.line and self.index - key.index <= 1024:
                return  # this one and every later one are still possible
            if key.required:
                raise yaml.scanner.ScannerError(
                    "while scanning a simple key",
                    key.mark,
                    "could not find expected ':'",
                    self.get_mark(),
                )
            del keys[level]


def deep_line(text: str, max_depth: int) -> int:
    """Line where nesting first goes past `max_depth`, from the parser's flat event stream
    (the pure composer's recursion cannot say)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=PureLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > max_depth + 1 and event.start_mark is not None:  # root: level 0
                    return int(event.start_mark.line) + 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return 1
