"""Connections: pages of records with keyset cursors.

A cursor holds the sort values of its record plus its id (base64 JSON). ``after``
becomes a filter tree -- "sorts after these values" -- handed to the records
service, so pages stay stable when records are inserted between requests, and a
page costs one query however deep into the listing it is.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import strawberry

from app.records.errors import InvalidInputError
from app.records.filters import parse_order
from app.records.kinds import KINDS
from app.records.service import MAX_LIMIT
from app.records.values import coerce
from app.store.base import Doc
from app.store.tree import And, Compare, Node, Op, Or
from schema.context import Context
from schema.inputs import NOTHING, compile_filter, order_text
from schema.records import Rec, prefetch
from schema.selection import below, record_fields, under

DEFAULT_PAGE = 100
Keys = tuple[tuple[str, bool], ...]


@strawberry.type(description="Where a page is in a listing.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


class Edge:
    """A node and its cursor, encoded only when asked for."""

    __slots__ = ("keys", "node")

    def __init__(self, node: Rec, keys: Keys) -> None:
        self.node = node
        self.keys = keys

    @property
    def cursor(self) -> str:
        return encode_cursor(self.keys, self.node.doc)


@dataclass
class Page:
    edges: list[Edge]
    page_info: PageInfo
    total: int | None
    counter: Any = None

    @property
    def nodes(self) -> list[Rec]:
        return [e.node for e in self.edges]

    async def total_count(self) -> int:
        if self.total is None:
            self.total = await self.counter()
        return self.total


def _keys(kind: str, order: str) -> Keys:
    keys = parse_order(KINDS[kind], order)
    if not any(f == "id" for f, _ in keys):
        keys = (*keys, ("id", False))
    return keys


def encode_cursor(keys: Keys, doc: Doc) -> str:
    raw = json.dumps([[f for f, _ in keys], [d for _, d in keys], [doc.get(f) for f, _ in keys]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(kind: str, keys: Keys, cursor: str) -> list[Any]:
    try:
        names, descs, values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInputError(f"after: {cursor!r:.80} is not a cursor of this listing") from None
    if names != [f for f, _ in keys] or descs != [d for _, d in keys] or len(values) != len(keys):
        raise InvalidInputError("after: the cursor belongs to a listing in another order; use the same order")
    fields = KINDS[kind].fields
    return [
        None if v is None else coerce(fields[f], v, "after: the cursor") for (f, _), v in zip(keys, values, strict=True)
    ]


def after_node(keys: Keys, values: list[Any]) -> Node:
    """Records that sort after ``values`` in the order ``keys`` (missing values first
    ascending and last descending, as both stores sort)."""
    branches: list[Node] = []
    for i, (field, desc) in enumerate(keys):
        value = values[i]
        if desc:
            if value is None:
                continue  # nothing sorts after a missing value, descending
            step: Node = Or((Compare(field, Op.LT, value), Compare(field, Op.UNSET)))
        else:
            step = Compare(field, Op.SET) if value is None else Compare(field, Op.GT, value)
        same = [
            Compare(f, Op.UNSET) if v is None else Compare(f, Op.EQ, v)
            for (f, _), v in zip(keys[:i], values[:i], strict=True)
        ]
        branches.append(And((*same, step)) if same else step)
    if not branches:
        return NOTHING
    return branches[0] if len(branches) == 1 else Or(tuple(branches))


def _and(*nodes: Node | None) -> Node | None:
    items = tuple(n for n in nodes if n is not None)
    if not items:
        return None
    return items[0] if len(items) == 1 else And(items)


async def connection(
    info: strawberry.Info,
    kind: str,
    *,
    filter: Any = None,
    where: Any = None,
    order: list[Any] | None = None,
    sort: str | None = None,
    first: int | None = None,
    after: str | None = None,
    offset: int = 0,
    include_deleted: bool = False,
    only_deleted: bool = False,
    include_normal: bool = True,
    scope: Node | None = None,
) -> Page:
    """One page of ``kind`` records for a connection field."""
    context: Context = info.context
    records = context.engine.records
    principal = await context.principal()
    first = DEFAULT_PAGE if first is None else first
    if not 0 <= first <= MAX_LIMIT:
        raise InvalidInputError(
            f"first (the page size limit) must be between 0 and {MAX_LIMIT}, not {first}; page on with after"
        )
    if offset is None or offset < 0:
        raise InvalidInputError(f"offset must not be negative, not {offset}")
    if order and sort:
        raise InvalidInputError("give order or sort, not both")
    order_s = sort.strip() if sort and sort.strip() else order_text(kind, order)
    keys = _keys(kind, order_s)
    base = _and(compile_filter(kind, filter), scope)
    cond = _and(base, after_node(keys, decode_cursor(kind, keys, after)) if after else None)
    inside = below(info)
    top = under(inside)
    node_fields = [*under(inside, "edges", "node"), *under(inside, "nodes")]
    wanted = record_fields(kind, node_fields)
    wanted.update(f for f, _ in keys)
    wants_total = any(f.name == "totalCount" for f in top)
    state = {"allow_normal": include_normal and not only_deleted, "allow_deleted": include_deleted or only_deleted}

    page = await records.list_records(
        principal,
        kind,
        filter=where,
        where=cond,
        fields=sorted(wanted),
        limit=first + 1 if first < MAX_LIMIT else first,
        offset=offset,
        order=order_s,
        count=wants_total and not after,
        **state,
    )
    items = page.items
    more = len(items) > first
    items = items[:first]
    if not more and first == MAX_LIMIT and len(items) == first:
        probe = await records.list_records(
            principal,
            kind,
            filter=where,
            where=_and(base, after_node(keys, [items[-1].get(f) for f, _ in keys])),
            fields=["id"],
            limit=1,
            order=order_s,
            count=False,
            **state,
        )
        more = bool(probe.items)
    edges = [Edge(Rec(kind, d, context), keys) for d in items]
    await prefetch(context, kind, [e.node for e in edges], node_fields)

    async def count() -> int:
        counted = await records.list_records(
            principal, kind, filter=where, where=base, fields=["id"], limit=0, order=order_s, **state
        )
        assert counted.total is not None
        return counted.total

    # The page's cursors are encoded only when the page info is asked for.
    info_asked = edges and any(f.name == "pageInfo" for f in top)
    return Page(
        edges,
        PageInfo(
            has_next_page=more,
            has_previous_page=bool(after) or offset > 0,
            start_cursor=edges[0].cursor if info_asked else None,
            end_cursor=edges[-1].cursor if info_asked else None,
        ),
        page.total,
        count,
    )
