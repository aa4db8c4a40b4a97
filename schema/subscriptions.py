"""The Subscription type, over graphql-transport-ws, fed by the store's change notifications.

Subscriptions follow ``store.changes``. On a MongoDB that offers change streams (a
replica set, as docker-compose.yml runs it) the store feeds it from the database's change
stream, so a subscriber sees the writes of every Engine on that database; elsewhere (the
embedded store, a standalone MongoDB, mongoeco) from the writes of the Engine process the
subscriber is connected to.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import strawberry

from app.records.errors import PermissionDenied, ResourceNotFoundError
from app.records.kinds import KINDS
from app.records.permissions import read_scope
from schema.context import Context
from schema.ids import record_id, to_global
from schema.names import generic
from schema.objects import OBJECTS, Record
from schema.records import Rec

ENDED = ("ENDED_SUCCESS", "ENDED_ERROR", "ENDED_CANCELLED")

if TYPE_CHECKING:
    RecordKind = enum.Enum
else:
    RecordKind = strawberry.enum(
        enum.Enum("RecordKind", {k.upper(): k for k in KINDS}), description="The kinds of records."
    )


@strawberry.enum(description="What happened to a record.")
class ChangeOp(enum.Enum):
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


@strawberry.type(description="A record was written.")
class RecordChange:
    op: ChangeOp
    kind: RecordKind
    id: strawberry.ID = strawberry.field(description="The record's global id.")
    uuid: strawberry.ID
    record: Record | None = strawberry.field(description="The record as it is now; null once deleted for good.")


async def _record_changed(
    info: strawberry.Info,
    kind: RecordKind | None = None,
    id: strawberry.ID | None = None,
) -> AsyncGenerator[RecordChange]:
    context: Context = info.context
    principal = await context.principal()
    records = context.engine.records
    wanted_kind = kind.value if kind is not None else None
    wanted_id = None
    if id is not None:
        if wanted_kind is None:
            from schema.ids import from_global

            wanted_kind, wanted_id = from_global(id)
        else:
            wanted_id = record_id(wanted_kind, id)
    async with context.engine.store.changes.subscribe() as queue:
        while True:
            change = await queue.get()
            if change.collection not in KINDS or (wanted_kind and change.collection != wanted_kind):
                continue
            if wanted_id and change.id != wanted_id:
                continue
            principal = await context.recheck()
            try:
                read_scope(principal, change.collection)
                doc = None
                if change.op != "delete":
                    doc = await records.get(principal, change.collection, change.id, allow_deleted=True)
            except PermissionDenied:
                continue
            except ResourceNotFoundError:
                doc = None
            yield RecordChange(
                op=ChangeOp(change.op),
                kind=RecordKind(change.collection),
                id=strawberry.ID(to_global(change.collection, change.id)),
                uuid=strawberry.ID(change.id),
                record=None if doc is None else Rec(change.collection, doc, context),
            )


async def _execution_updated(info: strawberry.Info, id: strawberry.ID) -> AsyncGenerator[Any]:
    context: Context = info.context
    principal = await context.principal()
    records = context.engine.records
    uuid = record_id("execution", id)
    async with context.engine.store.changes.subscribe() as queue:
        # The state now first, so a subscriber never misses the end of a short run.
        doc = await records.get(principal, "execution", uuid, allow_deleted=True)
        yield Rec("execution", doc, context)
        while doc.get("status") not in ENDED:
            change = await queue.get()
            if change.collection != "execution" or change.id != uuid:
                continue
            principal = await context.recheck()
            try:
                doc = await records.get(principal, "execution", uuid, allow_deleted=True)
            except ResourceNotFoundError:
                return
            yield Rec("execution", doc, context)


# Generated types are values to mypy; strawberry reads the annotation at schema build.
_execution_updated.__annotations__["return"] = generic(AsyncGenerator, OBJECTS["execution"], None)


def subscription_type() -> Any:
    namespace: dict[str, Any] = {
        "__module__": "schema.objects",
        "record_changed": strawberry.subscription(
            resolver=_record_changed,
            description="Writes to records, optionally of one kind or one record (id: global id, or uuid with kind).",
        ),
        "execution_updated": strawberry.subscription(
            resolver=_execution_updated,
            description="An execution (uuid or global id) now, then after each change, until it ends.",
        ),
    }
    return strawberry.type(type("Subscription", (), namespace), description="Following changes.")
