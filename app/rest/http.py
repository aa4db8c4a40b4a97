"""Request and response helpers shared by every REST route."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from starlette import responses
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.tokens import COOKIE
from app.engine import Engine
from app.json_codec import dumps
from app.records.errors import EngineError, MalformedRequestError, PayloadTooLargeError
from app.records.permissions import Principal

log = logging.getLogger("engine.rest")


class JSONResponse(responses.JSONResponse):
    """Starlette's JSON response, encoded by ``app.json_codec`` (a page of records is all JSON)."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def engine_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EngineError)
    response = error_response(exc.status, exc.code, exc.message)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 400: "BAD_INPUT", 413: "TOO_LARGE"}


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "ERROR"), str(exc.detail))


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "INTERNAL", "Engine failed to handle this request; the error is in its log")


def request_token(request: HTTPConnection) -> str | None:
    """The Bearer token, else the login cookie (of a request or a websocket)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE)


async def principal_of(request: Request) -> Principal:
    cached = request.scope.get("engine.principal")
    if isinstance(cached, Principal):
        return cached
    principal = await engine_of(request).auth.principal(request_token(request))
    request.scope["engine.principal"] = principal
    return principal


# Routes under /api/latest that answer strangers; every other one needs a token.
PUBLIC_API_PATHS = frozenset({"/auth/login", "/openapi.json"})


class RequireToken:
    """ASGI middleware for the /api/latest mount: resolve the principal before any
    handler runs, so a stranger gets 401 on every route (its own and the extensions')
    before parameters or a body are read; handlers find it cached by principal_of."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, root = scope["path"], scope.get("root_path", "")
            route_path = path[len(root) :] if root and path.startswith(root) else path
            if route_path not in PUBLIC_API_PATHS:
                await principal_of(Request(scope))
        await self.app(scope, receive, send)


async def read_json(request: Request) -> Any:
    limit = engine_of(request).settings.max_body_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLargeError(f"the request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLargeError(f"the request body is larger than {limit} bytes")
    if not body:
        raise MalformedRequestError("the request needs a JSON body")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequestError(f"the request body is not valid JSON: {exc}") from None


async def read_object(request: Request) -> dict[str, Any]:
    value = await read_json(request)
    if not isinstance(value, dict):
        raise MalformedRequestError("the request body must be a JSON object")
    return value


class Params:
    """Query parameters, checked: unknown ones and bad values are 400s."""

    def __init__(self, request: Request, allowed: Iterable[str]) -> None:
        self.values = request.query_params
        unknown = sorted(set(self.values) - set(allowed))
        if unknown:
            raise MalformedRequestError(
                f"unknown query parameter {', '.join(unknown)}; allowed: {', '.join(sorted(allowed)) or 'none'}"
            )

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def flag(self, name: str, default: bool) -> bool:
        raw = self.values.get(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in ("true", "1", "yes"):
            return True
        if value in ("false", "0", "no"):
            return False
        raise MalformedRequestError(f"query parameter {name} must be true or false, not {raw!r}")

    def integer(self, name: str, default: int | None) -> int | None:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise MalformedRequestError(f"query parameter {name} must be an integer, not {raw!r}") from None

    def number(self, name: str, default: float | None) -> float | None:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError:
            raise MalformedRequestError(f"query parameter {name} must be a number, not {raw!r}") from None

    def by(self) -> str:
        by = self.values.get("by", "id")
        if by not in ("id", "name"):
            raise MalformedRequestError(f"query parameter by must be id or name, not {by!r}")
        return by
