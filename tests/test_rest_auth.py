"""REST sign-in: tokens, the HttpOnly cookie, logout, lockout, and 401 on every route."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route

from app.auth.tokens import PRINCIPAL_CACHE_SECONDS
from tests.servers import ADMIN, ADMIN_PASSWORD, RunningEngine, start_engine

LOGIN = "/api/latest/auth/login"


def _unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.request.method, response.request.url, response.text)
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_login_gives_a_token_and_an_httponly_cookie(anon: httpx.AsyncClient) -> None:
    response = await anon.post(LOGIN, json={"user_name": ADMIN, "password": ADMIN_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert len(body["token"]) >= 32
    assert body["user"]["name"] == ADMIN and body["user"]["is_admin"] is True
    assert "password_hash" not in body["user"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"engine_token={body['token']};")
    assert "HttpOnly" in cookie and "Path=/" in cookie and "samesite=lax" in cookie.lower()
    me = await anon.get("/api/latest/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["user"]["id"] == body["user"]["id"]
    assert me.json()["execution_id"] is None


async def test_the_cookie_alone_authenticates(engine_server: RunningEngine, admin_token: str) -> None:
    async with httpx.AsyncClient(base_url=engine_server.url, cookies={"engine_token": admin_token}) as browser:
        me = await browser.get("/api/latest/auth/me")
        assert me.status_code == 200 and me.json()["user"]["name"] == ADMIN
        assert (await browser.get("/api/latest/setting", params={"limit": 1})).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {ADMIN}:{ADMIN_PASSWORD}"},
        {"Cookie": "engine_token=forged"},
    ],
)
async def test_no_or_bad_token_is_401(anon: httpx.AsyncClient, headers: dict[str, str]) -> None:
    _unauthorized(await anon.get("/api/latest/setting", headers=headers))
    _unauthorized(await anon.get("/api/latest/auth/me", headers=headers))


@pytest.mark.parametrize(
    "body",
    [
        {"user_name": ADMIN, "password": "wrong-password"},
        {"user_name": "nobody-at-all", "password": ADMIN_PASSWORD},
        {"user_name": ADMIN},
        {"user_name": 1, "password": ["x"]},
        {"user_name": "  ", "password": "x"},
    ],
)
async def test_bad_credentials_are_401_and_say_nothing_more(anon: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await anon.post(LOGIN, json=body)
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_login_needs_a_json_object(anon: httpx.AsyncClient) -> None:
    response = await anon.post(LOGIN, content=b"user=admin", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "BAD_INPUT"


async def test_logout_revokes_the_token(anon: httpx.AsyncClient) -> None:
    token = (await anon.post(LOGIN, json={"user_name": ADMIN, "password": ADMIN_PASSWORD})).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await anon.get("/api/latest/auth/me", headers=headers)).status_code == 200
    out = await anon.post("/api/latest/auth/logout", headers=headers)
    assert out.status_code == 200
    assert 'engine_token="";' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    _unauthorized(await anon.get("/api/latest/auth/me", headers=headers))
    _unauthorized(await anon.post("/api/latest/auth/logout", headers=headers))


async def test_repeated_failed_logins_lock_the_user_out(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, unique: str
) -> None:
    name = f"{unique}user"
    made = await api.post("/user", json={"name": name, "password": "right-password", "is_active": True})
    assert made.status_code == 201, made.text
    assert "password" not in made.json() and "password_hash" not in made.json()
    assert (await anon.post(LOGIN, json={"user_name": name, "password": "right-password"})).status_code == 200
    for _ in range(5):
        assert (await anon.post(LOGIN, json={"user_name": name, "password": "wrong"})).status_code == 401
    locked = await anon.post(LOGIN, json={"user_name": name, "password": "right-password"})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"
    assert "try again" in locked.json()["error"]["message"]
    # Another user is not affected.
    assert (await anon.post(LOGIN, json={"user_name": ADMIN, "password": ADMIN_PASSWORD})).status_code == 200


async def test_inactive_users_cannot_sign_in_and_lose_their_tokens(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, unique: str
) -> None:
    name = f"{unique}user"
    made = (await api.post("/user", json={"name": name, "password": "right-password"})).json()
    token = (await anon.post(LOGIN, json={"user_name": name, "password": "right-password"})).json()["token"]
    me = await anon.get("/api/latest/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["user"]["name"] == name
    assert (await api.patch(f"/user/{made['id']}", json={"is_active": False})).status_code == 200
    _unauthorized(await anon.get("/api/latest/auth/me", headers={"Authorization": f"Bearer {token}"}))
    assert (await anon.post(LOGIN, json={"user_name": name, "password": "right-password"})).status_code == 401


def _routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Mount):
            found += _routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            found += [(m, prefix + route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return found


async def test_every_route_but_the_public_ones_needs_a_token(
    engine_server: RunningEngine, anon: httpx.AsyncClient
) -> None:
    document = (await anon.get("/api/latest/openapi.json")).json()
    public = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and op.get("security") == []
    }
    assert public == {("GET", "/health"), ("POST", LOGIN), ("GET", "/api/latest/openapi.json")}
    routes = _routes(list(engine_server.server.config.app.routes))  # type: ignore[attr-defined]
    assert len(routes) >= 14
    params = {"{kind}": "setting", "{ref}": "00000000-0000-4000-8000-000000000000", "{key}": "k"}
    checked = 0
    for method, path in routes:
        if (method, path) in public:
            continue
        for name, value in params.items():
            path = path.replace(name, value)
        # A body that would be a 400 or 413 if it were read: a stranger must get 401 first.
        _unauthorized(await anon.request(method, path, content=b"{not json", params={"bogus": "1"}))
        checked += 1
    assert checked >= 12


async def test_a_logout_reaches_other_engine_processes_within_the_cache_time(
    engine_server: RunningEngine, anon: httpx.AsyncClient
) -> None:
    """Each process trusts a resolved token for PRINCIPAL_CACHE_SECONDS; its own changes
    drop that at once, another process's within that time."""
    other = start_engine(engine_server.settings)  # the same store, another Engine
    try:
        token = (await anon.post(LOGIN, json={"user_name": ADMIN, "password": ADMIN_PASSWORD})).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=other.url) as there:
            assert (await there.get("/api/latest/auth/me", headers=headers)).status_code == 200
            assert (await anon.post("/api/latest/auth/logout", headers=headers)).status_code == 200
            _unauthorized(await anon.get("/api/latest/auth/me", headers=headers))
            started = time.monotonic()
            while (await there.get("/api/latest/auth/me", headers=headers)).status_code == 200:
                assert time.monotonic() - started < PRINCIPAL_CACHE_SECONDS + 1, "the other process kept the token"
                await asyncio.sleep(0.1)
            _unauthorized(await there.get("/api/latest/auth/me", headers=headers))
    finally:
        other.stop()
