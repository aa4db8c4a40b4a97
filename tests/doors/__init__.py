"""Doors: one records contract, many ways in (REST, GraphQL, the Flow-API...).

A door takes plain values (a kind name, a dict of fields, the filter as the JSON
expression users write) and returns plain record dicts with snake_case fields, so
the contract suite in ``tests/contract`` is written once and run through every door.
Errors come back as ``DoorError`` carrying Engine's error code (NOT_FOUND,
CONFLICT, READ_ONLY, INVALID_FILTER, BAD_INPUT, FORBIDDEN, UNAUTHENTICATED, ...).

Adding a door: write ``tests/doors/<name>.py`` that decorates a factory with
``@register("<name>")`` and list the module in ``DOOR_MODULES``. A factory takes the
running Engine and an admin token and returns an async context manager yielding
the door.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from tests.servers import RunningEngine

Record = dict[str, Any]


class DoorError(Exception):
    """An Engine error as a door reports it: its error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Listing:
    items: list[Record]
    total: int | None


class Door(Protocol):
    """What every door offers the contract suite."""

    name: str

    async def create(self, kind: str, fields: Record) -> Record: ...

    async def save(self, kind: str, name: str, fields: Record) -> tuple[Record, bool]:
        """Create or overwrite by name; returns the record and whether it was created."""
        ...

    async def get(
        self,
        kind: str,
        ref: str,
        *,
        by: str = "id",
        fields: Sequence[str] | None = None,
        allow_deleted: bool = False,
    ) -> Record: ...

    async def list(
        self,
        kind: str,
        *,
        filter: Any = None,
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        order: str | None = None,
        allow_normal: bool | None = None,
        allow_deleted: bool | None = None,
    ) -> Listing: ...

    async def update(self, kind: str, ref: str, fields: Record, *, by: str = "id") -> Record: ...

    async def delete(self, kind: str, ref: str, *, by: str = "id", permanently: bool = False) -> Record: ...

    async def restore(self, kind: str, ref: str) -> Record: ...

    async def metadata_list(self, kind: str, record_id: str) -> list[Record]:
        """Entries as {"key", "data", ...}, oldest first."""
        ...

    async def metadata_set(self, kind: str, record_id: str, key: str, data: Any) -> tuple[Record, bool]:
        """Set the data under key; returns the entry and whether it was created."""
        ...

    async def metadata_delete(self, kind: str, record_id: str, key: str) -> None: ...


DoorFactory = Callable[[RunningEngine, str], AbstractAsyncContextManager[Door]]

DOORS: dict[str, DoorFactory] = {}

# Door modules register themselves on import; missing ones are parts not built yet.
DOOR_MODULES = ("tests.doors.rest", "tests.doors.graphql")


def register(name: str) -> Callable[[DoorFactory], DoorFactory]:
    def add(factory: DoorFactory) -> DoorFactory:
        DOORS[name] = factory
        return factory

    return add


def load_doors() -> dict[str, DoorFactory]:
    for module in DOOR_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return DOORS
