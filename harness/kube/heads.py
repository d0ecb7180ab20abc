"""Each manifest's head in a file (apiVersion, kind, metadata.name and .namespace), read from
the YAML events without building the documents.

A CRD bundle is ~1 MB: loading it whole cost ~90 ms in PyYAML's constructor (Python even
with libyaml; `load_manifests` now builds it from the events, ~40 ms), its events alone ~25 ms,
and the dry run only prints what each object is called.
Whatever the events alone do not settle the way the safe loader would (an alias or a tag on
a field read, a merge key, a repeated `metadata`, a document that is not a mapping, an unknown
tag, an undefined or repeated anchor, invalid YAML) falls back to the full load, so the heads
are those `load_manifests` gives, and so are its errors, but for one kind: a value deep inside
that only fails to construct (an impossible date) goes unnoticed. The dry run reads the pinned
bundles this way, which lint has verified against their sha256 first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from harness.kube.objects import Manifest, load_manifests

_TOP_FIELDS = frozenset({"apiVersion", "kind"})
_META_FIELDS = frozenset({"name", "namespace"})
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_NULL = "tag:yaml.org,2002:null"
# The implicit tags of the safe loaders, C or Python (typed here: the stubs leave it untyped).
_resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = (
    yaml.resolver.Resolver().resolve
)

_CONSTRUCTED = frozenset(t for t in yaml.SafeLoader.yaml_constructors if t is not None)
# Per file (path, size, mtime, inode): the dry run prints the bundle's CRDs once per run, and
# a test process runs many dry runs.
_HEADS: dict[tuple[Path, int, int, int], list[Manifest]] = {}


class _Unsure(Exception):
    """The events alone do not tell what the full load would give: load the file whole."""


def load_heads(path: Path) -> list[Manifest]:
    """The head of each non-empty document of `path`, in order, as `head_of(load_manifests)`
    would give it (and the same errors)."""
    st = path.stat()
    key = (path.resolve(), st.st_size, st.st_mtime_ns, st.st_ino)
    heads = _HEADS.get(key)
    if heads is None:
        try:
            heads = _scan(path)
        except (_Unsure, yaml.YAMLError):
            heads = [head_of(doc) for doc in load_manifests(path)]
        _HEADS[key] = heads
    return [_copy(h) for h in heads]


def head_of(doc: Manifest) -> Manifest:
    """apiVersion, kind and metadata's name and namespace, those of them `doc` has."""
    head = {k: v for k, v in doc.items() if k in _TOP_FIELDS}
    if "metadata" in doc:
        meta = doc["metadata"]
        head["metadata"] = (
            {k: v for k, v in meta.items() if k in _META_FIELDS} if isinstance(meta, dict) else meta
        )
    return head


def _copy(head: Manifest) -> Manifest:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in head.items()}


def _scan(path: Path) -> list[Manifest]:
    heads: list[Manifest] = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as f:  # decoded as load_manifests decodes it
        events = _checked(yaml.parse(f, Loader=loader))
        for event in events:
            if not isinstance(event, yaml.DocumentStartEvent):
                continue
            root = next(events)
            if isinstance(root, yaml.ScalarEvent) and _tag(root) == _NULL:
                continue  # an empty document
            if not _plain_mapping(root):
                raise _Unsure  # not a mapping: load_manifests says which document
            heads.append(_mapping(events, _TOP_FIELDS, top=True))
    return heads


def _checked(events: Iterator[Any]) -> Iterator[Any]:
    """The events, as long as the safe loader would compose and construct their tags and
    aliases (it rejects unknown tags, undefined aliases and an anchor used twice)."""
    anchors: set[str] = set()
    for event in events:
        # Most events are untagged, unanchored scalars: two attribute reads each.
        if getattr(event, "anchor", None) is not None:
            if isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise _Unsure
            elif event.anchor in anchors:
                raise _Unsure
            else:
                anchors.add(event.anchor)
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in _CONSTRUCTED:
            raise _Unsure
        if isinstance(event, yaml.DocumentStartEvent):
            anchors.clear()  # anchors are per document
        yield event


def _mapping(events: Iterator[Any], fields: frozenset[str], *, top: bool) -> Manifest:
    """The `fields` of the mapping whose start event was just read (and `metadata`'s)."""
    found: Manifest = {}
    while True:
        key = next(events)
        if isinstance(key, yaml.MappingEndEvent):
            return found
        if not isinstance(key, yaml.ScalarEvent) or _tag(key) != _STR:
            raise _Unsure  # a merge key, a complex or aliased key, a non-string key
        value = next(events)
        if top and key.value == "metadata":
            if "metadata" in found or not _plain_mapping(value):
                raise _Unsure
            found["metadata"] = _mapping(events, _META_FIELDS, top=False)
        elif key.value in fields:
            if not isinstance(value, yaml.ScalarEvent) or _tag(value) != _STR:
                raise _Unsure
            found[key.value] = value.value  # a repeated key: the last one wins, as in a load
        else:
            _skip(value, events)


def _tag(event: yaml.ScalarEvent) -> str:
    if event.tag is None or event.tag == "!":
        return _resolve(yaml.ScalarNode, event.value, event.implicit)
    return str(event.tag)


def _plain_mapping(event: Any) -> bool:
    return isinstance(event, yaml.MappingStartEvent) and event.tag in (None, "!", _MAP)


def _skip(event: Any, events: Iterator[Any]) -> None:
    """Read past the rest of the node that `event` starts."""
    if not isinstance(event, yaml.CollectionStartEvent):
        return
    depth = 1
    while depth:
        e = next(events)
        if isinstance(e, yaml.CollectionStartEvent):
            depth += 1
        elif isinstance(e, yaml.CollectionEndEvent):
            depth -= 1
