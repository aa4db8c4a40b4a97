"""The Query type: per kind one record by id or name and a connection, plus node(id:)."""

from __future__ import annotations

from typing import Any

import strawberry

from app.records.errors import InvalidInputError, ResourceNotFoundError
from app.records.kinds import KINDS, Kind
from schema.context import Context
from schema.ids import from_global, record_id, type_name
from schema.names import camel
from schema.objects import Node, connection_resolver
from schema.records import Rec
from schema.selection import below, record_fields, under


def _one(kind: Kind) -> Any:
    async def resolve(
        info: strawberry.Info, id: strawberry.ID | None = None, name: str | None = None, include_deleted: bool = False
    ) -> Any:
        if (id is None) == (name is None):
            raise InvalidInputError(f"{camel(kind.name)}: give either id or name")
        context: Context = info.context
        by, ref = ("id", record_id(kind.name, id)) if id is not None else ("name", name or "")
        doc = await context.engine.records.get(
            await context.principal(),
            kind.name,
            ref,
            by=by,
            fields=sorted(record_fields(kind.name, under(below(info)))),
            allow_deleted=include_deleted,
        )
        return Rec(kind.name, doc, context)

    resolve.__annotations__ = {
        "info": strawberry.Info,
        "id": strawberry.ID | None,
        "name": str | None,
        "include_deleted": bool,
        "return": type_name(kind.name),
    }
    resolve.__module__ = "schema.objects"
    return strawberry.field(
        resolver=resolve,
        description=f"One {kind.name} by id (its uuid or global id) or by name; NOT_FOUND when there is none.",
    )


def _many(kind: Kind) -> Any:
    resolve = connection_resolver(kind.name)
    return strawberry.field(
        resolver=resolve,
        description=(
            f"A page of {kind.name} records. filter: typed conditions; where: the JSON filter expression of "
            "REST; order: sort keys (default createdAt); sort: the order as REST writes it ('name,-created_at'); "
            "first: page size (default 100, at most 1000); "
            "after: an endCursor; includeDeleted / onlyDeleted: records in the trash too / only; "
            "includeNormal: false leaves out records not in the trash."
        ),
    )


async def _node(info: strawberry.Info, id: strawberry.ID) -> Node | None:
    kind, uuid = from_global(id)
    context: Context = info.context
    try:
        doc = await context.engine.records.get(await context.principal(), kind, uuid, allow_deleted=True)
    except ResourceNotFoundError:
        return None
    return Rec(kind, doc, context)  # type: ignore[return-value]


async def _viewer(info: strawberry.Info) -> Any:
    context: Context = info.context
    principal = await context.principal()
    if principal.user_id is None:
        return None
    return Rec("user", await context.engine.records.get(principal, "user", principal.user_id), context)


_viewer.__annotations__["return"] = "User | None"
_viewer.__module__ = "schema.objects"


def query_type() -> Any:
    namespace: dict[str, Any] = {"__module__": "schema.objects"}
    for kind in KINDS.values():
        namespace[kind.name] = _one(kind)
        namespace[kind.plural] = _many(kind)
    namespace["node"] = strawberry.field(resolver=_node, description="Any record by its global id; null if none.")
    namespace["viewer"] = strawberry.field(resolver=_viewer, description="The signed-in user.")
    return strawberry.type(type("Query", (), namespace), description="Reading records.")
