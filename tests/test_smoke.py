from __future__ import annotations

import httpx


async def test_health_names_the_store(anon: httpx.AsyncClient, store_name: str) -> None:
    response = await anon.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "store": store_name}


async def test_save_then_read_by_name(api: httpx.AsyncClient, unique: str) -> None:
    created = await api.put(f"/setting/{unique}a?by=name", json={"value": {"x": 1}})
    assert created.status_code == 201
    again = await api.put(f"/setting/{unique}a?by=name", json={"description": "d"})
    assert again.status_code == 200
    got = await api.get(f"/setting/{unique}a", params={"by": "name"})
    assert got.json()["value"] == {"x": 1}
    assert got.json()["description"] == "d"
