"""Fixtures: both stores, a real Engine server for each, authenticated clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.doors import Door, load_doors
from tests.servers import MongoStandIn, RunningEngine, login_sync, start_engine, store_settings

STORES = ["sqlite", "mongodb"]
# Every registered door (REST, GraphQL, ...): the contract suite runs through each.
DOORS = load_doors()


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """MONGODB_URI when set (a real MongoDB), else a mongoeco stand-in started here."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    standin = MongoStandIn()
    try:
        yield standin.uri
    finally:
        standin.stop()


@pytest.fixture(scope="session", params=STORES)
def store_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def engine_server(
    store_name: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEngine]:
    """One Engine per store for the whole session; tests keep apart by unique names."""
    uri = request.getfixturevalue("mongo_uri") if store_name == "mongodb" else None
    running = start_engine(store_settings(store_name, uri, tmp_path_factory.mktemp(f"engine-{store_name}")))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def admin_token(engine_server: RunningEngine) -> str:
    return login_sync(engine_server.url)


@pytest.fixture
async def api(engine_server: RunningEngine, admin_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client signed in as the admin, against /api/latest."""
    async with httpx.AsyncClient(
        base_url=engine_server.url + "/api/latest", headers={"Authorization": f"Bearer {admin_token}"}, timeout=60
    ) as client:
        yield client


@pytest.fixture
async def anon(engine_server: RunningEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=engine_server.url, timeout=60) as client:
        yield client


@pytest.fixture
def unique() -> str:
    """A prefix no other test uses, for record names."""
    return f"t{uuid.uuid4().hex[:10]}-"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(params=sorted(DOORS))
async def door(request: pytest.FixtureRequest, engine_server: RunningEngine, admin_token: str) -> AsyncIterator[Door]:
    """The records contract's way in, signed in as the admin; one per registered door."""
    async with DOORS[request.param](engine_server, admin_token) as opened:
        yield opened
