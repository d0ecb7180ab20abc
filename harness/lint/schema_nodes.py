"""What lint reads off a schema node, made once per node.

Validation, pruning and defaulting look at the same few nodes for every value they visit, and
most keywords are absent: each reads its node's keywords once into an object of its own. The
schemas are dicts (not hashable) that live as long as the CRD index, so they are known by
identity, checked against the node kept so that a reused id is never mistaken for its old
owner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from harness.lint.crds import Schema


class _ReadOff(Protocol):
    @property
    def schema(self) -> Schema: ...


NodeT = TypeVar("NodeT", bound=_ReadOff)


def per_schema_node(read: Callable[[Schema], NodeT]) -> Callable[[Schema], NodeT]:
    """`read(schema)` once per schema object; a closure, as cheap to call as a function."""
    made: dict[int, NodeT] = {}

    def node(schema: Schema) -> NodeT:
        known = made.get(id(schema))
        if known is not None and known.schema is schema:
            return known
        made[id(schema)] = new = read(schema)
        return new

    return node
