"""Login, logout and the current user."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.tokens import COOKIE
from app.records.errors import AuthenticationError
from app.rest.http import JSONResponse, engine_of, principal_of, read_object, request_token


async def login(request: Request) -> Response:
    body = await read_object(request)
    done = await engine_of(request).auth.login(body.get("user_name"), body.get("password"))
    response = JSONResponse({"token": done.token, "user": done.user, "expires_at": done.expires_at})
    response.set_cookie(
        COOKIE,
        done.token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(engine_of(request).auth.token_ttl.total_seconds()),
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    await principal_of(request)
    token = request_token(request)
    assert token is not None
    await engine_of(request).auth.revoke(token)
    response = JSONResponse({"status": "signed out"})
    response.delete_cookie(COOKIE, path="/")
    return response


async def me(request: Request) -> Response:
    principal = await principal_of(request)
    if principal.user_id is None:
        raise AuthenticationError("no user behind this token")
    user = await engine_of(request).records.get(principal, "user", principal.user_id)
    return JSONResponse({"user": user, "execution_id": principal.execution_id})


routes = [
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/auth/me", me, methods=["GET"]),
]
