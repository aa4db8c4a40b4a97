"""The per-request context: the Engine, the acting principal and the DataLoaders.

A request (or a websocket connection) brings its token as ``Authorization: Bearer``,
the ``engine_token`` cookie, or, on a websocket, in the ``connection_init`` payload
(``{"Authorization": "Bearer <token>"}`` or ``{"token": "<token>"}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from app.engine import Engine
from app.records.errors import AuthenticationError, EngineError, PermissionDenied
from app.records.permissions import Principal
from app.rest.http import request_token
from app.store.base import Doc


def connection_token(connection: HTTPConnection, params: dict[str, Any] | None = None) -> str | None:
    """The token a request or a websocket carries, if any."""
    if params:
        for key in ("Authorization", "authorization"):
            value = params.get(key)
            if isinstance(value, str):
                scheme, _, token = value.partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return token.strip()
        given = params.get("token")
        if isinstance(given, str) and given:
            return given
    return request_token(connection)


class Loaders:
    """Request-scoped batching: one ``$in`` query per relation kind per level."""

    def __init__(self, context: Context, *, cache: bool) -> None:
        self._context = context
        self._cache = cache
        self._records: dict[str, DataLoader[str, Doc | None]] = {}
        self._metadata: DataLoader[str, list[Doc]] | None = None

    def record(self, kind: str) -> DataLoader[str, Doc | None]:
        loader = self._records.get(kind)
        if loader is None:

            async def load(ids: list[str]) -> Sequence[Doc | None]:
                principal = await self._context.principal()
                try:
                    found = await self._context.engine.records.get_many(principal, kind, ids)
                except PermissionDenied:
                    return [None] * len(ids)  # a relation the principal may not read shows as null
                return [found.get(i) for i in ids]

            loader = self._records[kind] = DataLoader(load_fn=load, cache=self._cache)
        return loader

    def metadata(self) -> DataLoader[str, list[Doc]]:
        if self._metadata is None:

            async def load(ids: list[str]) -> Sequence[list[Doc]]:
                found = await self._context.engine.records.metadata_for(ids)
                return [found.get(i, []) for i in ids]

            self._metadata = DataLoader(load_fn=load, cache=self._cache)
        return self._metadata


class Context:
    """What every resolver reaches as ``info.context``."""

    def __init__(self, engine: Engine, request: HTTPConnection, response: Response | WebSocket) -> None:
        self.engine = engine
        self.request = request
        self.response = response
        self.connection_params: dict[str, Any] | None = None
        self._principal: Principal | None = None
        self._failure: EngineError | None = None
        self.loaders = Loaders(self, cache=not isinstance(request, WebSocket))

    @property
    def token(self) -> str | None:
        return connection_token(self.request, self.connection_params)

    async def authenticate(self) -> None:
        """Look the token up now; a failure is kept and raised by ``principal()``."""
        try:
            self._principal = await self.engine.auth.principal(self.token)
        except EngineError as exc:
            self._failure = exc

    async def principal(self) -> Principal:
        """The signed-in principal, or UNAUTHENTICATED."""
        if self._principal is None:
            if self._failure is None:
                await self.authenticate()
            if self._principal is None:
                raise self._failure or AuthenticationError("sign in first")
        return self._principal

    async def recheck(self) -> Principal:
        """The principal again from the token: a long-lived websocket notices a
        logout or a deactivated user (cheap: Auth caches resolved tokens briefly)."""
        self._principal = None
        self._failure = None
        return await self.principal()

    def forget(self) -> None:
        self._principal = None
        self._failure = AuthenticationError("signed out; sign in again")
