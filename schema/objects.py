"""Object types generated from the kinds: ``Node``, ``Record``, one type per kind.

Every record type implements ``Node`` (``id`` is the global id, base64 of
``"<Type>:<uuid>"``) and ``Record`` (the common fields, the users and project it
points at, and its metadata). Relations and metadata are attributes of
``schema.records.Rec``: loaded ahead for a whole page by listings, else batched by the
request's DataLoaders -- one query per relation and level, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry

from app.records.kinds import KINDS, FieldType, Kind
from app.store import tree
from app.store.tree import Compare, Op
from schema import inputs as _inputs
from schema.builders import records_of
from schema.connections import Page, PageInfo, connection
from schema.context import Context
from schema.errors import RuntimeMissingError
from schema.execution import info_free
from schema.ids import type_name
from schema.names import Shown, camel, shown_fields
from schema.records import Metadata, Rec, metadata_of
from schema.scalars import JSON, DateTime

_PLAIN: dict[FieldType, Any] = {
    FieldType.STRING: str,
    FieldType.INT: int,
    FieldType.FLOAT: float,
    FieldType.BOOL: bool,
    FieldType.DATETIME: DateTime,
    FieldType.ID: strawberry.ID,
    FieldType.JSON: JSON,
    FieldType.BYTES: str,
}
COMMON = (
    *("id", "name", "description", "created_by", "created_at", "modified_by", "modified_at"),
    *("deleted_by", "deleted_at", "project_id"),
)


@strawberry.interface(description="Anything with a global id; node(id:) finds it.")
class Node:
    id: strawberry.ID = strawberry.field(description='The global id: base64 of "<Type>:<uuid>", e.g. "Flow:<uuid>".')


@strawberry.type(description="One line of an execution's log.")
class LogLine:
    at: DateTime | None
    level: str | None
    message: str | None


def _register(cls: Any) -> Any:
    globals()[cls.__name__] = cls
    return cls


async def _metadata_entry(root: Rec, info: strawberry.Info, key: str) -> Metadata | None:
    return next((metadata_of(m) for m in await root.entries() if m["key"] == key), None)


def _fields(shown: tuple[Shown, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    annotations: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for s in shown:
        required = s.field.name in ("id", "name") or (s.field.name == "created_at")
        py = _PLAIN[s.field.type]
        annotations[s.python] = py if required else py | None
        extra = " (base64)" if s.field.type is FieldType.BYTES else ""
        values[s.python] = strawberry.field(description=(s.field.description or s.field.name) + extra)
        if s.relation and s.target is not None:
            # Plain attributes of Rec, resolved without a resolver call (see schema.records).
            annotations[s.relation] = f"{type_name(s.target.name)} | None"
            values[s.relation] = strawberry.field(
                description=f"The {s.target.name} record that {camel(s.python)} points at."
            )
    return annotations, values


def _record_interface() -> Any:
    shown = tuple(s for s in shown_fields("flow") if s.field.name in COMMON)
    annotations, values = _fields(shown)
    annotations["metadata"] = list[Metadata]
    values["metadata"] = strawberry.field(description="The record's metadata, oldest first.")
    values["metadata_entry"] = strawberry.field(
        resolver=_metadata_entry, description="The metadata under key, or null."
    )
    namespace = {"__annotations__": annotations, "__module__": __name__, **values}
    return _register(
        strawberry.interface(type("Record", (Node,), namespace), description="What every Engine record has.")
    )


Record = _record_interface()


def _children() -> Any:
    resolve = connection_resolver("execution", lambda root: Compare("parent_execution_id", Op.EQ, root.doc["id"]))
    return strawberry.field(resolver=resolve, description="The executions this one started.")


def connection_resolver(kind: str, scope: Callable[[Rec], tree.Node] | None = None) -> Any:
    """A resolver for a connection of ``kind`` records, with the kind's typed arguments;
    ``scope`` limits it to the records belonging to the parent (``root``)."""

    async def resolve(
        root: Rec,
        info: strawberry.Info,
        filter: Any = None,
        where: Any = None,
        order: Any = None,
        sort: str | None = None,
        first: int | None = None,
        after: str | None = None,
        offset: int = 0,
        include_deleted: bool = False,
        only_deleted: bool = False,
        include_normal: bool = True,
    ) -> Any:
        return await connection(
            info,
            kind,
            filter=filter,
            where=where,
            order=order,
            sort=sort,
            first=first,
            after=after,
            offset=offset,
            include_deleted=include_deleted,
            only_deleted=only_deleted,
            include_normal=include_normal,
            scope=None if scope is None else scope(root),
        )

    t = type_name(kind)
    resolve.__annotations__ = {
        "info": strawberry.Info,
        "filter": f"{t}Filter | None",
        "where": JSON | None,
        "order": f"list[{t}Order] | None",
        "sort": str | None,
        "first": int | None,
        "after": str | None,
        "offset": int,
        "include_deleted": bool,
        "only_deleted": bool,
        "include_normal": bool,
        "return": f"{t}Connection",
    }
    resolve.__module__ = __name__
    return resolve


async def _log(root: Rec, info: strawberry.Info) -> list[LogLine]:
    context: Context = info.context
    runtime = context.engine.services.get("runtime")
    if runtime is None:
        raise RuntimeMissingError("the flow runtime is not running in this Engine; execution logs need it")
    lines = await runtime.log(await context.principal(), root.doc["id"])
    return [LogLine(at=x.get("at"), level=x.get("level"), message=x.get("message")) for x in lines]


def _object(kind: Kind) -> Any:
    name = type_name(kind.name)
    own = tuple(s for s in shown_fields(kind.name) if s.field.name not in COMMON)
    annotations, values = _fields(own)
    if kind.name == "execution":
        values["children"] = _children()
        values["log"] = strawberry.field(resolver=_log, description="The execution's log lines.")

    @info_free
    def is_type_of(cls: Any, obj: Any, info: Any) -> bool:
        return isinstance(obj, Rec) and obj.kind == kind.name

    records_of(name, kind.name)

    namespace = {
        "__annotations__": annotations,
        "__module__": __name__,
        "is_type_of": classmethod(is_type_of),
        **values,
    }
    return _register(strawberry.type(type(name, (Record,), namespace), description=kind.description))


def _edge(kind: Kind) -> Any:
    name = type_name(kind.name)
    namespace = {
        "__annotations__": {"node": name, "cursor": str},
        "__module__": __name__,
        "cursor": strawberry.field(description="Pass as after to continue after this record."),
    }
    return _register(strawberry.type(type(f"{name}Edge", (), namespace), description=f"A {kind.name} in a page."))


def _connection(kind: Kind) -> Any:
    name = type_name(kind.name)

    async def total_count(root: Page) -> int:
        return await root.total_count()

    namespace = {
        "__annotations__": {"edges": f"list[{name}Edge]", "nodes": f"list[{name}]", "page_info": PageInfo},
        "__module__": __name__,
        "total_count": strawberry.field(
            resolver=total_count, description="How many records match, over all pages (counted only when asked)."
        ),
    }
    return _register(
        strawberry.type(type(f"{name}Connection", (), namespace), description=f"A page of {kind.name} records.")
    )


OBJECTS = {k: _object(kind) for k, kind in KINDS.items()}
EDGES = {k: _edge(kind) for k, kind in KINDS.items()}
CONNECTIONS = {k: _connection(kind) for k, kind in KINDS.items()}

# The input types connection arguments name, resolvable in this module's namespace.
for _name, _value in vars(_inputs).items():
    if _name.endswith(("Filter", "Order", "Field", "Input")) and _name not in globals():
        globals()[_name] = _value
