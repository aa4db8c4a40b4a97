"""The Store seam: what the records service needs from a document store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from app.store.tree import IndexSpec, Node, Query

Doc = dict[str, Any]


class StoreError(Exception):
    """Base of the errors a store raises."""


class DuplicateKeyError(StoreError):
    """An insert or update would break a unique index."""


@dataclass(frozen=True)
class Change:
    collection: str
    op: str  # "insert" | "update" | "delete"
    id: str


class ChangeHub:
    """In-process fan-out of the changes a store makes (its own change notifications)."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Change]] = set()
        self._listeners: list[Callable[[Change], None]] = []

    def listen(self, callback: Callable[[Change], None]) -> None:
        """Call ``callback`` with every change, synchronously as it is published (keep it cheap)."""
        self._listeners.append(callback)

    def publish(self, change: Change) -> None:
        for listener in self._listeners:
            listener(change)
        for queue in self._queues:
            if queue.qsize() < 10_000:  # a stalled subscriber must not grow memory forever
                queue.put_nowait(change)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change]]:
        queue: asyncio.Queue[Change] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)


class Store(Protocol):
    """Collections of JSON documents keyed by a string ``id``.

    Documents never hold ``None`` at the top level: absent and null are one state.
    """

    name: str  # "sqlite" | "mongodb"
    changes: ChangeHub

    @property
    def round_trips(self) -> int:
        """Database round trips so far (for tests and benchmarks)."""
        ...

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    async def ensure_collection(self, collection: str, indexes: Sequence[IndexSpec]) -> None: ...
    async def insert(self, collection: str, doc: Doc) -> None: ...
    async def insert_many(self, collection: str, docs: Sequence[Doc]) -> None: ...
    async def find(self, collection: str, query: Query) -> list[Doc]: ...
    async def count(self, collection: str, where: Node | None) -> int: ...
    async def find_one_and_update(
        self,
        collection: str,
        where: Node,
        set_: Doc | None = None,
        unset: Sequence[str] = (),
        order: tuple[tuple[str, bool], ...] = (),
    ) -> Doc | None:
        """Update the first match atomically and return it as it is after the update."""
        ...

    async def update_many(
        self, collection: str, where: Node, set_: Doc | None = None, unset: Sequence[str] = ()
    ) -> int: ...
    async def delete_many(self, collection: str, where: Node) -> int: ...
    async def explain(self, collection: str, query: Query) -> str:
        """The store's query plan for ``query``, as text (for index checks)."""
        ...
