"""The records service: every door (REST, GraphQL, Flow-API, UI) goes through here.

It takes the acting principal and plain values, returns plain values, and raises
the domain errors of ``app.records.errors``. It speaks in filter trees; the store
compiles them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.records.errors import (
    ConflictError,
    InvalidInputError,
    MalformedRequestError,
    ResourceNotFoundError,
    ResourceReadOnlyError,
)
from app.records.filters import parse_fields, parse_filter, parse_order
from app.records.kinds import ALIVE, KINDS, FieldType, Kind, get_kind
from app.records.permissions import SYSTEM, Operation, Principal, authorize, read_scope
from app.records.values import check_text, coerce, format_time, new_id, now
from app.store.base import Doc, DuplicateKeyError, Store
from app.store.tree import And, Compare, IndexSpec, Node, Not, Op, Query

MAX_LIMIT = 1000
MAX_OFFSET = 2**53  # stores take 64-bit skips; far beyond any real listing
METADATA = "metadata"
MAX_KEY_LENGTH = 256
_SAVE_ATTEMPTS = 20

LIVE: Node = Compare(ALIVE, Op.EQ, True)
TRASHED: Node = Compare(ALIVE, Op.UNSET)


@dataclass(frozen=True)
class Page:
    items: list[Doc]
    total: int | None


PasswordHasher = Callable[[str], Awaitable[str]]


def _and(*nodes: Node | None) -> Node:
    items = tuple(n for n in nodes if n is not None)
    return items[0] if len(items) == 1 else And(items)


def _oldest_first(entry: Doc) -> tuple[bool, str, str]:
    """The stores' order by created_at then id (missing first), for entries sorted in Python."""
    at = entry.get("created_at")
    return at is not None, at if isinstance(at, str) else "" if at is None else repr(at), entry["id"]


def render(kind: Kind, doc: Doc, fields: Iterable[str] | None = None) -> Doc:
    """The record as users see it: declared, visible fields only."""
    return render_all(kind, [doc], fields)[0]


def render_all(kind: Kind, docs: Sequence[Doc], fields: Iterable[str] | None = None) -> list[Doc]:
    """``render`` for many documents, the fields to show worked out once."""
    wanted = set(fields) if fields is not None else None
    shown = [n for n, f in kind.fields.items() if not f.hidden and (wanted is None or n in wanted)]
    return [{n: doc[n] for n in shown if n in doc} for doc in docs]


def kind_indexes(kind: Kind) -> list[IndexSpec]:
    specs = [
        IndexSpec("name_live", (("name", False),), unique=not kind.activity, partial=ALIVE),
        IndexSpec("name", (("name", False), ("created_at", True))),
        IndexSpec("created_at_live", (("created_at", False),), partial=ALIVE),
        IndexSpec("modified_at", (("modified_at", False),)),
        IndexSpec("deleted_at", (("deleted_at", False),)),
    ]
    for field in kind.fields.values():
        if field.ref and field.name not in ("created_by", "modified_by", "deleted_by"):
            specs.append(IndexSpec(field.name, ((field.name, False),)))
    return specs


class Records:
    def __init__(
        self,
        store: Store,
        *,
        hash_password: PasswordHasher | None = None,
        trash_retention: timedelta = timedelta(days=30),
    ) -> None:
        self.store = store
        self.hash_password = hash_password
        self.trash_retention = trash_retention

    async def setup(self) -> None:
        """Create collections and indexes; idempotent, run at every start."""
        for kind in KINDS.values():
            await self.store.ensure_collection(kind.collection, kind_indexes(kind))
        await self.store.ensure_collection(
            METADATA,
            [
                IndexSpec("record_key", (("record_id", False), ("key", False)), unique=True),
            ],
        )

    # -- reading -------------------------------------------------------------

    def _ref_node(self, kind: Kind, ref: str, by: str) -> Node:
        if by == "id":
            try:
                return Compare("id", Op.EQ, coerce(kind.fields["id"], ref))
            except InvalidInputError:
                raise ResourceNotFoundError(f"no {kind.name} with id {ref!r}") from None
        if by == "name":
            return Compare("name", Op.EQ, ref.strip())
        raise MalformedRequestError(f"by must be 'id' or 'name', not {by!r}")

    async def _find_doc(
        self,
        kind: Kind,
        ref: str,
        by: str = "id",
        *,
        allow_deleted: bool = False,
        fields: tuple[str, ...] | None = None,
    ) -> Doc:
        where = self._ref_node(kind, ref, by)
        store_fields = None if fields is None else tuple({*fields, "project_id", ALIVE})
        # Live records first: by name, a live one shadows any in the trash.
        docs = await self.store.find(
            kind.collection, Query(_and(where, LIVE), store_fields, (("created_at", True),), 0, 1)
        )
        if not docs and allow_deleted:
            docs = await self.store.find(
                kind.collection, Query(_and(where, TRASHED), store_fields, (("deleted_at", True),), 0, 1)
            )
        if not docs:
            raise ResourceNotFoundError(f"no {kind.name} with {by} {ref!r}")
        return docs[0]

    async def get(
        self,
        principal: Principal,
        kind_name: str,
        ref: str,
        *,
        by: str = "id",
        fields: str | Sequence[str] | None = None,
        allow_deleted: bool = False,
    ) -> Doc:
        kind = get_kind(kind_name)
        wanted = parse_fields(kind, fields)
        doc = await self._find_doc(kind, ref, by, allow_deleted=allow_deleted, fields=wanted)
        authorize(principal, kind.name, Operation.READ, doc)
        return render(kind, doc, wanted)

    async def list_records(
        self,
        principal: Principal,
        kind_name: str,
        *,
        filter: Any = None,
        where: Node | None = None,
        fields: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        order: str | None = None,
        allow_normal: bool = True,
        allow_deleted: bool = False,
        count: bool = True,
    ) -> Page:
        """Records of one kind; ``filter`` is the user's expression, ``where`` a tree
        built by Engine itself (GraphQL's typed inputs)."""
        kind = get_kind(kind_name)
        limit = MAX_LIMIT if limit is None else limit
        if not 0 <= limit <= MAX_LIMIT:
            raise MalformedRequestError(f"limit must be between 0 and {MAX_LIMIT}, not {limit}; page with offset")
        if not 0 <= offset <= MAX_OFFSET:
            raise MalformedRequestError(f"offset must be between 0 and {MAX_OFFSET}, not {offset}")
        node = self._list_where(principal, kind, filter, where, allow_normal, allow_deleted)
        wanted = parse_fields(kind, fields)
        sort = parse_order(kind, order) or (("created_at", False),)
        docs = await self.store.find(kind.collection, Query(node, wanted, sort, offset, limit))
        total = await self.store.count(kind.collection, node) if count else None
        return Page(render_all(kind, docs, wanted), total)

    def _list_where(
        self, principal: Principal, kind: Kind, filter: Any, where: Node | None, allow_normal: bool, allow_deleted: bool
    ) -> Node:
        parsed = parse_filter(kind, filter) if filter not in (None, "", {}) else None
        if allow_normal and allow_deleted:
            state: Node | None = None
        elif allow_normal:
            state = LIVE
        elif allow_deleted:
            state = TRASHED
        else:
            state = Compare("id", Op.IN, ())
        return _and(state, read_scope(principal, kind.name), parsed, where)

    async def find_where(
        self,
        principal: Principal,
        kind_name: str,
        where: Node | None,
        *,
        fields: Sequence[str] | None = None,
        order: tuple[tuple[str, bool], ...] = (),
        limit: int | None = MAX_LIMIT,
        offset: int = 0,
        allow_deleted: bool = False,
    ) -> list[Doc]:
        """Records matching a tree Engine built (for batching loaders and the runtime)."""
        kind = get_kind(kind_name)
        node = _and(None if allow_deleted else LIVE, read_scope(principal, kind.name), where)
        wanted = parse_fields(kind, fields)
        docs = await self.store.find(
            kind.collection, Query(node, wanted, order or (("created_at", False),), offset, limit)
        )
        return render_all(kind, docs, wanted)

    async def count_where(
        self, principal: Principal, kind_name: str, where: Node | None, allow_deleted: bool = False
    ) -> int:
        kind = get_kind(kind_name)
        node = _and(None if allow_deleted else LIVE, read_scope(principal, kind.name), where)
        return await self.store.count(kind.collection, node)

    async def get_many(
        self, principal: Principal, kind_name: str, ids: Sequence[str], *, fields: Sequence[str] | None = None
    ) -> dict[str, Doc]:
        """Records by id, in one query; ids that are missing or unreadable are left out."""
        unique = tuple(dict.fromkeys(i for i in ids if i))
        if not unique:
            return {}
        docs = await self.find_where(
            principal, kind_name, Compare("id", Op.IN, unique), fields=fields, limit=None, allow_deleted=True
        )
        return {d["id"]: d for d in docs}

    # -- writing -------------------------------------------------------------

    async def _prepare(
        self, kind: Kind, fields: Mapping[str, Any], *, creating: bool, system: bool = False
    ) -> tuple[Doc, list[str]]:
        if not isinstance(fields, Mapping):
            raise InvalidInputError(f"a {kind.name} must be a JSON object of fields")
        values: Doc = {}
        unset: list[str] = []
        for name, value in fields.items():
            if not isinstance(name, str) or name.startswith("$"):
                raise InvalidInputError(f"field names starting with '$' are not allowed ({name!r})")
            if kind.name == "user" and name == "password":
                if value is None:
                    continue
                if not isinstance(value, str) or len(value) < 8:
                    raise InvalidInputError("password must be a string of at least 8 characters")
                if self.hash_password is None:
                    raise InvalidInputError("passwords cannot be set here")
                values["password_hash"] = await self.hash_password(value)
                continue
            field = kind.fields.get(name)
            if field is None or (field.hidden and not system):
                known = ", ".join(f.name for f in kind.visible() if f.writable)
                raise InvalidInputError(f"{kind.name} has no field {name!r}; writable fields: {known}")
            if not field.writable and not system:
                if name == "id" and creating:
                    pass
                elif name in ("id",):
                    continue  # echoing a record's own id back is harmless
                else:
                    raise InvalidInputError(f"field {name!r} is set by Engine and cannot be written")
            if value is None:
                if name == "name":
                    raise InvalidInputError("name cannot be removed")
                unset.append(name)
                continue
            values[name] = coerce(field, value)
        if "name" in values:
            values["name"] = values["name"].strip()
            if not values["name"] and not kind.activity:
                raise InvalidInputError(f"a {kind.name} needs a non-blank name")
            if len(values["name"]) > 1024:
                raise InvalidInputError("name is longer than 1024 characters")
        if kind.name == "file":
            if "content" in values:
                import base64

                values["content_size_bytes"] = len(base64.b64decode(values["content"]))
            elif "content" in unset:
                unset.append("content_size_bytes")
        return values, unset

    def _stamp(self, principal: Principal) -> Doc:
        stamp: Doc = {"modified_at": now()}
        if principal.user_id:
            stamp["modified_by"] = principal.user_id
        return stamp

    async def create(
        self, principal: Principal, kind_name: str, fields: Mapping[str, Any], *, system: bool = False
    ) -> Doc:
        kind = get_kind(kind_name)
        values, _ = await self._prepare(kind, fields, creating=True, system=system)
        authorize(principal, kind.name, Operation.CREATE, values)
        if "name" not in values:
            if not kind.activity:
                raise InvalidInputError(f"a {kind.name} needs a name")
            values["name"] = kind.name
        try:
            doc = await self._insert_raw(principal, kind, values)
        except DuplicateKeyError:
            raise ConflictError(f"a {kind.name} named {values['name']!r} exists already") from None
        return render(kind, doc)

    async def save(
        self, principal: Principal, kind_name: str, name: str, fields: Mapping[str, Any], *, system: bool = False
    ) -> tuple[Doc, bool]:
        """Create the record of this kind and name, or overwrite the given fields of
        the live one. Returns the record and whether it was created."""
        kind = get_kind(kind_name)
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"a {kind.name} needs a non-blank name")
        values, unset = await self._prepare(kind, {**fields, "name": name}, creating=False, system=system)
        name = values["name"]
        for _ in range(_SAVE_ATTEMPTS):
            docs = await self.store.find(
                kind.collection, Query(_and(Compare("name", Op.EQ, name), LIVE), None, (("created_at", True),), 0, 1)
            )
            if docs:
                doc = docs[0]
                if doc.get("is_readonly"):
                    raise ResourceReadOnlyError(f"{kind.name} {name!r} is read-only")
                authorize(principal, kind.name, Operation.UPDATE, doc)
                if "project_id" in values:
                    authorize(principal, kind.name, Operation.UPDATE, values)
                updated = await self._write(kind, doc["id"], values, unset, principal, writable_only=True)
                if updated is not None:
                    return render(kind, updated), False
                continue  # it went to the trash or turned read-only meanwhile: look again
            authorize(principal, kind.name, Operation.CREATE, values)
            try:
                created = await self._insert_raw(principal, kind, dict(values))
            except DuplicateKeyError:
                await asyncio.sleep(0)
                continue  # someone else created it first: overwrite theirs
            return render(kind, created), True
        raise ConflictError(f"{kind.name} {name!r} is being changed by others; try again")

    async def _insert_raw(self, principal: Principal, kind: Kind, values: Doc) -> Doc:
        stamp = self._stamp(principal)
        doc: Doc = {
            "id": values.pop("id", None) or new_id(),
            **values,
            "created_at": stamp["modified_at"],
            **stamp,
            ALIVE: True,
        }
        if principal.user_id:
            doc["created_by"] = principal.user_id
        await self.store.insert(kind.collection, doc)
        return doc

    async def _write(
        self, kind: Kind, id_: str, values: Doc, unset: Sequence[str], principal: Principal, *, writable_only: bool
    ) -> Doc | None:
        conditions: list[Node] = [Compare("id", Op.EQ, id_), LIVE]
        if writable_only and "is_readonly" in kind.fields:
            conditions.append(Compare("is_readonly", Op.NEQ, True))
        try:
            return await self.store.find_one_and_update(
                kind.collection, And(tuple(conditions)), {**values, **self._stamp(principal)}, unset
            )
        except DuplicateKeyError:
            raise ConflictError(f"a {kind.name} named {values.get('name')!r} exists already") from None

    async def update(
        self,
        principal: Principal,
        kind_name: str,
        ref: str,
        patch: Mapping[str, Any],
        *,
        by: str = "id",
        system: bool = False,
    ) -> Doc:
        kind = get_kind(kind_name)
        values, unset = await self._prepare(kind, patch, creating=False, system=system)
        doc = await self._find_doc(kind, ref, by, allow_deleted=True)
        if ALIVE not in doc:
            raise ResourceReadOnlyError(f"{kind.name} {ref!r} is in the trash; restore it to change it")
        only_flag = set(values) | set(unset) <= {"is_readonly"}
        if doc.get("is_readonly") and not only_flag:
            raise ResourceReadOnlyError(f"{kind.name} {doc.get('name')!r} is read-only; clear is_readonly first")
        authorize(principal, kind.name, Operation.UPDATE, doc)
        if "project_id" in values:
            authorize(principal, kind.name, Operation.UPDATE, values)
        updated = await self._write(kind, doc["id"], values, unset, principal, writable_only=not only_flag)
        if updated is None:
            raise ConflictError(f"{kind.name} {ref!r} changed meanwhile (trashed or made read-only)")
        return render(kind, updated)

    async def delete(
        self, principal: Principal, kind_name: str, ref: str, *, by: str = "id", permanently: bool = False
    ) -> Doc:
        kind = get_kind(kind_name)
        doc = await self._find_doc(kind, ref, by, allow_deleted=True)
        authorize(principal, kind.name, Operation.DELETE, doc)
        live = ALIVE in doc
        if live and doc.get("is_readonly"):
            raise ResourceReadOnlyError(f"{kind.name} {doc.get('name')!r} is read-only; clear is_readonly first")
        if permanently:
            await self._purge(kind, [doc["id"]])
            return render(kind, doc)
        if not live:
            raise ConflictError(f"{kind.name} {ref!r} is in the trash already; delete it permanently or restore it")
        stamp = {"deleted_at": now(), **({"deleted_by": principal.user_id} if principal.user_id else {})}
        updated = await self.store.find_one_and_update(
            kind.collection, And((Compare("id", Op.EQ, doc["id"]), LIVE)), stamp, [ALIVE]
        )
        if updated is None:
            raise ConflictError(f"{kind.name} {ref!r} was moved to the trash meanwhile")
        return render(kind, updated)

    async def restore(self, principal: Principal, kind_name: str, ref: str, *, by: str = "id") -> Doc:
        kind = get_kind(kind_name)
        doc = await self._find_doc(kind, ref, by, allow_deleted=True)
        authorize(principal, kind.name, Operation.DELETE, doc)
        if ALIVE in doc:
            raise ConflictError(f"{kind.name} {ref!r} is not in the trash")
        try:
            restored = await self.store.find_one_and_update(
                kind.collection,
                And((Compare("id", Op.EQ, doc["id"]), TRASHED)),
                {ALIVE: True, **self._stamp(principal)},
                ["deleted_at", "deleted_by"],
            )
        except DuplicateKeyError:
            raise ConflictError(
                f"cannot restore {kind.name} {doc.get('name')!r}: a live {kind.name} has that name now; "
                "rename or delete it first"
            ) from None
        if restored is None:
            raise ConflictError(f"{kind.name} {ref!r} was restored meanwhile")
        return render(kind, restored)

    async def _purge(self, kind: Kind, ids: Sequence[str]) -> None:
        await self.store.delete_many(kind.collection, Compare("id", Op.IN, tuple(ids)))
        await self.store.delete_many(METADATA, Compare("record_id", Op.IN, tuple(ids)))

    async def purge_trash(self, older_than: timedelta | None = None) -> int:
        """Delete for good what has been in the trash longer than the retention."""
        cutoff = format_time(datetime.now(UTC) - (older_than if older_than is not None else self.trash_retention))
        purged = 0
        for kind in KINDS.values():
            old = await self.store.find(
                kind.collection, Query(And((TRASHED, Compare("deleted_at", Op.LT, cutoff))), ("id",), (), 0, 1000)
            )
            while old:
                await self._purge(kind, [d["id"] for d in old])
                purged += len(old)
                old = await self.store.find(
                    kind.collection, Query(And((TRASHED, Compare("deleted_at", Op.LT, cutoff))), ("id",), (), 0, 1000)
                )
        return purged

    # -- metadata ------------------------------------------------------------

    async def _record_for_metadata(self, principal: Principal, kind_name: str, record_id: str, op: Operation) -> Doc:
        kind = get_kind(kind_name)
        doc = await self._find_doc(kind, record_id, "id", allow_deleted=True)
        authorize(principal, kind.name, op, doc)
        if op is not Operation.READ and ALIVE not in doc:
            raise ResourceReadOnlyError(f"{kind.name} {record_id!r} is in the trash; restore it to change its metadata")
        return doc

    @staticmethod
    def _check_key(key: Any) -> str:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidInputError(f"a metadata key must be a string of 1 to {MAX_KEY_LENGTH} characters")
        if key.startswith("$"):
            raise InvalidInputError(f"metadata keys starting with '$' are not allowed ({key!r})")
        return check_text(key, "the metadata key")

    @staticmethod
    def _render_metadata(doc: Doc) -> Doc:
        return {k: doc.get(k) for k in ("key", "data", "record_id", "created_at", "modified_at")}

    async def metadata_list(self, principal: Principal, kind_name: str, record_id: str) -> list[Doc]:
        doc = await self._record_for_metadata(principal, kind_name, record_id, Operation.READ)
        found = await self.store.find(
            METADATA, Query(Compare("record_id", Op.EQ, doc["id"]), None, (("created_at", False),))
        )
        return [self._render_metadata(m) for m in found]

    async def metadata_for(self, record_ids: Sequence[str]) -> dict[str, list[Doc]]:
        """Metadata of many records in one query; callers have read the records."""
        unique = tuple(dict.fromkeys(record_ids))
        out: dict[str, list[Doc]] = {i: [] for i in unique}
        if not unique:
            return out
        # Sorted here, not by the store: ordering the whole set by created_at cost SQLite more than
        # the query itself (a JSON extraction per entry and a sort), and each record has only a few.
        found = await self.store.find(METADATA, Query(Compare("record_id", Op.IN, unique)))
        found.sort(key=_oldest_first)
        for m in found:
            out.setdefault(m["record_id"], []).append(self._render_metadata(m))
        return out

    async def metadata_get(self, principal: Principal, kind_name: str, record_id: str, key: str) -> Doc:
        doc = await self._record_for_metadata(principal, kind_name, record_id, Operation.READ)
        found = await self.store.find(
            METADATA, Query(And((Compare("record_id", Op.EQ, doc["id"]), Compare("key", Op.EQ, self._check_key(key)))))
        )
        if not found:
            raise ResourceNotFoundError(f"{kind_name} {record_id!r} has no metadata {key!r}")
        return self._render_metadata(found[0])

    async def metadata_set(
        self, principal: Principal, kind_name: str, record_id: str, key: str, data: Any, *, create_only: bool = False
    ) -> tuple[Doc, bool]:
        """Set the data under ``key``; returns the entry and whether it was created."""
        from app.records.values import check_json

        key = self._check_key(key)
        check_json(data, f"metadata {key!r}")
        doc = await self._record_for_metadata(principal, kind_name, record_id, Operation.UPDATE)
        where = And((Compare("record_id", Op.EQ, doc["id"]), Compare("key", Op.EQ, key)))
        stamp = self._stamp(principal)
        for _ in range(_SAVE_ATTEMPTS):
            if not create_only:
                updated = await self.store.find_one_and_update(METADATA, where, {"data": data, **stamp})
                if updated is not None:
                    return self._render_metadata(updated), False
            entry: Doc = {
                "id": new_id(),
                "record_id": doc["id"],
                "record_kind": kind_name,
                "key": key,
                "data": data,
                "created_at": stamp["modified_at"],
                **stamp,
            }
            try:
                await self.store.insert(METADATA, {k: v for k, v in entry.items() if v is not None})
            except DuplicateKeyError:
                if create_only:
                    raise ConflictError(f"{kind_name} {record_id!r} has metadata {key!r} already") from None
                continue
            return self._render_metadata(entry), True
        raise ConflictError(f"metadata {key!r} is being changed by others; try again")

    async def metadata_delete(self, principal: Principal, kind_name: str, record_id: str, key: str) -> None:
        doc = await self._record_for_metadata(principal, kind_name, record_id, Operation.UPDATE)
        where = And((Compare("record_id", Op.EQ, doc["id"]), Compare("key", Op.EQ, self._check_key(key))))
        if not await self.store.delete_many(METADATA, where):
            raise ResourceNotFoundError(f"{kind_name} {record_id!r} has no metadata {key!r}")


__all__ = ["LIVE", "MAX_LIMIT", "SYSTEM", "TRASHED", "FieldType", "Not", "Page", "Records", "render"]
