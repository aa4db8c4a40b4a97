"""``/graphql`` in the Starlette app: GET serves GraphiQL, POST runs queries, and a
websocket speaks graphql-transport-ws for subscriptions."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UnsetType

from app.config import Settings
from app.engine import Engine
from app.json_codec import dumps
from app.main import ExtensionParts
from schema.build import make_schema
from schema.context import Context

STATIC = Path(__file__).with_name("static")


class EngineGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with Engine's context and token handling."""

    @cached_property
    def graphql_ide_html(self) -> str:
        # Strawberry's page loads GraphiQL from a public CDN; Engine serves its own copy.
        return (STATIC / "graphiql.html").read_text(encoding="utf-8")

    def encode_json(self, data: object) -> bytes:
        return dumps(data)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        engine: Engine = request.app.state.engine
        context = Context(engine, request, response)
        if isinstance(request, Request) and context.token:
            # Looked up before any resolver runs, so its cost is the same for every request.
            await context.authenticate()
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        await context.authenticate()
        try:
            await context.principal()
        except Exception:
            raise ConnectionRejectionError() from None
        return None


def graphql_app(settings: Settings) -> EngineGraphQL:
    return EngineGraphQL(make_schema(settings), graphql_ide="graphiql")


def extension(settings: Settings) -> ExtensionParts:
    view: Any = graphql_app(settings)
    assets = StaticFiles(directory=STATIC / "graphiql")
    return ExtensionParts(
        routes=[Mount("/graphql/static", assets), Route("/graphql", view), WebSocketRoute("/graphql", view)]
    )
