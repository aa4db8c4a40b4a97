"""Which record fields a query asks for, so only those are read from the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from schema.names import graphql_to_field


def flatten(selections: Iterable[Selection]) -> list[SelectedField]:
    """The fields of ``selections``, with fragments spread out."""
    out: list[SelectedField] = []
    for s in selections:
        if isinstance(s, SelectedField):
            out.append(s)
        elif isinstance(s, (FragmentSpread, InlineFragment)):
            out.extend(flatten(s.selections))
    return out


def below(info: Any) -> list[Selection]:
    """What is selected inside the field being resolved."""
    return [sel for f in flatten(info.selected_fields) for sel in f.selections]


def under(selections: Iterable[Selection], *path: str) -> list[SelectedField]:
    """The fields selected at ``path`` below ``selections`` (e.g. edges, node)."""
    level = flatten(selections)
    for name in path:
        level = flatten(sel for f in level if f.name == name for sel in f.selections)
    return level


def record_fields(kind: str, fields: Sequence[SelectedField]) -> set[str]:
    """The document fields behind the GraphQL fields of a record."""
    known = graphql_to_field(kind)
    wanted = {"id"}
    for f in fields:
        name = known.get(f.name)
        if name is not None:
            wanted.add(name)
    return wanted
