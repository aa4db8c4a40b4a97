"""create_app(settings) -> Starlette: routes, error mapping, and the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from app.config import Settings
from app.engine import Engine
from app.records.errors import EngineError
from app.rest import auth as rest_auth
from app.rest import records as rest_records
from app.rest.http import JSONResponse, RequireToken, engine_error, http_error, internal_error
from app.rest.openapi import document

# Parts that add routes and start services (GraphQL, runtime) register here.
Extension = Callable[[Settings], "ExtensionParts"]


class ExtensionParts:
    def __init__(
        self,
        api_routes: Sequence[BaseRoute] = (),
        routes: Sequence[BaseRoute] = (),
        start: Callable[[Engine], Any] | None = None,
    ) -> None:
        self.api_routes = list(api_routes)
        self.routes = list(routes)
        self.start = start


EXTENSIONS: list[str] = ["app.runtime.api:extension", "schema.app:extension"]


def _load_extensions(settings: Settings) -> list[ExtensionParts]:
    import importlib

    parts: list[ExtensionParts] = []
    for target in EXTENSIONS:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that part is not built yet
            raise
        parts.append(getattr(module, attr)(settings))
    return parts


async def health(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    try:
        await engine.store.ping()
    except Exception as exc:  # health reports, it does not fail
        return JSONResponse({"status": "unavailable", "store": engine.store.name, "error": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "store": engine.store.name})


async def openapi(request: Request) -> Response:
    return JSONResponse(document(request.app.state.extension_api_routes))


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    parts = _load_extensions(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = await Engine.start(settings)
        app.state.engine = engine
        try:
            for part in parts:
                if part.start is not None:
                    await part.start(engine)
            yield
        finally:
            await engine.stop()

    api: list[BaseRoute] = [Route("/openapi.json", openapi, methods=["GET"]), *rest_auth.routes]
    for part in parts:
        api.extend(part.api_routes)
    api.extend(rest_records.routes)
    routes: list[BaseRoute] = [Route("/health", health, methods=["GET"])]
    for part in parts:
        routes.extend(part.routes)
    routes.append(Mount("/api/latest", routes=api, middleware=[Middleware(RequireToken)]))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={EngineError: engine_error, HTTPException: http_error, Exception: internal_error},
    )
    app.state.settings = settings
    app.state.extension_api_routes = [r for part in parts for r in part.api_routes]
    return app
