"""Both stores return the same records in the same order, for random data and filters.

Hypothesis builds a small data set (typed fields with missing values, strings full of
regex and GLOB special characters and unicode, ints and floats, bools, datetimes,
references for joins), writes it to a SqliteStore and a MongoStore, then asks both
the same random queries: filters written as the user's JSON expression (every op,
value_field, joins, nested and/or) parsed by app.records.filters, ``Not`` nodes
built directly as trees, random orders, projections and pages. MongoDB's semantics
are the reference; the two must agree on ids, order, documents and counts.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.records.filters import parse_filter
from app.records.kinds import KINDS, FieldType
from app.store.base import Store
from app.store.mongo import MongoStore
from app.store.sqlite import SqliteStore
from app.store.tree import And, Compare, Node, Not, Op, Or, Query

FLOW = KINDS["flow"]
# Characters that mean something to regexes, GLOB, LIKE, JSON or SQL, plus unicode.
ALPHABET = "aAb%_*?[]^$.\\|(){}+-#'\"é😀ß\n "
TIMES = [
    "2024-01-01T00:00:00.000000Z",
    "2024-01-01T00:00:00.000001Z",
    "2024-06-30T12:30:00.000000Z",
    "2025-12-31T23:59:59.999999Z",
]
NUMBERS = [-2.5, -1, 0, -0.0, 0.5, 1, 1.0, 2, 2.5, 1e10, 3]
# The flow fields the generator uses, by type (ALIVE and hidden fields stay out).
FIELDS: dict[str, FieldType] = {
    "id": FieldType.ID,
    "name": FieldType.STRING,
    "description": FieldType.STRING,
    "script": FieldType.STRING,
    "priority": FieldType.INT,
    "max_runtime_minutes": FieldType.FLOAT,
    "is_readonly": FieldType.BOOL,
    "created_at": FieldType.DATETIME,
    "modified_at": FieldType.DATETIME,
    "created_by": FieldType.ID,
    "project_id": FieldType.ID,
}
JOINS = {
    "created_by--user.id:name": FieldType.STRING,
    "created_by--user.id:is_admin": FieldType.BOOL,
    "modified_by--user.id:email": FieldType.STRING,
    "project_id--project.id:name": FieldType.STRING,
    "project_id--project.id:created_at": FieldType.DATETIME,
}
COMPARABLE = [
    ("priority", "max_runtime_minutes"),
    ("name", "description"),
    ("description", "script"),
    ("created_by", "project_id"),
    ("id", "created_by"),
    ("created_at", "modified_at"),
    ("is_readonly", "is_readonly"),
]
EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "120"))
QUERIES_PER_EXAMPLE = 8


class Pool:
    """The values one example draws from, so equalities and ties actually happen."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.strings: list[str] = data.draw(
            st.lists(st.text(alphabet=ALPHABET, max_size=5), min_size=1, max_size=5), label="strings"
        )
        self.ids: list[str] = []

    def draw(self, strategy: st.SearchStrategy[Any], label: str | None = None) -> Any:
        return self.data.draw(strategy, label=label)

    def value(self, type_: FieldType) -> Any:
        match type_:
            case FieldType.STRING:
                return self.draw(st.sampled_from(self.strings))
            case FieldType.INT:
                return self.draw(st.integers(-2, 3))
            case FieldType.FLOAT:
                return self.draw(st.sampled_from(NUMBERS))
            case FieldType.BOOL:
                return self.draw(st.booleans())
            case FieldType.DATETIME:
                return self.draw(st.sampled_from(TIMES))
            case FieldType.ID:
                return self.draw(st.sampled_from([*self.ids, str(uuid.UUID(int=7))]))
        raise AssertionError(type_)

    def pattern(self) -> str:
        base = self.draw(st.sampled_from(self.strings))
        chars = [self.draw(st.sampled_from(["%", "_", c, c])) for c in base]
        return self.draw(st.sampled_from(["", "%"])) + "".join(chars) + self.draw(st.sampled_from(["", "%", "_"]))


def dataset(pool: Pool) -> dict[str, list[dict[str, Any]]]:
    ids = [str(u) for u in pool.draw(st.lists(st.uuids(), min_size=16, max_size=16, unique=True), label="ids")]
    n_users, n_projects = pool.draw(st.integers(0, 3)), pool.draw(st.integers(0, 2))
    n_flows = pool.draw(st.integers(0, 10), label="flows")
    users, projects, flows = ids[:n_users], ids[3 : 3 + n_projects], ids[5 : 5 + n_flows]
    pool.ids = ids[: 5 + n_flows]

    def maybe(doc: dict[str, Any], name: str, type_: FieldType) -> None:
        if pool.draw(st.booleans()):
            doc[name] = pool.value(type_)

    docs: dict[str, list[dict[str, Any]]] = {"user": [], "project": [], "flow": []}
    for id_ in users:
        doc: dict[str, Any] = {"id": id_}
        for name, type_ in (("name", FieldType.STRING), ("is_admin", FieldType.BOOL), ("email", FieldType.STRING)):
            maybe(doc, name, type_)
        docs["user"].append(doc)
    for id_ in projects:
        doc = {"id": id_}
        maybe(doc, "name", FieldType.STRING)
        maybe(doc, "created_at", FieldType.DATETIME)
        docs["project"].append(doc)
    refs = {"created_by": users, "modified_by": users, "project_id": projects}
    for id_ in flows:
        doc = {"id": id_}
        for name, type_ in FIELDS.items():
            if name != "id":
                maybe(doc, name, type_)
        for name, targets in refs.items():
            if pool.draw(st.booleans()):
                doc[name] = pool.draw(st.sampled_from([*targets, str(uuid.UUID(int=9))]))
        docs["flow"].append(doc)
    return docs


def leaf(pool: Pool) -> dict[str, Any]:
    shape = pool.draw(st.sampled_from(["value", "value", "value", "value_field", "join"]))
    if shape == "value_field":
        a, b = pool.draw(st.sampled_from(COMPARABLE))
        if pool.draw(st.booleans()):
            a, b = b, a
        op = pool.draw(st.sampled_from(["eq", "neq", "lt", "gt", "lte", "gte"]))
        return {"field": a, "op": op, "value_field": b}
    if shape == "join":
        field, type_ = pool.draw(st.sampled_from(sorted(JOINS.items())))
    else:
        field, type_ = pool.draw(st.sampled_from(sorted(FIELDS.items())))
    ops = [o.value for o in Op if type_ in (FieldType.STRING, FieldType.ID) or o not in (Op.LIKE, Op.NOTLIKE)]
    op = pool.draw(st.sampled_from(ops))
    if op in ("like", "notlike"):
        value: Any = pool.pattern() if type_ is FieldType.STRING else pool.draw(st.sampled_from(["%", "_%", "%-%"]))
    elif op in ("in", "notin"):
        value = [pool.value(type_) for _ in range(pool.draw(st.integers(0, 3)))]
    else:
        value = pool.value(type_)
    return {"field": field, "op": op, "value": value}


def expression(pool: Pool, depth: int = 0) -> dict[str, Any]:
    if depth >= 3 or pool.draw(st.integers(0, 2)) > 0:
        return leaf(pool)
    key = pool.draw(st.sampled_from(["and", "or"]))
    return {key: [expression(pool, depth + 1) for _ in range(pool.draw(st.integers(0, 3)))]}


def negate(pool: Pool, node: Node) -> Node:
    """Wrap random parts of a parsed tree in Not (users cannot write Not; Engine can)."""
    match node:
        case And(items):
            node = And(tuple(negate(pool, i) for i in items))
        case Or(items):
            node = Or(tuple(negate(pool, i) for i in items))
    if pool.draw(st.integers(0, 4)) == 0:
        return Not(node)
    return node


def query(pool: Pool) -> Query:
    where: Node | None = None
    if pool.draw(st.integers(0, 5)) > 0:
        where = negate(pool, parse_filter(FLOW, expression(pool)))
    sortable = [*FIELDS, "modified_by"]
    order = tuple(
        (pool.draw(st.sampled_from(sortable)), pool.draw(st.booleans())) for _ in range(pool.draw(st.integers(0, 3)))
    )
    fields = None
    if pool.draw(st.integers(0, 3)) == 0:
        fields = ("id", *pool.draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True)))
    offset = pool.draw(st.sampled_from([0, 0, 0, 1, 3]))
    limit = pool.draw(st.sampled_from([None, None, 0, 1, 2, 5]))
    return Query(where, fields, order, offset, limit)


ALL: Node = Compare("id", Op.SET)


async def replace_data(store: Store, docs: dict[str, list[dict[str, Any]]]) -> None:
    for collection, items in docs.items():
        await store.delete_many(collection, ALL)
        await store.insert_many(collection, [dict(d) for d in items])


async def one_example(data: st.DataObject, sqlite: SqliteStore, mongo: MongoStore) -> None:
    pool = Pool(data)
    docs = dataset(pool)
    await replace_data(sqlite, docs)
    await replace_data(mongo, docs)
    for _ in range(QUERIES_PER_EXAMPLE):
        q = query(pool)
        expected = await mongo.find("flow", q)
        got = await sqlite.find("flow", q)
        assert [d["id"] for d in got] == [d["id"] for d in expected], q
        assert got == expected, q
        assert await sqlite.count("flow", q.where) == await mongo.count("flow", q.where), q.where


@pytest.fixture
def stores(mongo_uri: str, tmp_path: Path) -> Iterator[tuple[asyncio.Runner, SqliteStore, MongoStore]]:
    # Its own loop: hypothesis calls the example synchronously, and both clients are bound to one loop.
    runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)
    sqlite = SqliteStore(tmp_path / "differential.db")
    mongo = MongoStore(mongo_uri, f"differential_{uuid.uuid4().hex[:12]}")
    runner.run(sqlite.start())
    runner.run(mongo.start())
    try:
        yield runner, sqlite, mongo
    finally:
        runner.run(mongo.client.drop_database(mongo.db.name))
        runner.run(mongo.close())
        runner.run(sqlite.close())
        runner.close()


# Other tests' Engines keep running in background threads of this process, and their
# clients (PyMongo's server selection, for one) use the global random module. Hypothesis
# sees its state move during a draw and warns as if the strategy used it; as an error that
# warning makes examples fail at random and Hypothesis call the strategy flaky.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_stores_agree_on_random_queries(stores: tuple[asyncio.Runner, SqliteStore, MongoStore]) -> None:
    runner, sqlite, mongo = stores

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=os.environ.get("CI") == "true",
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None if os.environ.get("CI") == "true" else settings.default.database,
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        runner.run(one_example(data, sqlite, mongo))

    check()
