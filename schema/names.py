"""How a kind's declared fields appear in GraphQL, worked out once for types and inputs.

A field keeps its name in camelCase (``created_at`` -> ``createdAt``); the record's
UUID is ``uuid`` (``id`` is the global id); a reference field shows both its raw id
and the record it points at: ``project_id`` -> ``projectId`` and ``project``,
``created_by`` -> ``createdById`` and ``createdBy``, ``parent_execution_id`` ->
``parentExecutionId`` and ``parent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from app.records.kinds import KINDS, Field, Kind
from schema.ids import type_name

# Relations whose name is not the reference field without its "_id".
_RELATION_NAMES = {"parent_execution_id": "parent"}


@dataclass(frozen=True)
class Shown:
    """One declared field as GraphQL shows it."""

    field: Field
    python: str  # the attribute name; strawberry camel-cases it
    relation: str | None  # the python name of the related record, for references

    @property
    def target(self) -> Kind | None:
        return KINDS[self.field.ref] if self.field.ref else None


@cache
def shown_fields(kind_name: str) -> tuple[Shown, ...]:
    out: list[Shown] = []
    for field in KINDS[kind_name].visible():
        if field.name == "id":
            out.append(Shown(field, "uuid", None))
        elif field.ref and field.name.endswith("_id"):
            out.append(Shown(field, field.name, _RELATION_NAMES.get(field.name, field.name[: -len("_id")])))
        elif field.ref:
            out.append(Shown(field, field.name + "_id", field.name))
        else:
            out.append(Shown(field, field.name, None))
    return tuple(out)


@cache
def doc_keys(kind_name: str) -> dict[str, str]:
    """python attribute -> document key, for the attributes that differ."""
    return {s.python: s.field.name for s in shown_fields(kind_name) if s.python != s.field.name}


def generic(base: Any, *args: Any) -> Any:
    """``base[args]`` for generated types, which are values to a type checker."""
    return base[args if len(args) > 1 else args[0]]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


@cache
def graphql_to_field(kind_name: str) -> dict[str, str]:
    """GraphQL field name -> the document fields it needs read (for projections)."""
    out: dict[str, str] = {"id": "id"}
    for s in shown_fields(kind_name):
        out[camel(s.python)] = s.field.name
        if s.relation:
            out[camel(s.relation)] = s.field.name
    return out


__all__ = ["Shown", "camel", "doc_keys", "generic", "graphql_to_field", "shown_fields", "type_name"]
