"""The embedded store's reads: short ones on the event loop's thread, long ones moved to
the connection's thread, the same answers either way (a real SQLite file)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.records.values import new_id
from app.store.sqlite import SqliteStore
from app.store.tree import Compare, Op, Query


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    """Two stores on one file: one with the default budget, one whose every read that
    reaches SQLite's clock check is over budget."""
    usual = SqliteStore(tmp_path / "engine.db")
    strict = SqliteStore(tmp_path / "engine.db", read_budget=0.0)
    await usual.start()
    await strict.start()
    try:
        yield usual, strict
    finally:
        await strict.close()
        await usual.close()


async def test_a_read_over_its_budget_runs_again_on_the_thread_with_the_same_answer(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    usual, strict = stores
    await usual.insert_many("thing", [{"id": new_id(), "name": f"t{i:04}", "n": i} for i in range(3000)])
    scan = Query(Compare("n", Op.GTE, 1500), ("name", "n"), (("name", True),), 0, 10)
    moved = strict.reads_moved
    answer = await strict.find("thing", scan)
    assert strict.reads_moved == moved + 1  # interrupted on the loop, answered by the thread
    assert [d["name"] for d in answer] == [f"t{i:04}" for i in range(2999, 2989, -1)]
    assert answer == await usual.find("thing", scan)
    assert await strict.count("thing", Compare("n", Op.LT, 10)) == await usual.count("thing", Compare("n", Op.LT, 10))


async def test_reads_on_the_loop_see_every_committed_write(tmp_path: Path) -> None:
    # A budget no read reaches: every read here runs on the loop's connection, every write on the thread's.
    usual = SqliteStore(tmp_path / "engine.db", read_budget=60.0)
    await usual.start()
    await usual.ensure_collection("thing", ())
    before = usual.reads_moved
    for i in range(20):
        doc = {"id": new_id(), "name": f"w{i}", "n": i}
        await usual.insert("thing", doc)  # written on the connection's thread
        found = await usual.find("thing", Query(Compare("id", Op.EQ, doc["id"])))  # read on the loop's
        assert found == [doc]
        await usual.update_many("thing", Compare("id", Op.EQ, doc["id"]), {"n": -i})
        assert (await usual.find("thing", Query(Compare("id", Op.EQ, doc["id"]))))[0]["n"] == -i
    assert usual.reads_moved == before
    await usual.close()


async def test_reads_go_on_while_a_bulk_insert_holds_its_transaction(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    usual, _ = stores
    await usual.insert("thing", {"id": new_id(), "name": "first"})
    bulk = asyncio.create_task(usual.insert_many("thing", [{"id": new_id(), "name": f"b{i}"} for i in range(20000)]))
    counts = []
    while not bulk.done():
        counts.append(await usual.count("thing", None))
        await asyncio.sleep(0)
    await bulk
    assert counts
    # Before the commit a read sees none of the bulk, after it all of it: never a part.
    assert set(counts) <= {1, 20001}
    assert await usual.count("thing", None) == 20001


async def test_a_projection_reads_the_same_values_as_the_whole_document(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    usual, _ = stores
    docs = [
        {"id": new_id(), "name": "a", "n": 1, "obj": {"x": [1, None, "y"]}, "text": '{"not": "json"}', "f": 2.5},
        {"id": new_id(), "name": "b", "flag": False, "list": [{"k": 1}], "empty": "", "zero": 0},
        {"id": new_id(), "name": "c"},
    ]
    await usual.insert_many("thing", docs)
    fields = ("name", "n", "obj", "text", "f", "flag", "list", "empty", "zero", "absent")
    for wanted in (fields, ("obj", "text"), ("n",), ("id",), ("id", "name")):
        projected = await usual.find("thing", Query(None, wanted, (("name", False),)))
        expected = [{k: v for k, v in d.items() if k in wanted or k == "id"} for d in docs]
        assert projected == expected, wanted
