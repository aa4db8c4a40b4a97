"""Records as resolvers see them, and what a listing loads for its nodes ahead.

A ``Rec`` answers its plain fields, its relations and its metadata as attributes, so
strawberry resolves them without a resolver call per field: from what ``prefetch``
loaded for the whole page (one query per relation), or else through the request's
DataLoaders (an awaitable, batched with its siblings).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.types.nodes import SelectedField

from app.records.errors import PermissionDenied
from app.store.base import Doc
from schema.ids import to_global
from schema.names import Shown, camel, doc_keys, shown_fields
from schema.scalars import JSON, DateTime
from schema.selection import record_fields, under

if TYPE_CHECKING:
    from schema.context import Context


@strawberry.type(description="JSON data stored under a key on a record.")
class Metadata:
    key: str
    data: JSON | None
    created_at: DateTime | None
    modified_at: DateTime | None


# Metadata's attributes -> the keys of the metadata documents they come from (``metadata_of``;
# schema.builders reads a page's metadata documents through it without making Metadata objects).
METADATA_KEYS = {"key": "key", "data": "data", "created_at": "created_at", "modified_at": "modified_at"}


def metadata_of(doc: Doc) -> Metadata:
    return Metadata(
        key=doc["key"], data=doc.get("data"), created_at=doc.get("created_at"), modified_at=doc.get("modified_at")
    )


@cache
def relations(kind: str) -> dict[str, Shown]:
    """python name of a relation -> the reference field behind it."""
    return {s.relation: s for s in shown_fields(kind) if s.relation and s.target is not None}


def plain_keys(kind: str) -> dict[str, str]:
    """python name of a plain field -> its document key (relations, id and metadata excepted)."""
    special = {*relations(kind), "id", "metadata"}
    return {s.python: s.field.name for s in shown_fields(kind) if s.python not in special}


_PLAIN_KEYS: dict[str, dict[str, str]] = {}


class Rec:
    """A record: its kind, its document, the request's context, and what a listing
    loaded for it ahead (related records by relation name, its metadata)."""

    __slots__ = ("context", "doc", "kind", "meta", "related")

    def __init__(self, kind: str, doc: Doc, context: Context) -> None:
        self.kind = kind
        self.doc = doc
        self.context = context
        self.related: dict[str, Rec | None] | None = None
        self.meta: list[Doc] | None = None

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not slots: the record's fields.
        keys = _PLAIN_KEYS.get(self.kind)
        if keys is None:
            keys = _PLAIN_KEYS[self.kind] = plain_keys(self.kind)
        key = keys.get(name)
        if key is not None:
            return self.doc.get(key)
        if name.startswith("__"):
            raise AttributeError(name)  # protocols (__await__, ...) are not fields
        if name == "id":
            return to_global(self.kind, self.doc["id"])
        shown = relations(self.kind).get(name)
        if shown is not None:
            return self._related(name, shown)
        if name == "metadata":
            return self._metadata()
        return self.doc.get(doc_keys(self.kind).get(name, name))

    def _related(self, name: str, shown: Shown) -> Any:
        if self.related is not None and name in self.related:
            return self.related[name]
        ref = self.doc.get(shown.field.name)
        if not ref:
            return None
        assert shown.target is not None
        return self._load(shown.target.name, ref)

    async def _load(self, kind: str, ref: str) -> Rec | None:
        doc = await self.context.loaders.record(kind).load(ref)
        return None if doc is None else Rec(kind, doc, self.context)

    async def entries(self) -> list[Doc]:
        """The record's metadata documents, oldest first."""
        if self.meta is None:
            self.meta = await self.context.loaders.metadata().load(self.doc["id"])
        return self.meta

    def _metadata(self) -> Any:
        if self.meta is not None:
            return [metadata_of(m) for m in self.meta]

        async def load() -> list[Metadata]:
            return [metadata_of(m) for m in await self.entries()]

        return load()


async def prefetch(context: Context, kind: str, recs: Sequence[Rec], fields: list[SelectedField]) -> None:
    """Load the relations and metadata a page's nodes select, one query each."""
    if not recs:
        return
    names = {f.name for f in fields}
    principal = await context.principal()
    records = context.engine.records
    wanted = [(n, s) for n, s in relations(kind).items() if camel(n) in names]

    async def related(name: str, shown: Shown) -> dict[str, Doc]:
        assert shown.target is not None
        ids = [r.doc[shown.field.name] for r in recs if r.doc.get(shown.field.name)]
        # Only the fields selected below the relation (all its selections, whatever their alias).
        wanted = record_fields(shown.target.name, under(fields, camel(name)))
        try:
            return await records.get_many(principal, shown.target.name, ids, fields=sorted(wanted))
        except PermissionDenied:
            return {}  # relations the principal may not read show as null

    async def metadata() -> dict[str, list[Doc]] | None:
        if not names & {"metadata", "metadataEntry"}:
            return None
        return await records.metadata_for([r.doc["id"] for r in recs])

    found, meta = await asyncio.gather(asyncio.gather(*(related(n, s) for n, s in wanted)), metadata())
    # One Rec per related document, shared by the records pointing at it.
    targets = [
        (name, shown.field.name, {ref: Rec(shown.target.name, doc, context) for ref, doc in docs.items()})
        for (name, shown), docs in zip(wanted, found, strict=True)
        if shown.target is not None
    ]
    for rec in recs:
        doc = rec.doc
        rec.related = {name: made.get(doc.get(field) or "") for name, field, made in targets}
        if meta is not None:
            rec.meta = meta.get(doc["id"], [])
