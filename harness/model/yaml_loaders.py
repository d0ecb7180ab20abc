"""The PyYAML loaders the source layer composes with: libyaml when PyYAML was built with it,
with a cheaper tag resolver, and the pure-Python parser without its quadratic cost in flow
depth (for files libyaml refuses, and where PyYAML lacks libyaml)."""

from __future__ import annotations

import re
from typing import IO, Any

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


_LINE_OR_BOM = "\n\r\x85\u2028\u2029\ufeff"  # what the reader's forward() counts apart
_LINE_OR_BOM_RE = re.compile(f"[{_LINE_OR_BOM}]")


class PureLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader without its quadratic cost in flow depth.

    The stock scanner walks every pending simple-key candidate (one per open flow level) for
    each token, so 5,000 `[` take seconds before any limit can refuse them. Candidates are
    only ever added at the current position (a level's old one is deleted first), so the
    dict is in position order: the nearest is the first, and the stale ones (an earlier line,
    or over 1024 characters back) are a prefix. Same tokens, same errors, linear time."""

    # need_more_tokens() said no, and neither the queue nor the position moved since: asked
    # again (the parser checks several token kinds per event) it would say no again.
    _settled = False

    def _settle(self) -> None:
        while self.need_more_tokens():
            self.fetch_more_tokens()
        self._settled = True

    def check_token(self, *choices: Any) -> bool:
        if not self._settled:
            self._settle()
        tokens = self.tokens
        return bool(tokens) and (not choices or isinstance(tokens[0], choices))

    def peek_token(self) -> Any:
        if not self._settled:
            self._settle()
        return self.tokens[0] if self.tokens else None

    def get_token(self) -> Any:
        if not self._settled:
            self._settle()
        self._settled = False
        if not self.tokens:
            return None
        self.tokens_taken += 1
        return self.tokens.pop(0)

    def forward(self, length: int = 1) -> None:
        # The stock loop per character, skipped when no line break or BOM is in the way.
        buffer, start = self.buffer, self.pointer
        end = start + length
        if self.raw_buffer is None and end < len(buffer):  # all text read, one char beyond
            if length == 1:
                plain = buffer[start] not in _LINE_OR_BOM
            else:
                plain = _LINE_OR_BOM_RE.search(buffer, start, end) is None
            if plain:
                self.pointer, self.index, self.column = (
                    end,
                    self.index + length,
                    self.column + length,
                )
                return
        super().forward(length)

    def need_more_tokens(self) -> bool:
        if self.done:
            return False
        if not self.tokens:
            return True
        keys = self.possible_simple_keys
        if not keys:  # nothing stale to drop, no key ahead: the stock answer is no
            return False
        self.stale_possible_simple_keys()
        return self.next_possible_simple_key() == self.tokens_taken

    # The composer recurses once per nesting level (two frames). A document nested deeper
    # than this is refused here, with the RecursionError its callers handle, but far from the
    # interpreter's limit: at that limit, whatever else runs (a collection calling another
    # object's finalizer) fails instead.
    MAX_COMPOSE_DEPTH = 250
    _compose_depth = 0  # levels open now

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        depth = self._compose_depth
        if depth >= self.MAX_COMPOSE_DEPTH:
            raise RecursionError(f"YAML nested deeper than {self.MAX_COMPOSE_DEPTH} levels")
        self._compose_depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._compose_depth = depth

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


Extent = tuple[int, int, bool]


def node_extent(
    root: yaml.Node, memo: dict[int, Extent], max_values: int, max_depth: int
) -> Extent:
    """(values below `root`, levels below it, a duplicate key below it?), counting as the
    source builder walks (a collection's values, not its keys), capped just past the bounds;
    a cycle (a recursive alias) is past both. Memoised per node: aliases share nodes."""
    never = (max_values + 1, max_depth + 1, True)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, counted = stack.pop()
        key = id(node)
        if isinstance(node, yaml.MappingNode):
            values = [v for _, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            values = node.value
        else:
            memo[key] = (0, 0, False)
            continue
        if not counted:
            if key not in memo:
                memo[key] = never  # until its values are counted: met below it, a cycle
                stack.append((node, True))
                stack.extend((v, False) for v in values if id(v) not in memo)
            continue
        size, height = len(values), 0
        mapping = isinstance(node, yaml.MappingNode)
        dupes = mapping and len({str(k.value) for k, _ in node.value}) < len(values)
        for value in values:
            below, levels, inside = memo[id(value)]
            size, height, dupes = size + below, max(height, levels + 1), dupes or inside
        memo[key] = (min(size, max_values + 1), min(height, max_depth + 1), dupes)
    return memo[id(root)]


_PLAIN_SCALARS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null"))
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Unusual(Exception):
    """Something `load_all_plain` leaves to PyYAML: a tag, a merge key, a complex key, an
    undefined alias, a duplicate anchor (PyYAML words the error, or builds the value)."""


Source = str | bytes | IO[str] | IO[bytes]


def load_all_plain(data: Source) -> list[Any]:
    """`list(yaml.load_all(data, Loader=CSafeLoader))`, built straight from libyaml's events.

    Without positions (no node tree) the same documents cost about half: for files where no
    line is needed, such as the ~1 MB CRD bundles. Plain YAML only (untagged scalars, maps
    and sequences, aliases shared as the constructor shares them, the last of duplicate keys
    in the first one's place); anything else, and every error, is PyYAML's own: the
    document stream is loaded again (a file from where it was) by the safe loader."""
    if FAST_LOADER is None:
        return list(yaml.load_all(data, Loader=yaml.SafeLoader))
    start = data.tell() if not isinstance(data, (str, bytes)) else 0
    try:
        return _build_from_events(data)
    except (_Unusual, yaml.YAMLError):
        if not isinstance(data, (str, bytes)):
            data.seek(start)
        return list(yaml.load_all(data, Loader=FAST_LOADER))


def _build_from_events(data: Source) -> list[Any]:
    loader = FAST_LOADER(data)
    constructor = yaml.constructor.SafeConstructor()
    scalars = constructor.yaml_constructors
    events = yaml.events
    scalar_event, alias_event = events.ScalarEvent, events.AliasEvent
    map_start, seq_start = events.MappingStartEvent, events.SequenceStartEvent
    ends = (events.MappingEndEvent, events.SequenceEndEvent)
    doc_start, doc_end, stream_end = (
        events.DocumentStartEvent,
        events.DocumentEndEvent,
        events.StreamEndEvent,
    )
    get_event = loader.get_event
    docs: list[Any] = []
    anchors: dict[str, Any] = {}
    root: list[Any] = [None]
    stack: list[Any] = []  # the open containers, innermost last (the document's root first)
    top: Any = root
    key: Any = None
    key_pending = False  # top is a mapping whose next value is `key`'s
    # A plain scalar's value by its text: its tag depends on the text alone, and every such
    # value (str, int, float, bool, None, date) is immutable, so one object serves each use
    # (CRD bundles repeat `type`, `string`, `description`, ... thousands of times).
    plain: dict[str, Any] = {}
    value: Any
    try:
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                if event.tag is not None:
                    raise _Unusual("tag")
                text = event.value
                if event.implicit[0]:
                    value = plain.get(text, plain)
                    if value is plain:  # not met before in this stream
                        tag = _resolve(None, _SCALAR, text, event.implicit)
                        if tag == _STR:
                            value = text
                        elif tag in _PLAIN_SCALARS:
                            value = scalars[tag](constructor, _SCALAR(tag, text))
                        elif tag == _TIMESTAMP:
                            try:  # `2001-13-45` matches the pattern; PyYAML raises ValueError
                                value = scalars[tag](constructor, _SCALAR(tag, text))
                            except ValueError as exc:
                                raise _Unusual(tag) from exc
                        else:
                            raise _Unusual(tag)  # merge `<<`, value `=`: the constructor's
                        plain[text] = value
                else:
                    value = text
                if event.anchor is not None:
                    _anchor(anchors, event.anchor, value)
                container = False
            elif kind is map_start or kind is seq_start:
                if event.tag is not None:
                    raise _Unusual("tag")
                value = {} if kind is map_start else []
                if event.anchor is not None:
                    _anchor(anchors, event.anchor, value)
                container = True
            elif kind is alias_event:
                if event.anchor not in anchors:
                    raise _Unusual("undefined alias")
                value = anchors[event.anchor]
                container = isinstance(value, (dict, list))
            elif kind in ends:
                stack.pop()
                top = stack[-1] if stack else root
                key_pending = False
                continue
            elif kind is doc_start:
                root, stack, top, anchors = [None], [], None, {}
                top = root
                continue
            elif kind is doc_end:
                docs.append(root[0])
                continue
            elif kind is stream_end:
                return docs
            else:
                continue  # StreamStartEvent
            # Place the value: a document's root, a sequence's item, a mapping's key or value.
            if top is root:
                root[0] = value
            elif type(top) is list:
                top.append(value)
            elif key_pending:
                top[key] = value
                key_pending = False
            else:
                if container:
                    raise _Unusual("complex key")  # PyYAML: unhashable key
                key, key_pending = value, True
                continue
            if kind is map_start or kind is seq_start:
                stack.append(value)
                top = value
    finally:
        loader.dispose()


def _anchor(anchors: dict[str, Any], name: str, value: Any) -> None:
    if name in anchors:
        raise _Unusual("duplicate anchor")  # PyYAML's composer refuses it
    anchors[name] = value
