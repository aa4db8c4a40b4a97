"""REST specifics: status codes, headers, bodies, query parameters, limits, concurrency."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import RunningEngine, login, start_engine, store_settings

SMALL_BODY = 2000


def _error(response: httpx.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    for word in words:
        assert word in body["error"]["message"], body


async def test_health(anon: httpx.AsyncClient, store_name: str) -> None:
    response = await anon.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "store": store_name}


async def test_create_is_201_save_is_201_then_200(api: httpx.AsyncClient, unique: str) -> None:
    created = await api.post("/setting", json={"name": f"{unique}a", "value": 1})
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    _error(await api.post("/setting", json={"name": f"{unique}a"}), 409, "CONFLICT", f"{unique}a")
    first = await api.put(f"/setting/{unique}b", params={"by": "name"}, json={"value": 1})
    assert first.status_code == 201
    again = await api.put(f"/setting/{unique}b", params={"by": "name"}, json={"value": 2})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


async def test_put_needs_by_name(api: httpx.AsyncClient, unique: str) -> None:
    _error(await api.put(f"/setting/{unique}a", json={"value": 1}), 400, "BAD_INPUT", "by=name")
    _error(await api.put(f"/setting/{unique}a", params={"by": "id"}, json={"value": 1}), 400, "BAD_INPUT", "by=name")
    _error(await api.put(f"/setting/{unique}a", params={"by": "nom"}, json={}), 400, "BAD_INPUT", "by")


async def test_list_sends_the_total_in_x_total_count(api: httpx.AsyncClient, unique: str) -> None:
    for i in range(3):
        await api.post("/tag", json={"name": f"{unique}{i}"})
    flt = json.dumps({"field": "name", "op": "like", "value": f"{unique}%"})
    response = await api.get("/tag", params={"filter": flt, "limit": "2", "order": "-name"})
    assert response.status_code == 200
    assert response.headers["x-total-count"] == "3"
    assert [r["name"] for r in response.json()] == [f"{unique}2", f"{unique}1"]


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"name": "x",}', b"{'name': 'x'}", b"\xff\xfe", b"NaN", b'{"name": "x"} trailing'],
)
async def test_malformed_json_is_400(api: httpx.AsyncClient, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    _error(await api.post("/setting", content=body, headers=headers), 400, "BAD_INPUT", "JSON")
    _error(await api.put("/setting/x", params={"by": "name"}, content=body, headers=headers), 400, "BAD_INPUT", "JSON")


@pytest.mark.parametrize("body", [[], [{"name": "x"}], "x", 1, None, True])
async def test_body_must_be_an_object(api: httpx.AsyncClient, body: object) -> None:
    _error(await api.post("/setting", content=json.dumps(body)), 400, "BAD_INPUT", "object")


async def test_empty_body_is_400(api: httpx.AsyncClient) -> None:
    _error(await api.post("/setting"), 400, "BAD_INPUT", "body")


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/setting", {"filtre": "{}"}),
        ("GET", "/setting", {"limit": "10", "$where": "1"}),
        ("GET", "/setting/x", {"by": "name", "order": "name"}),
        ("POST", "/setting", {"by": "name"}),
        ("DELETE", "/setting/x", {"by": "name", "force": "true"}),
    ],
)
async def test_unknown_query_parameters_are_400(
    api: httpx.AsyncClient, method: str, path: str, params: dict[str, str]
) -> None:
    response = await api.request(method, path, params=params, json={"name": "x"})
    _error(response, 400, "BAD_INPUT", "unknown query parameter")


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"limit": "ten"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"offset": "1.5"}, "offset"),
        ({"allow_deleted": "maybe"}, "allow_deleted"),
        ({"allow_normal": ""}, "allow_normal"),
        ({"filter": "{not json"}, "JSON"),
    ],
)
async def test_bad_query_values_are_400(api: httpx.AsyncClient, params: dict[str, str], word: str) -> None:
    response = await api.get("/setting", params=params)
    assert response.status_code == 400
    assert word in response.json()["error"]["message"]


async def test_where_operators_in_values_and_field_names_are_refused(api: httpx.AsyncClient, unique: str) -> None:
    sleep = "function() { sleep(5000); return true; }"
    for flt, word in (
        ({"$where": sleep}, "$where"),
        ({"field": "name", "op": "eq", "value": {"$where": sleep}}, "must be a string"),
        ({"field": "$where", "op": "eq", "value": sleep}, "$where"),
        ({"field": "value.$where", "op": "eq", "value": sleep}, "$where"),
        ({"or": [{"field": "name", "op": "in", "value": [{"$where": sleep}]}]}, "must be a string"),
    ):
        _error(await api.get("/setting", params={"filter": json.dumps(flt)}), 400, "INVALID_FILTER", word)
    _error(await api.post("/setting", json={"name": f"{unique}w", "$where": sleep}), 422, "BAD_INPUT", "$where")
    _error(await api.post("/setting", json={"name": {"$where": sleep}}), 422, "BAD_INPUT", "name")
    _error(
        await api.post("/setting", json={"name": f"{unique}w", "value": {"$where": sleep}}), 422, "BAD_INPUT", "$where"
    )
    _error(await api.get("/setting", params={"fields": "name,$where"}), 422, "BAD_INPUT", "$where")
    _error(await api.get("/setting", params={"order": "$where"}), 422, "BAD_INPUT", "$where")
    assert (await api.get(f"/setting/{unique}w", params={"by": "name"})).status_code == 404


async def test_unknown_kind_route_and_method(api: httpx.AsyncClient) -> None:
    _error(await api.get("/gadget"), 404, "NOT_FOUND", "gadget")
    _error(await api.get("/setting/a/b/c/d"), 404, "NOT_FOUND")
    _error(await api.post("/setting/x"), 405, "METHOD_NOT_ALLOWED")


async def test_metadata_body_must_be_data(api: httpx.AsyncClient, unique: str) -> None:
    record = (await api.post("/setting", json={"name": f"{unique}m"})).json()
    _error(await api.put(f"/setting/{record['id']}/metadata/k", json={"value": 1}), 400, "BAD_INPUT", "data")
    put = await api.put(f"/setting/{record['id']}/metadata/k", json={"data": None})
    assert put.status_code == 201 and put.json()["data"] is None
    by_name = await api.get(f"/setting/{unique}m/metadata", params={"by": "name"})
    assert [m["key"] for m in by_name.json()] == ["k"]
    assert (await api.get(f"/setting/{record['id']}/metadata/k")).json()["data"] is None
    assert (await api.delete(f"/setting/{record['id']}/metadata/k")).status_code == 204
    _error(await api.get(f"/setting/{record['id']}/metadata/k"), 404, "NOT_FOUND", "k")


async def test_fifty_concurrent_saves_make_one_record(api: httpx.AsyncClient, unique: str) -> None:
    name = f"{unique}race"
    responses = await asyncio.gather(
        *(api.put(f"/setting/{name}", params={"by": "name"}, json={"value": i}) for i in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201], [r.text for r in responses if r.status_code >= 300][:3]
    assert len({r.json()["id"] for r in responses}) == 1
    flt = json.dumps({"field": "name", "op": "eq", "value": name})
    listing = await api.get("/setting", params={"filter": flt, "allow_deleted": "true"})
    assert listing.headers["x-total-count"] == "1"
    assert listing.json()[0]["value"] in range(50)


async def test_concurrent_creates_of_one_name_conflict(api: httpx.AsyncClient, unique: str) -> None:
    responses = await asyncio.gather(*(api.post("/tag", json={"name": f"{unique}c"}) for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEngine]:
    settings = store_settings("sqlite", None, Path(tmp_path_factory.mktemp("small")), max_body_bytes=SMALL_BODY)
    running = start_engine(settings)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def small(small_server: RunningEngine) -> AsyncIterator[httpx.AsyncClient]:
    token = await login(small_server.url)
    async with httpx.AsyncClient(
        base_url=small_server.url + "/api/latest", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


async def test_huge_bodies_are_413(small: httpx.AsyncClient, unique: str) -> None:
    big = {"name": f"{unique}big", "value": "x" * SMALL_BODY}
    _error(await small.post("/setting", json=big), 413, "TOO_LARGE", str(SMALL_BODY))
    _error(await small.put(f"/setting/{unique}big", params={"by": "name"}, json=big), 413, "TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must hold while the body streams in.
        yield b'{"name": "big", "value": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    _error(await small.post("/setting", content=chunks()), 413, "TOO_LARGE")
    assert (await small.get(f"/setting/{unique}big", params={"by": "name"})).status_code == 404
    ok = await small.post("/setting", json={"name": f"{unique}ok", "value": "x" * (SMALL_BODY // 2)})
    assert ok.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        rb'{"name": "\ud800"}',
        rb'{"name": "ok-name", "value": "\udfff tail"}',
        rb'{"name": "ok-name", "value": {"\ud83d": 1}}',
        rb'{"name": "ok-name", "description": "x\ud83dy"}',
    ],
)
async def test_lone_surrogates_are_refused_not_stored(api: httpx.AsyncClient, unique: str, body: bytes) -> None:
    """JSON escapes can carry lone surrogates; stored, they broke every later listing of the kind."""
    body = body.replace(b"ok-name", unique.encode() + b"s")
    response = await api.post("/setting", content=body, headers={"content-type": "application/json"})
    _error(response, 422, "BAD_INPUT", "surrogate")
    assert (await api.get("/setting", params={"limit": "1000"})).status_code == 200
    flt = '{"field": "name", "op": "like", "value": "\\ud800%"}'
    _error(await api.get("/setting", params={"filter": flt}), 400, "INVALID_FILTER", "surrogate")
