"""Input types generated from the kinds: filters, orders and record inputs.

Per kind ``Flow``: ``FlowField`` (an enum of its sortable, comparable fields),
``FlowFilter`` (``and``/``or``/``not`` plus one typed filter per field; a reference
field also filters the record it points at, as a join), ``FlowOrder`` and
``FlowInput`` (the fields a user may write). The typed filters compile to the same
filter tree as REST's JSON expression, through ``app.records.filters``.
"""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from strawberry.types.unset import UnsetType

from app.records.errors import InvalidFilterError
from app.records.filters import parse_filter
from app.records.kinds import KINDS, FieldType, Kind
from app.store.tree import FIELD_OPS, And, Compare, Node, Not, Op, Or
from schema.ids import type_name
from schema.names import generic, shown_fields
from schema.scalars import JSON, DateTime

_SCALAR_NAMES = {
    FieldType.STRING: ("String", str),
    FieldType.INT: ("Int", int),
    FieldType.FLOAT: ("Float", float),
    FieldType.BOOL: ("Boolean", bool),
    FieldType.DATETIME: ("DateTime", DateTime),
    FieldType.ID: ("ID", strawberry.ID),
}
_TEXT = frozenset({FieldType.STRING, FieldType.ID})
_ORDERED = frozenset({FieldType.INT, FieldType.FLOAT, FieldType.DATETIME, FieldType.STRING, FieldType.ID})
# python attribute -> Engine op, for the value ops of a scalar filter.
VALUE_OPS = {
    "eq": Op.EQ,
    "neq": Op.NEQ,
    "like": Op.LIKE,
    "notlike": Op.NOTLIKE,
    "lt": Op.LT,
    "gt": Op.GT,
    "lte": Op.LTE,
    "gte": Op.GTE,
    "in_": Op.IN,
    "notin": Op.NOTIN,
}
FIELD_FORMS = {f"{op.value}_field": op for op in Op if op in FIELD_OPS}


@strawberry.enum(description="Sort direction.")
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(description="Presence of a field that holds JSON or bytes.")
class PresenceFilter:
    set: bool | None = strawberry.field(default=strawberry.UNSET, description="true: the field is set.")
    unset: bool | None = strawberry.field(default=strawberry.UNSET, description="true: the field is not set.")


def _make(name: str, annotations: dict[str, Any], defaults: dict[str, Any], description: str) -> Any:
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__, **defaults}
    cls = strawberry.input(type(name, (), namespace), name=name, description=description)
    globals()[name] = cls
    return cls


def _opt(description: str, name: str | None = None) -> Any:
    return strawberry.field(default=strawberry.UNSET, description=description, name=name)


def _field_enum(kind: Kind) -> type[enum.Enum]:
    members = {s.field.name.upper(): s.field.name for s in shown_fields(kind.name) if s.field.scalar}
    cls = enum.Enum(f"{type_name(kind.name)}Field", members)  # type: ignore[misc]
    cls.__module__ = __name__
    wrapped: type[enum.Enum] = strawberry.enum(
        cls, description=f"The fields of {kind.name} records, for order and field comparisons."
    )
    globals()[cls.__name__] = wrapped
    return wrapped


def _scalar_filter(kind: Kind, ftype: FieldType) -> Any:
    gql, py = _SCALAR_NAMES[ftype]
    type_ = type_name(kind.name)
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for attr, op in VALUE_OPS.items():
        if op in (Op.LIKE, Op.NOTLIKE) and ftype not in _TEXT:
            continue
        if op in (Op.LT, Op.GT, Op.LTE, Op.GTE) and ftype not in _ORDERED:
            continue
        many = op in (Op.IN, Op.NOTIN)
        annotations[attr] = generic(list, py) | None if many else py | None
        what = {
            Op.LIKE: "The field matches the pattern: % is any text, _ one character, anchored at both ends.",
            Op.NOTLIKE: "The field does not match the pattern.",
            Op.IN: "The field is one of the values.",
            Op.NOTIN: "The field is none of the values.",
        }.get(op, f"The field is {op.value} the value.")
        defaults[attr] = _opt(what, "in" if attr == "in_" else None)
    annotations["set"] = bool | None
    defaults["set"] = _opt("true: the field is set; false: it is not.")
    annotations["unset"] = bool | None
    defaults["unset"] = _opt("true: the field is not set; false: it is.")
    for attr, op in FIELD_FORMS.items():
        if op in (Op.LT, Op.GT, Op.LTE, Op.GTE) and ftype not in _ORDERED:
            continue
        annotations[attr] = f"{type_}Field | None"
        defaults[attr] = _opt(f"Compares with another field of the same record ({op.value}).")
    return _make(f"{type_}{gql}Filter", annotations, defaults, f"Conditions on a {gql} field of {kind.name} records.")


def _kind_filter(kind: Kind) -> Any:
    type_ = type_name(kind.name)
    name = f"{type_}Filter"
    annotations: dict[str, Any] = {
        "and_": f"list[{name}] | None",
        "or_": f"list[{name}] | None",
        "not_": f"{name} | None",
    }
    defaults: dict[str, Any] = {
        "and_": _opt("Every filter holds.", "and"),
        "or_": _opt("At least one filter holds.", "or"),
        "not_": _opt("The filter does not hold.", "not"),
    }
    for s in shown_fields(kind.name):
        if s.field.scalar:
            annotations[s.python] = f"{type_}{_SCALAR_NAMES[s.field.type][0]}Filter | None"
        else:
            annotations[s.python] = PresenceFilter | None
        defaults[s.python] = _opt(s.field.description)
        if s.relation and s.target is not None:
            annotations[s.relation] = f"{type_name(s.target.name)}Filter | None"
            defaults[s.relation] = _opt(f"The {s.target.name} this record points at matches (a join).")
    return _make(name, annotations, defaults, f"A filter on {kind.name} records; all parts given must hold.")


def _order(kind: Kind) -> Any:
    type_ = type_name(kind.name)
    return _make(
        f"{type_}Order",
        {"field": f"{type_}Field", "direction": SortDirection},
        {"direction": strawberry.field(default=SortDirection.ASC, description="ASC or DESC.")},
        f"One sort key of {kind.name} listings; the record id breaks ties.",
    )


def _record_input(kind: Kind) -> Any:
    type_ = type_name(kind.name)
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for s in shown_fields(kind.name):
        f = s.field
        if not f.writable:
            continue
        py: Any = JSON if f.type is FieldType.JSON else str if f.type is FieldType.BYTES else _SCALAR_NAMES[f.type][1]
        annotations[s.python] = py | None
        defaults[s.python] = _opt(
            f.description + (" (base64)" if f.type is FieldType.BYTES else "") + " null removes it."
        )
    if kind.name == "user":
        annotations["password"] = str | None
        defaults["password"] = _opt("The new password, at least 8 characters.")
    return _make(
        f"{type_}Input", annotations, defaults, f"Fields of a {kind.name} to write; fields left out stay as they are."
    )


FIELD_ENUMS = {k: _field_enum(kind) for k, kind in KINDS.items()}
SCALAR_FILTERS = {
    (k, t): _scalar_filter(kind, t)
    for k, kind in KINDS.items()
    for t in sorted({s.field.type for s in shown_fields(k) if s.field.scalar})
}
FILTERS = {k: _kind_filter(kind) for k, kind in KINDS.items()}
ORDERS = {k: _order(kind) for k, kind in KINDS.items()}
RECORD_INPUTS = {k: _record_input(kind) for k, kind in KINDS.items()}


def _given(value: Any) -> bool:
    return value is not None and not isinstance(value, UnsetType)


def _combine(nodes: list[Node], how: type[And] | type[Or]) -> Node | None:
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else how(tuple(nodes))


NOTHING: Node = Compare("id", Op.IN, ())


def compile_filter(kind_name: str, value: Any, *, via: tuple[str, str] | None = None) -> Node | None:
    """The filter tree of a ``<Kind>Filter`` value (None when it sets nothing).

    ``via`` = (source kind, reference field) compiles a relation's filter as joins
    from the source kind.
    """
    if not _given(value):
        return None
    parts: list[Node] = []
    if _given(value.and_):
        parts.extend(n for n in (compile_filter(kind_name, v, via=via) for v in value.and_) if n is not None)
    if _given(value.or_):
        ors = [compile_filter(kind_name, v, via=via) for v in value.or_]
        if any(n is None for n in ors):
            pass  # one branch holds always, so the "or" does
        elif ors:
            parts.append(_combine(list(ors), Or))  # type: ignore[arg-type]
        else:
            parts.append(NOTHING)
    if _given(value.not_):
        inner = compile_filter(kind_name, value.not_, via=via)
        parts.append(NOTHING if inner is None else Not(inner))
    for s in shown_fields(kind_name):
        condition = getattr(value, s.python)
        if _given(condition):
            parts.extend(_field_conditions(kind_name, s.field.name, condition, via))
        if s.relation and s.target is not None:
            related = getattr(value, s.relation)
            if _given(related):
                if via is not None:
                    raise InvalidFilterError(
                        f"a filter follows one relation; {s.relation!r} inside a relation's filter would be a second"
                    )
                node = compile_filter(s.target.name, related, via=(kind_name, s.field.name))
                if node is not None:
                    parts.append(node)
    return _combine(parts, And)


def _field_conditions(kind_name: str, field: str, condition: Any, via: tuple[str, str] | None) -> list[Node]:
    if via is None:
        source, shown = kind_name, field
    else:
        source, shown = via[0], f"{via[1]}--{kind_name}.id:{field}"
    out: list[Node] = []

    def leaf(raw: dict[str, Any]) -> None:
        out.append(parse_filter(KINDS[source], {"field": shown, **raw}))

    for attr, op in VALUE_OPS.items():
        given = getattr(condition, attr, None)
        if _given(given):
            leaf({"op": op.value, "value": list(given or ()) if op in (Op.IN, Op.NOTIN) else given})
    for attr, presence in (("set", True), ("unset", False)):
        given = getattr(condition, attr, None)
        if _given(given):
            leaf({"op": "set" if bool(given) == presence else "unset", "value": None})
    for attr, op in FIELD_FORMS.items():
        given = getattr(condition, attr, None)
        if _given(given):
            if via is not None:
                raise InvalidFilterError(f"{attr} does not work across a relation ({field!r} of {kind_name})")
            leaf({"op": op.value, "value_field": getattr(given, "value", given)})
    return out


def order_text(kind_name: str, order: list[Any] | None) -> str:
    """The order as ``name,-created_at`` for the records service."""
    if not order:
        return "created_at"
    return ",".join(("-" if o.direction is SortDirection.DESC else "") + o.field.value for o in order)


def record_values(value: Any) -> dict[str, Any]:
    """The fields a ``<Kind>Input`` sets (null: remove), as the records service takes them."""
    if not _given(value):
        return {}
    out: dict[str, Any] = {}
    for attr in type(value).__annotations__:
        given = getattr(value, attr)
        if not isinstance(given, UnsetType):
            out[attr] = given
    return out
