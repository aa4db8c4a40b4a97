"""The filter tree: the one query language every store compiles.

The records service parses user filters into these nodes after validating every
field and value against the kind's declared fields; stores compile them to
MongoDB query documents or SQL. Field names reaching a store are always declared
identifiers, never raw user text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    EQ = "eq"
    NEQ = "neq"
    LIKE = "like"
    NOTLIKE = "notlike"
    LT = "lt"
    GT = "gt"
    LTE = "lte"
    GTE = "gte"
    SET = "set"
    UNSET = "unset"
    IN = "in"
    NOTIN = "notin"


# Ops that may compare one field with another (``value_field``).
FIELD_OPS = frozenset({Op.EQ, Op.NEQ, Op.LT, Op.GT, Op.LTE, Op.GTE})


@dataclass(frozen=True)
class Compare:
    """``field op value``, or ``field op value_field`` when ``value_field`` is set.

    A field-to-field comparison holds only when both fields are set.
    """

    field: str
    op: Op
    value: Any = None
    value_field: str | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Join:
    """True when some document of ``collection`` whose ``foreign_field`` equals this
    document's ``local_field`` matches ``item`` (a value comparison)."""

    local_field: str
    collection: str
    foreign_field: str
    item: Compare


Node = Compare | And | Or | Not | Join


@dataclass(frozen=True)
class Query:
    where: Node | None = None
    fields: tuple[str, ...] | None = None
    order: tuple[tuple[str, bool], ...] = ()  # (field, descending); "id" breaks ties
    offset: int = 0
    limit: int | None = None


@dataclass(frozen=True)
class IndexSpec:
    """An index a collection needs; ``partial`` limits it to docs where that field is true."""

    name: str
    keys: tuple[tuple[str, bool], ...]  # (field, descending)
    unique: bool = False
    partial: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def joins(node: Node | None) -> list[Join]:
    """Every join in ``node``, in a stable order."""
    found: list[Join] = []

    def walk(n: Node | None) -> None:
        match n:
            case Join():
                found.append(n)
            case And(items) | Or(items):
                for item in items:
                    walk(item)
            case Not(item):
                walk(item)
            case _:
                pass

    walk(node)
    return found


def like_to_regex(pattern: str) -> str:
    """An anchored regex for a ``like`` pattern: ``%`` and ``_`` are wildcards,
    every other character is literal."""
    import re

    out = ["^"]
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    # Not "$": in PCRE (MongoDB) and Python it also matches before a final newline,
    # so "ab\n" would match "__". This lookahead holds at the very end only, in both.
    out.append(r"(?![\s\S])")
    return "".join(out)


def like_to_glob(pattern: str) -> str:
    """The SQLite GLOB pattern (case-sensitive, like MongoDB's ``$regex``) for ``like``."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)
