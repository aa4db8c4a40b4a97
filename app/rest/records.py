"""Record routes: /api/latest/{kind}[/{ref}[/restore|/metadata[/{key}]]]."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.records.errors import MalformedRequestError
from app.records.kinds import get_kind
from app.rest.http import JSONResponse, Params, engine_of, principal_of, read_object

LIST_PARAMS = ("filter", "fields", "limit", "offset", "order", "allow_normal", "allow_deleted")


async def _kind(request: Request) -> str:
    # Authenticate before reading anything else of the request: strangers get a 401,
    # not parse errors, and their bodies are never read.
    await principal_of(request)
    return get_kind(request.path_params["kind"]).name


async def list_records(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, LIST_PARAMS)
    page = await engine_of(request).records.list_records(
        await principal_of(request),
        kind,
        filter=p.text("filter"),
        fields=p.text("fields"),
        limit=p.integer("limit", None),
        offset=p.integer("offset", 0) or 0,
        order=p.text("order"),
        allow_normal=p.flag("allow_normal", True),
        allow_deleted=p.flag("allow_deleted", False),
    )
    return JSONResponse(page.items, headers={"X-Total-Count": str(page.total)})


async def create_record(request: Request) -> Response:
    kind = await _kind(request)
    Params(request, ())
    body = await read_object(request)
    record = await engine_of(request).records.create(await principal_of(request), kind, body)
    return JSONResponse(record, status_code=201)


async def get_record(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, ("by", "fields", "allow_deleted"))
    record = await engine_of(request).records.get(
        await principal_of(request),
        kind,
        request.path_params["ref"],
        by=p.by(),
        fields=p.text("fields"),
        allow_deleted=p.flag("allow_deleted", False),
    )
    return JSONResponse(record)


async def save_record(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, ("by",))
    if p.by() != "name":
        raise MalformedRequestError("PUT saves a record by its name: use PUT /api/latest/{kind}/{name}?by=name")
    body = await read_object(request)
    record, created = await engine_of(request).records.save(
        await principal_of(request), kind, request.path_params["ref"], body
    )
    return JSONResponse(record, status_code=201 if created else 200)


async def update_record(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, ("by",))
    body = await read_object(request)
    record = await engine_of(request).records.update(
        await principal_of(request), kind, request.path_params["ref"], body, by=p.by()
    )
    return JSONResponse(record)


async def delete_record(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, ("by", "permanently"))
    record = await engine_of(request).records.delete(
        await principal_of(request),
        kind,
        request.path_params["ref"],
        by=p.by(),
        permanently=p.flag("permanently", False),
    )
    return JSONResponse(record)


async def restore_record(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, ("by",))
    record = await engine_of(request).records.restore(
        await principal_of(request), kind, request.path_params["ref"], by=p.by()
    )
    return JSONResponse(record)


async def _record_id(request: Request, kind: str, p: Params) -> str:
    """Metadata routes take ?by=name too; the service keys metadata by id."""
    ref = request.path_params["ref"]
    if p.by() == "id":
        return str(ref)
    record = await engine_of(request).records.get(
        await principal_of(request), kind, ref, by="name", fields="id", allow_deleted=True
    )
    return str(record["id"])


async def list_metadata(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, ("by",))
    items = await engine_of(request).records.metadata_list(
        await principal_of(request), kind, await _record_id(request, kind, p)
    )
    return JSONResponse(items)


async def get_metadata(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, ("by",))
    entry = await engine_of(request).records.metadata_get(
        await principal_of(request), kind, await _record_id(request, kind, p), request.path_params["key"]
    )
    return JSONResponse(entry)


async def put_metadata(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, ("by",))
    body = await read_object(request)
    if set(body) != {"data"}:
        raise MalformedRequestError('the body must be {"data": <any JSON>}')
    entry, created = await engine_of(request).records.metadata_set(
        await principal_of(request),
        kind,
        await _record_id(request, kind, p),
        request.path_params["key"],
        body["data"],
    )
    return JSONResponse(entry, status_code=201 if created else 200)


async def delete_metadata(request: Request) -> Response:
    kind = await _kind(request)
    p = Params(request, ("by",))
    await engine_of(request).records.metadata_delete(
        await principal_of(request), kind, await _record_id(request, kind, p), request.path_params["key"]
    )
    return Response(status_code=204)


# A name may hold "/" (URL-encoded or not, it reaches us decoded), so refs match as
# paths; the routes with a suffix come first and win for names ending in that suffix.
routes = [
    Route("/{kind}", list_records, methods=["GET"]),
    Route("/{kind}", create_record, methods=["POST"]),
    Route("/{kind}/{ref:path}/metadata/{key:path}", get_metadata, methods=["GET"]),
    Route("/{kind}/{ref:path}/metadata/{key:path}", put_metadata, methods=["PUT"]),
    Route("/{kind}/{ref:path}/metadata/{key:path}", delete_metadata, methods=["DELETE"]),
    Route("/{kind}/{ref:path}/metadata", list_metadata, methods=["GET"]),
    Route("/{kind}/{ref:path}/restore", restore_record, methods=["POST"]),
    Route("/{kind}/{ref:path}", get_record, methods=["GET"]),
    Route("/{kind}/{ref:path}", save_record, methods=["PUT"]),
    Route("/{kind}/{ref:path}", update_record, methods=["PATCH"]),
    Route("/{kind}/{ref:path}", delete_record, methods=["DELETE"]),
]
