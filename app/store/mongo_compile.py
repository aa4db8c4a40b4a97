"""Filter trees to MongoDB query documents and aggregation pipelines."""

from __future__ import annotations

from typing import Any

from app.store.tree import And, Compare, Join, Node, Not, Op, Or, Query, joins, like_to_regex

_CMP = {Op.LT: "$lt", Op.GT: "$gt", Op.LTE: "$lte", Op.GTE: "$gte"}
_EXPR = {Op.EQ: "$eq", Op.NEQ: "$ne", **_CMP}
NOTHING: dict[str, Any] = {"_id": {"$in": []}}


def path(name: str) -> str:
    return "_id" if name == "id" else name


def compare(node: Compare) -> dict[str, Any]:
    f = path(node.field)
    if node.value_field is not None:
        other = path(node.value_field)
        return {
            "$and": [
                {f: {"$exists": True}},
                {other: {"$exists": True}},
                {"$expr": {_EXPR[node.op]: [f"${f}", f"${other}"]}},
            ]
        }
    v = node.value
    match node.op:
        case Op.EQ:
            return {f: {"$eq": v}}
        case Op.NEQ:
            return {f: {"$ne": v}}
        case Op.LIKE:
            return {f: {"$regex": like_to_regex(v), "$options": "s"}}
        case Op.NOTLIKE:
            return {f: {"$not": {"$regex": like_to_regex(v), "$options": "s"}}}
        case Op.SET:
            return {f: {"$exists": True}}
        case Op.UNSET:
            return {f: {"$exists": False}}
        case Op.IN:
            return {f: {"$in": list(v)}}
        case Op.NOTIN:
            return {f: {"$nin": list(v)}}
        case _:
            return {f: {_CMP[node.op]: v}}


def compile_where(node: Node | None, aliases: dict[Join, str] | None = None) -> dict[str, Any]:
    aliases = aliases or {}
    match node:
        case None:
            return {}
        case Compare():
            return compare(node)
        case And(items):
            return {"$and": [compile_where(i, aliases) for i in items]} if items else {}
        case Or(items):
            return {"$or": [compile_where(i, aliases) for i in items]} if items else NOTHING
        case Not(item):
            return {"$nor": [compile_where(item, aliases)]}
        case Join():
            return {aliases[node]: {"$elemMatch": compare(node.item)}}
    raise TypeError(node)


def lookups(node: Node | None) -> tuple[list[dict[str, Any]], dict[Join, str]]:
    stages: list[dict[str, Any]] = []
    aliases: dict[Join, str] = {}
    for join in joins(node):
        if join in aliases:
            continue
        alias = f"__join{len(aliases)}"
        aliases[join] = alias
        stages.append(
            {
                "$lookup": {
                    "from": join.collection,
                    "localField": path(join.local_field),
                    "foreignField": path(join.foreign_field),
                    "as": alias,
                }
            }
        )
    return stages, aliases


def sort_spec(order: tuple[tuple[str, bool], ...]) -> dict[str, int]:
    spec: dict[str, int] = {}
    for name, desc in order:
        spec.setdefault(path(name), -1 if desc else 1)
    spec.setdefault("_id", 1)
    return spec


def projection(fields: tuple[str, ...] | None) -> dict[str, int] | None:
    if fields is None:
        return None
    return {path(f): 1 for f in fields} | {"_id": 1}


def pipeline(query: Query) -> list[dict[str, Any]]:
    """The aggregation pipeline for a query with joins."""
    stages, aliases = lookups(query.where)
    stages.append({"$match": compile_where(query.where, aliases)})
    stages.append({"$project": {alias: 0 for alias in aliases.values()}})
    stages.append({"$sort": sort_spec(query.order)})
    if query.offset:
        stages.append({"$skip": query.offset})
    if query.limit is not None:
        stages.append({"$limit": query.limit})
    proj = projection(query.fields)
    if proj is not None:
        stages.append({"$project": proj})
    return stages
