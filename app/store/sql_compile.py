"""Filter trees to SQLite SQL over JSON documents.

Every predicate compiles to an expression that MongoDB would agree with: a missing
field never equals a value, ``neq``/``notin``/``notlike`` match documents without
the field, and ``like`` is case-sensitive (GLOB).
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.store.tree import And, Compare, Join, Node, Not, Op, Or, like_to_glob

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CMP = {Op.EQ: "=", Op.NEQ: "!=", Op.LT: "<", Op.GT: ">", Op.LTE: "<=", Op.GTE: ">="}


def ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not an identifier: {name!r}")
    return name


def table(name: str) -> str:
    return f'"{ident(name)}"'


def column(name: str, alias: str = "t") -> str:
    if name == "id":
        return f"{alias}.id"
    return f"json_extract({alias}.doc, '$.{ident(name)}')"


def param(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


class Compiler:
    def __init__(self) -> None:
        self.params: list[Any] = []
        self._aliases = 0

    def bind(self, value: Any) -> str:
        if isinstance(value, bool):
            # A literal, so the planner can match partial indexes on flags.
            return "1" if value else "0"
        self.params.append(param(value))
        return "?"

    def _marks(self, values: Any) -> str:
        """The placeholders of an IN list; ids and names (text) are bound as they are, in one step."""
        if all(type(x) is str for x in values):
            self.params.extend(values)
            return ", ".join("?" * len(values))
        return ", ".join(self.bind(x) for x in values)

    def compare(self, node: Compare, alias: str = "t") -> str:
        col = column(node.field, alias)
        if node.value_field is not None:
            other = column(node.value_field, alias)
            return f"({col} IS NOT NULL AND {other} IS NOT NULL AND {col} {_CMP[node.op]} {other})"
        v = node.value
        match node.op:
            case Op.EQ:
                return f"{col} = {self.bind(v)}"
            case Op.NEQ:
                return f"{col} IS NOT {self.bind(v)}"
            case Op.LIKE:
                return f"{col} GLOB {self.bind(like_to_glob(v))}"
            case Op.NOTLIKE:
                return f"({col} IS NULL OR NOT ({col} GLOB {self.bind(like_to_glob(v))}))"
            case Op.SET:
                return f"{col} IS NOT NULL"
            case Op.UNSET:
                return f"{col} IS NULL"
            case Op.IN:
                return f"{col} IN ({self._marks(v)})"
            case Op.NOTIN:
                return f"({col} IS NULL OR {col} NOT IN ({self._marks(v)}))"
            case _:
                return f"{col} {_CMP[node.op]} {self.bind(v)}"

    def where(self, node: Node | None) -> str:
        match node:
            case None:
                return "1"
            case Compare():
                return self.compare(node)
            case And(items):
                return "(" + " AND ".join(self.where(i) for i in items) + ")" if items else "1"
            case Or(items):
                return "(" + " OR ".join(self.where(i) for i in items) + ")" if items else "0"
            case Not(item):
                return f"NOT COALESCE({self.where(item)}, 0)"
            case Join():
                return self.join(node)
        raise TypeError(node)

    def join(self, node: Join) -> str:
        self._aliases += 1
        j = f"j{self._aliases}"
        # MongoDB's $lookup treats a missing local field as null, matching foreign
        # documents without the field: IS is SQL's null-safe equality.
        on = f"{column(node.foreign_field, j)} IS {column(node.local_field)}"
        inner = self.compare(node.item, j)
        return f"EXISTS (SELECT 1 FROM {table(node.collection)} AS {j} WHERE {on} AND {inner})"


def order_by(order: tuple[tuple[str, bool], ...]) -> str:
    parts: list[str] = []
    seen: set[str] = set()
    for name, desc in order:
        if name in seen:
            continue
        seen.add(name)
        parts.append(f"{column(name)} {'DESC' if desc else 'ASC'}")
    if "id" not in seen:
        parts.append("t.id ASC")
    return ", ".join(parts)


def projected(fields: tuple[str, ...] | None) -> list[str] | None:
    """The fields a projection reads from the document, when it reads them as one array
    (``select_list``); None when the column holds the document or an object."""
    if fields is None:
        return None
    names = [f for f in fields if f != "id"]
    return names if len(names) > 1 else None


def select_list(fields: tuple[str, ...] | None) -> str:
    """The document column, or the projected fields: several as one JSON array, in the order of
    ``projected`` (json_extract parses the document once for all of them; json_object with one
    ``->`` a field parsed it once a field), one or none as an object."""
    if fields is None:
        return "t.doc"
    names = projected(fields)
    if names is not None:
        return "json_extract(t.doc, " + ", ".join(f"'$.{ident(f)}'" for f in names) + ")"
    pairs = ", ".join(f"'{ident(f)}', t.doc -> '$.{ident(f)}'" for f in fields if f != "id")
    return f"json_object({pairs})" if pairs else "'{}'"
