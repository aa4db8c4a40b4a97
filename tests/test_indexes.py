"""Reads by id or name, saves by name and the per-request token lookup never scan.

The plans come from the store itself: ``EXPLAIN QUERY PLAN`` on SQLite, ``explain``
on MongoDB. mongoeco has no physical indexes (it scans in Python and says so); what
it does report honestly is which indexes the query can use, so that is asserted
there, and the full IXSCAN/IDHACK/EXPRESS check runs against a real MongoDB.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from app.auth.tokens import TOKENS, token_hash
from app.records.service import LIVE, TRASHED
from app.store.base import Store
from app.store.mongo import MongoStore
from app.store.sqlite import SqliteStore
from app.store.tree import And, Compare, Op, Query
from tests.servers import RunningEngine


@pytest.fixture
async def store(engine_server: RunningEngine) -> AsyncIterator[Store]:
    """The server's database, opened on this test's loop (the server's clients live on its own)."""
    settings = engine_server.settings
    opened: Store
    if settings.mongodb_uri:
        opened = MongoStore(settings.mongodb_uri, settings.mongodb_database)
    else:
        opened = SqliteStore(settings.sqlite_path)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()


def _assert_indexed(store: Store, plan: str, index: str | None, key: str = "_id") -> None:
    if store.name == "sqlite":
        lines = plan.splitlines()
        assert any("USING INDEX" in line or "USING PRIMARY KEY" in line for line in lines), plan
        assert not any(line.startswith("SCAN") for line in lines), plan
        if index:
            assert index in plan, plan
        return
    explained = json.loads(plan)
    if "winningPlan" in explained:  # a real MongoDB
        winning = json.dumps(explained["winningPlan"])
        assert "COLLSCAN" not in winning, winning
        assert any(stage in winning for stage in ("IXSCAN", "IDHACK", "EXPRESS")), winning
        return
    # mongoeco: an equality on the key, and the index it names as usable, when it finds one.
    assert explained.get("engine") == "memory", plan
    assert f"EqualsCondition(field='{key}'" in explained["plan"], plan
    if index:
        assert index in explained.get("details", {}).get("usableVirtualIndexes", []), plan


def _id_where(id_: str) -> Compare:
    return Compare("id", Op.EQ, id_)


async def test_reads_and_saves_use_indexes(api: httpx.AsyncClient, store: Store, unique: str) -> None:
    for i in range(20):
        assert (await api.put(f"/setting/{unique}{i}", params={"by": "name"}, json={"value": i})).status_code == 201
    record = (await api.get(f"/setting/{unique}7", params={"by": "name"})).json()
    newest_first = (("created_at", True),)
    # The queries Records issues: read by id, read by name (live first), save by name
    # (find the live record, then update it by id unless read-only).
    queries = {
        "read by id": (Query(And((_id_where(record["id"]), LIVE)), None, newest_first, 0, 1), None),
        "read by id in the trash": (
            Query(And((_id_where(record["id"]), TRASHED)), None, (("deleted_at", True),), 0, 1),
            None,
        ),
        "read or save by name": (  # keyed on name
            Query(And((Compare("name", Op.EQ, f"{unique}7"), LIVE)), None, newest_first, 0, 1),
            "setting_name_live" if store.name == "sqlite" else "name_live",
        ),
        "save's update by id": (
            Query(And((_id_where(record["id"]), LIVE, Compare("is_readonly", Op.NEQ, True))), None, (), 0, 1),
            None,
        ),
    }
    for what, (query, index) in queries.items():
        plan = await store.explain("setting", query)
        try:
            _assert_indexed(store, plan, index, "name" if "name" in what else "_id")
        except AssertionError as exc:
            raise AssertionError(f"{what}: {exc}") from None
    if store.name == "sqlite":
        # The trashed fallback of a read by name has its own index too.
        plan = await store.explain(
            "setting", Query(And((Compare("name", Op.EQ, f"{unique}7"), TRASHED)), None, (("deleted_at", True),), 0, 1)
        )
        _assert_indexed(store, plan, "setting_name")


async def test_token_lookup_uses_indexes(store: Store, admin_token: str) -> None:
    plan = await store.explain(TOKENS, Query(Compare("token_hash", Op.EQ, token_hash(admin_token)), None, (), 0, 1))
    _assert_indexed(store, plan, "token_hash" if store.name == "sqlite" else None, "token_hash")
