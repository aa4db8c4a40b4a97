"""The OpenAPI document describes every REST route, for every kind."""

from __future__ import annotations

import re

import httpx
from starlette.routing import BaseRoute, Mount, Route

from app.records.kinds import KINDS
from tests.servers import RunningEngine


def _routes(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= _routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            # OpenAPI writes {ref} where Starlette writes {ref:path}.
            path = re.sub(r"{(\w+):\w+}", r"{\1}", prefix + route.path)
            found |= {(m.lower(), path) for m in route.methods or () if m != "HEAD"}
    return found


def _rest(path: str) -> bool:
    # GraphQL has its own schema (and SDL snapshot); OpenAPI describes the REST API.
    return path == "/health" or (path.startswith("/api/latest/") and "graphql" not in path)


async def test_openapi_describes_every_route(engine_server: RunningEngine, anon: httpx.AsyncClient) -> None:
    response = await anon.get("/api/latest/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    described = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "patch", "delete")
    }
    served: set[tuple[str, str]] = set()
    for method, path in _routes(list(engine_server.server.config.app.routes)):  # type: ignore[attr-defined]
        if not _rest(path):
            continue
        if "{kind}" in path:
            served |= {(method, path.replace("{kind}", kind)) for kind in KINDS}
        else:
            served.add((method, path))
    assert served - described == set(), "routes the document does not describe"
    assert described - served == set(), "the document describes routes that do not exist"


async def test_openapi_schemas_follow_the_kinds_registry(anon: httpx.AsyncClient) -> None:
    document = (await anon.get("/api/latest/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for kind in KINDS.values():
        title = kind.name.title().replace("_", "")
        shown = set(schemas[title]["properties"])
        assert shown == {f.name for f in kind.visible()}, kind.name
        writable = set(schemas[f"{title}Input"]["properties"]) - {"password"}
        assert writable == {f.name for f in kind.visible() if f.writable}, kind.name
        for hidden in (f.name for f in kind.fields.values() if f.hidden):
            assert hidden not in shown
    listing = document["paths"]["/api/latest/setting"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "filter",
        "fields",
        "limit",
        "offset",
        "order",
        "allow_normal",
        "allow_deleted",
    }
    assert "X-Total-Count" in listing["responses"]["200"]["headers"]
