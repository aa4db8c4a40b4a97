"""REST routes of the runtime, and the extension that starts it with Engine.

POST /api/latest/execution                 {"flow_name"|"flow_id", "input_value"?, "name"?}  ?wait=SECONDS
                                           (without a flow: a plain execution record, nothing runs)
POST /api/latest/execution/{id}/cancel
GET  /api/latest/execution/{id}/wait       ?wait=SECONDS
GET  /api/latest/execution/{id}/log        ?offset=&limit=
POST /api/latest/execution/{id}/log        {"level", "message"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.records.errors import InvalidInputError
from app.rest.http import JSONResponse, Params, engine_of, principal_of, read_object
from app.runtime.service import Runtime

if TYPE_CHECKING:
    from app.config import Settings
    from app.engine import Engine
    from app.main import ExtensionParts

START_FIELDS = ("flow_name", "flow_id", "input_value", "name")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = engine_of(request).services["runtime"]
    return runtime


async def start_execution(request: Request) -> Response:
    p = Params(request, ("wait",))
    body = await read_object(request)
    if "flow_name" not in body and "flow_id" not in body and p.text("wait") is None:
        # No flow to run: a plain execution record, as every kind is created (the generic records door).
        record = await engine_of(request).records.create(await principal_of(request), "execution", body)
        return JSONResponse(record, status_code=201)
    unknown = sorted(set(body) - set(START_FIELDS))
    if unknown:
        raise InvalidInputError(
            f"unknown field {', '.join(unknown)}; an execution starts with {', '.join(START_FIELDS)}"
        )
    record = await _runtime(request).start_execution(
        await principal_of(request),
        flow_id=body.get("flow_id"),
        flow_name=body.get("flow_name"),
        input_value=body.get("input_value"),
        name=body.get("name"),
        wait=p.number("wait", None),
    )
    return JSONResponse(record, status_code=201)


async def cancel_execution(request: Request) -> Response:
    Params(request, ())
    record = await _runtime(request).cancel(await principal_of(request), request.path_params["id"])
    return JSONResponse(record)


async def wait_execution(request: Request) -> Response:
    p = Params(request, ("wait",))
    record = await _runtime(request).wait(await principal_of(request), request.path_params["id"], p.number("wait", 0))
    return JSONResponse(record)


async def read_log(request: Request) -> Response:
    p = Params(request, ("offset", "limit"))
    lines = await _runtime(request).log_page(
        await principal_of(request), request.path_params["id"], p.integer("offset", 0) or 0, p.integer("limit", None)
    )
    return JSONResponse(lines)


async def add_log(request: Request) -> Response:
    Params(request, ())
    body = await read_object(request)
    line = await _runtime(request).add_log(
        await principal_of(request), request.path_params["id"], body.get("level", "info"), body.get("message")
    )
    return JSONResponse(line, status_code=201)


routes = [
    Route("/execution", start_execution, methods=["POST"]),
    Route("/execution/{id}/cancel", cancel_execution, methods=["POST"]),
    Route("/execution/{id}/wait", wait_execution, methods=["GET"]),
    Route("/execution/{id}/log", read_log, methods=["GET"]),
    Route("/execution/{id}/log", add_log, methods=["POST"]),
]


def extension(settings: Settings) -> ExtensionParts:
    from app.main import ExtensionParts

    async def start(engine: Engine) -> None:
        runtime = Runtime(engine)
        await runtime.start()
        engine.services["runtime"] = runtime

    return ExtensionParts(api_routes=routes, start=start)
