"""MongoStore: the Store seam over PyMongo's native async API."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError
from pymongo.errors import DuplicateKeyError as MongoDuplicateKeyError
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from app.store.base import Change, ChangeHub, Doc, DuplicateKeyError
from app.store.mongo_compile import compile_where, path, pipeline, projection, sort_spec
from app.store.tree import IndexSpec, Node, Query, joins


class _RoundTrips(CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: CommandStartedEvent) -> None:
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

    @property
    def round_trips(self) -> int:
        return self._listener.count

    def _c(self, collection: str) -> AsyncCollection[dict[str, Any]]:
        return self.db[collection]

    async def start(self) -> None:
        await self.ping()

    async def close(self) -> None:
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
