"""SqliteStore: the embedded store, one table of JSON documents per collection."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from app.json_codec import dumps_text, loads
from app.store.base import Change, ChangeHub, Doc, DuplicateKeyError
from app.store.sql_compile import Compiler, column, ident, order_by, param, projected, select_list, table
from app.store.tree import IndexSpec, Node, Query


def _row(id_: str, text: str) -> Doc:
    doc: Doc = loads(text)
    if "null" in text:  # a field a projection asked for and the document lacks, or a null in a value
        doc = {k: v for k, v in doc.items() if v is not None}
    doc["id"] = id_
    return doc


def _projected_row(id_: str, text: str, names: list[str]) -> Doc:
    """A row of ``select_list``'s array: the values of ``names``, null where the document has none."""
    doc: Doc = {name: value for name, value in zip(names, loads(text), strict=True) if value is not None}
    doc["id"] = id_
    return doc


def _body(doc: Doc) -> str:
    return dumps_text({k: v for k, v in doc.items() if k != "id" and v is not None})


async def _retry_locked(run: Callable[[], Awaitable[Iterable[Any]]]) -> list[Any]:
    """Run a statement again when another process holds the database past the busy timeout's
    reach (a busy snapshot is reported at once, without waiting); a refused statement changed nothing."""
    for attempt in range(50):
        try:
            return list(await run())
        except aiosqlite.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            await asyncio.sleep(0.002 * (attempt + 1))
    raise AssertionError("unreachable")


# Reads run first on the event loop's own thread, on a read-only connection: a short read
# costs no trip to aiosqlite's thread and back (about 0.1 ms each). A read still running
# after READ_BUDGET seconds, or one that would have to wait for a lock, is interrupted and
# runs again on the connection's thread, so a long scan holds up the other requests no
# longer than that.
READ_BUDGET = 0.002
_STEPS = 100  # SQLite virtual-machine steps between two looks at the clock


class SqliteStore:
    name = "sqlite"

    def __init__(self, path: Path | str, read_budget: float | None = READ_BUDGET) -> None:
        self.path = str(path)
        self.changes = ChangeHub()
        self.read_budget = read_budget
        self.reads_moved = 0  # reads that went over the budget and ran on the connection's thread
        self._round_trips = 0
        self._db: aiosqlite.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._deadline = 0.0
        self._tables: set[str] = set()
        # One connection serves every coroutine; a bulk insert's transaction must not
        # take in (or roll back) other coroutines' writes, so it holds this lock and
        # single writes wait for it.
        self._bulk = asyncio.Lock()

    @property
    def round_trips(self) -> int:
        return self._round_trips

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("SqliteStore is not started")
        return self._db

    async def start(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA busy_timeout=10000")
        if self.path != ":memory:" and self.read_budget is not None:
            # Used only from the event loop's thread, one statement at a time.
            reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            reader.execute("PRAGMA query_only=1")
            reader.execute("PRAGMA busy_timeout=0")  # never wait on the loop: the thread waits instead
            reader.set_progress_handler(self._over_budget, _STEPS)
            self._reader = reader

    def _over_budget(self) -> bool:
        return time.perf_counter() > self._deadline

    async def trace(self, callback: Callable[[str], object] | None) -> None:
        """Hand every SQL statement Engine runs to ``callback`` (None: stop)."""
        if self._reader is not None:
            self._reader.set_trace_callback(callback)
        await self.db.set_trace_callback(callback)  # type: ignore[arg-type]  # None stops it, as in sqlite3

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def ping(self) -> None:
        await self._fetch("SELECT 1", [])

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self._round_trips += 1
        reader = self._reader
        if reader is not None and self.read_budget is not None:
            self._deadline = time.perf_counter() + self.read_budget
            try:
                return reader.execute(sql, params).fetchall()
            except sqlite3.OperationalError:
                # Over the budget ("interrupted"), or a lock to wait for: the thread runs it again,
                # and reports it if it is wrong.
                self.reads_moved += 1
        # execute_fetchall runs the statement to its end in one step: a statement left open
        # between steps would keep a read transaction that another coroutine's write then
        # cannot upgrade once another process has written ("database is locked" at once).
        return await _retry_locked(lambda: self.db.execute_fetchall(sql, params))

    async def _write(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self._round_trips += 1
        async with self._bulk:
            try:
                return await _retry_locked(lambda: self.db.execute_fetchall(sql, params))
            except aiosqlite.IntegrityError as exc:
                raise DuplicateKeyError(str(exc)) from None

    async def ensure_collection(self, collection: str, indexes: Sequence[IndexSpec]) -> None:
        t = table(collection)
        await self.db.execute(f"CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        for spec in indexes:
            cols = ", ".join(
                f"{'id' if f == 'id' else column(f).replace('t.doc', 'doc')} {'DESC' if d else 'ASC'}"
                for f, d in spec.keys
            )
            unique = "UNIQUE " if spec.unique else ""
            where = f" WHERE json_extract(doc, '$.{ident(spec.partial)}') = 1" if spec.partial else ""
            name = ident(f"{collection}_{spec.name}")
            await self.db.execute(f"CREATE {unique}INDEX IF NOT EXISTS {name} ON {t} ({cols}){where}")
        self._tables.add(collection)

    async def _ensure_table(self, collection: str) -> None:
        if collection not in self._tables:
            await self.ensure_collection(collection, ())

    def _publish(self, collection: str, op: str, ids: Sequence[str]) -> None:
        for id_ in ids:
            self.changes.publish(Change(collection, op, id_))

    async def insert(self, collection: str, doc: Doc) -> None:
        await self._ensure_table(collection)
        await self._write(f"INSERT INTO {table(collection)} (id, doc) VALUES (?, ?)", [doc["id"], _body(doc)])
        self._publish(collection, "insert", [doc["id"]])

    async def insert_many(self, collection: str, docs: Sequence[Doc]) -> None:
        if not docs:
            return
        await self._ensure_table(collection)
        self._round_trips += 1
        async with self._bulk:
            try:
                await self.db.execute("BEGIN IMMEDIATE")
                await self.db.executemany(
                    f"INSERT INTO {table(collection)} (id, doc) VALUES (?, ?)", [(d["id"], _body(d)) for d in docs]
                )
                await self.db.execute("COMMIT")
            except aiosqlite.IntegrityError as exc:
                await self.db.execute("ROLLBACK")
                raise DuplicateKeyError(str(exc)) from None
        self._publish(collection, "insert", [d["id"] for d in docs])

    def _select(self, collection: str, query: Query) -> tuple[str, list[Any]]:
        c = Compiler()
        sql = (
            f"SELECT t.id, {select_list(query.fields)} FROM {table(collection)} AS t "
            f"WHERE {c.where(query.where)} ORDER BY {order_by(query.order)}"
        )
        if query.limit is not None or query.offset:
            sql += f" LIMIT {int(query.limit) if query.limit is not None else -1} OFFSET {int(query.offset)}"
        return sql, c.params

    async def find(self, collection: str, query: Query) -> list[Doc]:
        await self._ensure_table(collection)
        sql, params = self._select(collection, query)
        rows = await self._fetch(sql, params)
        names = projected(query.fields)
        if names is None:
            return [_row(id_, text) for id_, text in rows]
        return [_projected_row(id_, text, names) for id_, text in rows]

    async def count(self, collection: str, where: Node | None) -> int:
        await self._ensure_table(collection)
        c = Compiler()
        rows = await self._fetch(f"SELECT count(*) FROM {table(collection)} AS t WHERE {c.where(where)}", c.params)
        return int(rows[0][0])

    @staticmethod
    def _set_expr(set_: Doc | None, unset: Sequence[str], params: list[Any]) -> str:
        expr = "doc"
        if unset:
            expr = f"json_remove({expr}, " + ", ".join(f"'$.{ident(k)}'" for k in unset) + ")"
        values = {k: v for k, v in (set_ or {}).items() if v is not None}
        if values:
            parts = []
            for k, v in values.items():
                parts.append(f"'$.{ident(k)}', json(?)")
                params.append(json.dumps(v))
            expr = f"json_set({expr}, " + ", ".join(parts) + ")"
        return expr

    async def find_one_and_update(
        self,
        collection: str,
        where: Node,
        set_: Doc | None = None,
        unset: Sequence[str] = (),
        order: tuple[tuple[str, bool], ...] = (),
    ) -> Doc | None:
        await self._ensure_table(collection)
        params: list[Any] = []
        expr = self._set_expr(set_, unset, params)
        c = Compiler()
        inner = f"SELECT t.id FROM {table(collection)} AS t WHERE {c.where(where)} ORDER BY {order_by(order)} LIMIT 1"
        sql = f"UPDATE {table(collection)} SET doc = {expr} WHERE id = ({inner}) RETURNING id, doc"
        rows = await self._write(sql, params + c.params)
        if not rows:
            return None
        self._publish(collection, "update", [rows[0][0]])
        return _row(rows[0][0], rows[0][1])

    async def update_many(
        self, collection: str, where: Node, set_: Doc | None = None, unset: Sequence[str] = ()
    ) -> int:
        await self._ensure_table(collection)
        params: list[Any] = []
        expr = self._set_expr(set_, unset, params)
        c = Compiler()
        sql = f"UPDATE {table(collection)} AS t SET doc = {expr} WHERE {c.where(where)} RETURNING id"
        ids = [r[0] for r in await self._write(sql, params + c.params)]
        self._publish(collection, "update", ids)
        return len(ids)

    async def delete_many(self, collection: str, where: Node) -> int:
        await self._ensure_table(collection)
        c = Compiler()
        sql = f"DELETE FROM {table(collection)} AS t WHERE {c.where(where)} RETURNING id"
        ids = [r[0] for r in await self._write(sql, c.params)]
        self._publish(collection, "delete", ids)
        return len(ids)

    async def explain(self, collection: str, query: Query) -> str:
        await self._ensure_table(collection)
        sql, params = self._select(collection, query)
        rows = await self._fetch(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(r[-1]) for r in rows)


__all__ = ["SqliteStore", "param"]
