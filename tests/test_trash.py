"""Trash retention: what stayed in the trash longer than the retention is purged, with
its metadata; newer trash and live records stay."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from app.records.errors import ResourceNotFoundError
from app.records.permissions import SYSTEM
from app.records.service import METADATA, Records
from app.store.base import Store
from app.store.mongo import MongoStore
from app.store.sqlite import SqliteStore
from app.store.tree import Compare, Op
from tests.servers import RunningEngine, login, start_engine, store_settings

RETENTION_SECONDS = 3.0


@pytest.fixture
async def records(store_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Records]:
    store: Store
    if store_name == "mongodb":
        store = MongoStore(request.getfixturevalue("mongo_uri"), f"trash_{uuid.uuid4().hex[:12]}")
    else:
        store = SqliteStore(tmp_path / "engine.db")
    await store.start()
    service = Records(store)
    await service.setup()
    try:
        yield service
    finally:
        await store.close()


async def _metadata_count(store: Store, record_id: str) -> int:
    return await store.count(METADATA, Compare("record_id", Op.EQ, record_id))


async def test_purge_trash_removes_only_old_trash_and_its_metadata(records: Records) -> None:
    old = await records.create(SYSTEM, "setting", {"name": "old", "value": 1})
    new = await records.create(SYSTEM, "tag", {"name": "new"})
    live = await records.create(SYSTEM, "setting", {"name": "live"})
    for made, kind in ((old, "setting"), (new, "tag"), (live, "setting")):
        await records.metadata_set(SYSTEM, kind, made["id"], "k", {"of": made["name"]})
    await records.delete(SYSTEM, "setting", old["id"])
    await asyncio.sleep(1.0)
    await records.delete(SYSTEM, "tag", new["id"])
    # Everything trashed more than half a second ago goes: only the old one.
    assert await records.purge_trash(older_than=timedelta(seconds=0.5)) == 1
    # Nothing has been in the trash for the default 30 days.
    assert await records.purge_trash() == 0
    with pytest.raises(ResourceNotFoundError, match="no setting"):
        await records.get(SYSTEM, "setting", old["id"], allow_deleted=True)
    assert await _metadata_count(records.store, old["id"]) == 0
    assert (await records.get(SYSTEM, "tag", new["id"], allow_deleted=True))["deleted_at"]
    assert await _metadata_count(records.store, new["id"]) == 1
    assert await records.purge_trash(older_than=timedelta(0)) == 1
    assert await _metadata_count(records.store, new["id"]) == 0
    # Live records are never purged.
    assert (await records.get(SYSTEM, "setting", live["id"]))["name"] == "live"
    assert await _metadata_count(records.store, live["id"]) == 1


@pytest.fixture
def sweeping_server(store_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningEngine]:
    uri = request.getfixturevalue("mongo_uri") if store_name == "mongodb" else None
    settings = store_settings(
        store_name,
        uri,
        tmp_path / "data",
        trash_retention_days=RETENTION_SECONDS / 86400,
        sweep_interval_seconds=0.2,
    )
    running = start_engine(settings)
    try:
        yield running
    finally:
        running.stop()


async def test_the_sweep_purges_the_trash_after_the_retention(sweeping_server: RunningEngine) -> None:
    token = await login(sweeping_server.url)
    async with httpx.AsyncClient(
        base_url=sweeping_server.url + "/api/latest", headers={"Authorization": f"Bearer {token}"}
    ) as api:
        old = (await api.post("/setting", json={"name": "old"})).json()
        live = (await api.post("/setting", json={"name": "live"})).json()
        assert (await api.put(f"/setting/{old['id']}/metadata/k", json={"data": 1})).status_code == 201
        trashed_at = time.monotonic()  # before: the purge may come 3 s after the store's deleted_at
        assert (await api.delete(f"/setting/{old['id']}")).status_code == 200
        await asyncio.sleep(RETENTION_SECONDS * 0.7)
        new = (await api.post("/setting", json={"name": "new"})).json()
        assert (await api.delete(f"/setting/{new['id']}")).status_code == 200
        # Still there before its time is up...
        assert (await api.get(f"/setting/{old['id']}", params={"allow_deleted": "true"})).status_code == 200
        while (await api.get(f"/setting/{old['id']}", params={"allow_deleted": "true"})).status_code == 200:
            assert time.monotonic() - trashed_at < RETENTION_SECONDS + 10, "the sweep never purged the trash"
            await asyncio.sleep(0.1)
        # ...gone (with its metadata) soon after; newer trash and live records stay.
        assert time.monotonic() - trashed_at >= RETENTION_SECONDS
        assert (await api.get(f"/setting/{old['id']}/metadata")).status_code == 404
        assert (await api.get(f"/setting/{new['id']}", params={"allow_deleted": "true"})).status_code == 200
        assert (await api.get(f"/setting/{live['id']}")).status_code == 200
