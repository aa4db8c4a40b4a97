"""MongoStore: the Store seam over PyMongo's native async API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError
from pymongo.errors import DuplicateKeyError as MongoDuplicateKeyError
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from app.store.base import Change, ChangeHub, Doc, DuplicateKeyError
from app.store.mongo_compile import compile_where, path, pipeline, projection, sort_spec
from app.store.tree import IndexSpec, Node, Query, joins

log = logging.getLogger("engine.store")

# Change stream events -> the ops of store.changes.
_STREAM_OPS = {"insert": "insert", "update": "update", "replace": "update", "delete": "delete"}


class _RoundTrips(CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: CommandStartedEvent) -> None:
        # The change stream's own polling (a database-wide aggregate and its getMores) is not Engine's reads.
        if event.command_name == "getMore" and event.command.get("collection") == "$cmd.aggregate":
            return
        if event.command_name == "aggregate" and event.command.get("aggregate") == 1:
            return
        self.count += 1

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


def _out(doc: dict[str, Any]) -> Doc:
    doc["id"] = doc.pop("_id")
    return doc


def _in(doc: Doc) -> dict[str, Any]:
    out = dict(doc)
    out["_id"] = out.pop("id")
    return out


class MongoStore:
    name = "mongodb"

    def __init__(self, uri: str, database: str = "engine") -> None:
        self._listener = _RoundTrips()
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri, uuidRepresentation="standard", tz_aware=True, event_listeners=[self._listener]
        )
        self.db = self.client[database]
        self.changes = ChangeHub()
        self.streaming = False  # changes come from the server's change stream
        self._follower: asyncio.Task[None] | None = None

    @property
    def round_trips(self) -> int:
        return self._listener.count

    def _c(self, collection: str) -> AsyncCollection[dict[str, Any]]:
        return self.db[collection]

    async def start(self) -> None:
        await self.ping()
        await self._follow()

    async def _follow(self) -> None:
        """Feed ``changes`` from the database's change stream where the server offers one
        (a replica set), so subscribers see the writes of every Engine on this database;
        else from this process's own writes."""
        try:
            stream = await self.db.watch([{"$match": {"operationType": {"$in": list(_STREAM_OPS)}}}])
        except PyMongoError as exc:
            log.info("MongoDB offers no change stream here (%s); subscriptions see this process's writes", exc)
            return
        self.streaming = True
        self._follower = asyncio.create_task(self._relay(stream))

    async def _relay(self, stream: Any) -> None:
        try:
            async with stream:
                async for event in stream:
                    key = event.get("documentKey", {}).get("_id")
                    if key is not None:
                        self.changes.publish(Change(event["ns"]["coll"], _STREAM_OPS[event["operationType"]], str(key)))
        except asyncio.CancelledError:
            raise
        except Exception:
            # Not resumable (PyMongo resumes what is): back to this process's own writes.
            log.exception("the MongoDB change stream ended; subscriptions now see this process's writes only")
        finally:
            self.streaming = False

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
        await self.client.close()

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def ensure_collection(self, collection: str, indexes: Sequence[IndexSpec]) -> None:
        coll = self._c(collection)
        for spec in indexes:
            keys = [(path(f), DESCENDING if desc else ASCENDING) for f, desc in spec.keys]
            options: dict[str, Any] = {"name": spec.name, "unique": spec.unique, **spec.extra}
            if spec.partial:
                options["partialFilterExpression"] = {spec.partial: True}
            await coll.create_index(keys, **options)

    def _publish(self, collection: str, op: str, ids: Sequence[Any]) -> None:
        if self.streaming:
            return  # the change stream reports this write, as it does every other Engine's
        for id_ in ids:
            self.changes.publish(Change(collection, op, str(id_)))

    async def insert(self, collection: str, doc: Doc) -> None:
        try:
            await self._c(collection).insert_one(_in(doc))
        except MongoDuplicateKeyError as exc:
            raise DuplicateKeyError(str(exc)) from None
        self._publish(collection, "insert", [doc["id"]])

    async def insert_many(self, collection: str, docs: Sequence[Doc]) -> None:
        if not docs:
            return
        try:
            await self._c(collection).insert_many([_in(d) for d in docs], ordered=True)
        except BulkWriteError as exc:
            raise DuplicateKeyError(str(exc)) from None
        self._publish(collection, "insert", [d["id"] for d in docs])

    async def find(self, collection: str, query: Query) -> list[Doc]:
        if query.limit == 0:
            return []  # MongoDB reads limit 0 as no limit at all
        coll = self._c(collection)
        if joins(query.where):
            cursor = await coll.aggregate(pipeline(query))
            return [_out(d) async for d in cursor]
        found = coll.find(compile_where(query.where), projection(query.fields))
        found = found.sort(list(sort_spec(query.order).items()))
        if query.offset:
            found = found.skip(query.offset)
        if query.limit is not None:
            found = found.limit(query.limit)
        return [_out(d) async for d in found]

    async def count(self, collection: str, where: Node | None) -> int:
        coll = self._c(collection)
        if joins(where):
            stages = [*pipeline(Query(where=where))[:-2], {"$count": "n"}]
            cursor = await coll.aggregate(stages)
            rows = [d async for d in cursor]
            return int(rows[0]["n"]) if rows else 0
        return await coll.count_documents(compile_where(where))

    @staticmethod
    def _update_doc(set_: Doc | None, unset: Sequence[str]) -> dict[str, Any]:
        update: dict[str, Any] = {}
        if set_:
            update["$set"] = {path(k): v for k, v in set_.items()}
        if unset:
            update["$unset"] = {path(k): "" for k in unset}
        return update

    async def find_one_and_update(
        self,
        collection: str,
        where: Node,
        set_: Doc | None = None,
        unset: Sequence[str] = (),
        order: tuple[tuple[str, bool], ...] = (),
    ) -> Doc | None:
        try:
            doc = await self._c(collection).find_one_and_update(
                compile_where(where),
                self._update_doc(set_, unset),
                sort=list(sort_spec(order).items()),
                return_document=ReturnDocument.AFTER,
            )
        except MongoDuplicateKeyError as exc:
            raise DuplicateKeyError(str(exc)) from None
        if doc is None:
            return None
        self._publish(collection, "update", [doc["_id"]])
        return _out(doc)

    async def update_many(
        self, collection: str, where: Node, set_: Doc | None = None, unset: Sequence[str] = ()
    ) -> int:
        coll = self._c(collection)
        ids = [d["_id"] async for d in coll.find(compile_where(where), {"_id": 1})]
        if not ids:
            return 0
        try:
            result = await coll.update_many({"_id": {"$in": ids}}, self._update_doc(set_, unset))
        except MongoDuplicateKeyError as exc:
            raise DuplicateKeyError(str(exc)) from None
        self._publish(collection, "update", ids)
        return result.modified_count

    async def delete_many(self, collection: str, where: Node) -> int:
        coll = self._c(collection)
        ids = [d["_id"] async for d in coll.find(compile_where(where), {"_id": 1})]
        if not ids:
            return 0
        result = await coll.delete_many({"_id": {"$in": ids}})
        self._publish(collection, "delete", ids)
        return result.deleted_count

    async def explain(self, collection: str, query: Query) -> str:
        found = self._c(collection).find(compile_where(query.where), projection(query.fields))
        found = found.sort(list(sort_spec(query.order).items()))
        if query.limit is not None:
            found = found.limit(query.limit)
        plan = await found.explain()
        return json.dumps(plan.get("queryPlanner", plan), default=str)
