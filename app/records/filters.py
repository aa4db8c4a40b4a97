"""The filter expression: parsed, validated against a kind's fields, then a tree.

{"field": "name", "op": "like", "value": "my-%"}
{"field": "a", "op": "lt", "value_field": "b"}
{"and": [...]}  {"or": [...]}
{"field": "created_by--user.id:name", "op": "eq", "value": "admin"}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.records.errors import InvalidFilterError, InvalidInputError
from app.records.kinds import KINDS, Field, FieldType, Kind
from app.records.values import check_text, coerce
from app.store.tree import FIELD_OPS, And, Compare, Join, Node, Op, Or

MAX_DEPTH = 32
MAX_NODES = 1000
MAX_IN_VALUES = 1000
_STRINGLIKE = frozenset({FieldType.STRING, FieldType.ID})
_KEYS = frozenset({"field", "op", "value", "value_field"})


def parse_filter(kind: Kind, raw: Any) -> Node:
    """The tree for ``raw`` (a JSON string or the decoded value)."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidFilterError(f"filter is not valid JSON: {exc}") from None
    counter = [0]
    return _node(kind, raw, 0, counter)


def _node(kind: Kind, raw: Any, depth: int, counter: list[int]) -> Node:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise InvalidFilterError(f"filter has more than {MAX_NODES} parts")
    if depth > MAX_DEPTH:
        raise InvalidFilterError(f"filter is nested deeper than {MAX_DEPTH} levels")
    if not isinstance(raw, dict):
        raise InvalidFilterError('a filter must be an object: {"field", "op", "value"} or {"and"|"or": [...]}')
    for key in raw:
        if not isinstance(key, str) or key.startswith("$"):
            raise InvalidFilterError(f"filter keys starting with '$' are not allowed ({key!r})")
    if "and" in raw or "or" in raw:
        if len(raw) != 1:
            raise InvalidFilterError('"and"/"or" must be the only key of its filter object')
        key, items = next(iter(raw.items()))
        if not isinstance(items, list):
            raise InvalidFilterError(f'"{key}" must hold a list of filters')
        nodes = tuple(_node(kind, item, depth + 1, counter) for item in items)
        return And(nodes) if key == "and" else Or(nodes)
    unknown = set(raw) - _KEYS
    if unknown:
        raise InvalidFilterError(
            f"unknown filter keys: {', '.join(sorted(unknown))}; expected field, op, value or value_field"
        )
    if "field" not in raw or "op" not in raw:
        raise InvalidFilterError('a filter needs "field" and "op"')
    name, op_text = raw["field"], raw["op"]
    if not isinstance(name, str):
        raise InvalidFilterError('"field" must be a string')
    try:
        op = Op(op_text)
    except ValueError:
        raise InvalidFilterError(f"unknown filter op {op_text!r}; ops: {', '.join(o.value for o in Op)}") from None
    if "value" in raw and "value_field" in raw:
        raise InvalidFilterError('"value" and "value_field" are mutually exclusive')
    if "--" in name:
        return _join(kind, name, op, raw)
    field = field_of(kind, name)
    if "value_field" in raw:
        return _field_compare(kind, field, op, raw["value_field"])
    return _compare(field, field.name, op, raw, name)


def field_of(kind: Kind, name: str, *, what: str = "filter") -> Field:
    field = kind.fields.get(name)
    if field is None or field.hidden:
        error = InvalidFilterError if what == "filter" else InvalidInputError
        raise error(f"{what}: {kind.name} has no field {name!r}")
    return field


def _compare(field: Field, store_name: str, op: Op, raw: dict[str, Any], shown: str) -> Compare:
    if op in (Op.SET, Op.UNSET):
        return Compare(store_name, op)
    if "value" not in raw:
        raise InvalidFilterError(f'filter on {shown!r} needs "value" or "value_field"')
    value = raw["value"]
    if not field.scalar:
        raise InvalidFilterError(f"field {shown!r} holds {field.type.value}; only set and unset apply to it")
    if op in (Op.LIKE, Op.NOTLIKE):
        if field.type not in _STRINGLIKE:
            raise InvalidFilterError(f"{op.value} applies to text fields; {shown!r} holds {field.type.value}")
        if not isinstance(value, str):
            raise InvalidFilterError(f"{op.value} on {shown!r} needs a string pattern")
        if "\x00" in value:  # MongoDB's regexes are C strings
            raise InvalidFilterError(f"the {op.value} pattern for {shown!r} must not contain NUL characters")
        try:
            return Compare(store_name, op, check_text(value, f"the {op.value} pattern for {shown!r}"))
        except InvalidInputError as exc:
            raise InvalidFilterError(exc.message) from None
    try:
        if op in (Op.IN, Op.NOTIN):
            if not isinstance(value, list):
                raise InvalidFilterError(f"{op.value} on {shown!r} needs a list of values")
            if len(value) > MAX_IN_VALUES:
                raise InvalidFilterError(f"{op.value} takes at most {MAX_IN_VALUES} values")
            return Compare(store_name, op, tuple(coerce(field, v, f"filter value for {shown!r}") for v in value))
        if value is None:
            raise InvalidFilterError(f"filter value for {shown!r} is null; use op set or unset")
        return Compare(store_name, op, coerce(field, value, f"filter value for {shown!r}"))
    except InvalidFilterError:
        raise
    except InvalidInputError as exc:
        raise InvalidFilterError(exc.message) from None


def _comparable(a: Field, b: Field) -> bool:
    numbers = {FieldType.INT, FieldType.FLOAT}
    return a.type == b.type or (a.type in numbers and b.type in numbers) or {a.type, b.type} <= _STRINGLIKE


def _field_compare(kind: Kind, field: Field, op: Op, other_name: Any) -> Compare:
    if not isinstance(other_name, str):
        raise InvalidFilterError('"value_field" must be a field name')
    other = field_of(kind, other_name)
    if op not in FIELD_OPS:
        raise InvalidFilterError(
            f"value_field works with {', '.join(sorted(o.value for o in FIELD_OPS))}, not {op.value}"
        )
    if not (field.scalar and other.scalar and _comparable(field, other)):
        raise InvalidFilterError(
            f"cannot compare {field.name!r} ({field.type.value}) with {other.name!r} ({other.type.value})"
        )
    return Compare(field.name, op, value_field=other.name)


def _join(kind: Kind, name: str, op: Op, raw: dict[str, Any]) -> Join:
    syntax = "<own field>--<other kind>.<join field>:<filter field>"
    own, _, rest = name.partition("--")
    target, dot, rest = rest.partition(".")
    join_name, colon, filter_name = rest.partition(":")
    if not (own and target and dot and join_name and colon and filter_name):
        raise InvalidFilterError(f"join field {name!r} must look like {syntax}")
    other_kind = KINDS.get(target)
    if other_kind is None:
        raise InvalidFilterError(f"join field {name!r}: unknown kind {target!r}")
    local = field_of(kind, own)
    join_field = field_of(other_kind, join_name)
    filter_field = field_of(other_kind, filter_name)
    if not (local.scalar and join_field.scalar and _comparable(local, join_field)):
        raise InvalidFilterError(f"join field {name!r}: cannot match {own!r} with {target}.{join_name}")
    if "value_field" in raw:
        raise InvalidFilterError(f"join field {name!r}: value_field is not supported across a join")
    item = _compare(filter_field, filter_field.name, op, raw, name)
    return Join(local.name, other_kind.collection, join_field.name, item)


def parse_order(kind: Kind, text: str | None) -> tuple[tuple[str, bool], ...]:
    if not text:
        return ()
    out: list[tuple[str, bool]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        desc = part.startswith("-")
        name = part.lstrip("+-").strip()
        field = kind.fields.get(name)
        if field is None or field.hidden:
            raise InvalidInputError(f"order: {kind.name} has no field {name!r}")
        if not field.scalar:
            raise InvalidInputError(f"order: cannot sort by {name!r} ({field.type.value})")
        out.append((name, desc))
    return tuple(out)


def parse_fields(kind: Kind, fields: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if fields is None:
        return None
    names = fields.split(",") if isinstance(fields, str) else list(fields)
    out: list[str] = ["id"]
    for raw_name in names:
        name = raw_name.strip()
        if not name:
            continue
        field = kind.fields.get(name)
        if field is None or field.hidden:
            raise InvalidInputError(f"fields: {kind.name} has no field {name!r}")
        if name not in out:
            out.append(name)
    return tuple(out)
