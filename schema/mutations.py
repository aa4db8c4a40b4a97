"""The Mutation type: create/save/update per kind, trash, metadata, sign-in, executions."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry

from app.auth.tokens import COOKIE
from app.records.errors import AuthenticationError, EngineError
from app.records.kinds import KINDS, Kind
from schema.context import Context
from schema.errors import RuntimeMissingError
from schema.ids import from_global, record_id, type_name
from schema.inputs import record_values
from schema.objects import Record
from schema.records import Metadata, Rec, metadata_of
from schema.scalars import JSON, DateTime


def _create(kind: Kind) -> Any:
    async def resolve(info: strawberry.Info, input: Any) -> Any:
        context: Context = info.context
        doc = await context.engine.records.create(await context.principal(), kind.name, record_values(input))
        return Rec(kind.name, doc, context)

    t = type_name(kind.name)
    resolve.__annotations__ = {"info": strawberry.Info, "input": f"{t}Input", "return": t}
    resolve.__module__ = "schema.objects"
    return strawberry.field(resolver=resolve, description=f"Create a {kind.name}; CONFLICT if the name is taken.")


def _save(kind: Kind) -> Any:
    t = type_name(kind.name)
    payload = strawberry.type(
        type(
            f"Save{t}Payload", (), {"__annotations__": {"record": t, "created": bool}, "__module__": "schema.objects"}
        ),
        description=f"The saved {kind.name} and whether it was created.",
    )
    import schema.objects

    setattr(schema.objects, payload.__name__, payload)

    async def resolve(info: strawberry.Info, name: str, input: Any = None) -> Any:
        context: Context = info.context
        doc, created = await context.engine.records.save(
            await context.principal(), kind.name, name, record_values(input)
        )
        return payload(record=Rec(kind.name, doc, context), created=created)

    resolve.__annotations__ = {"info": strawberry.Info, "name": str, "input": f"{t}Input | None", "return": payload}
    resolve.__module__ = "schema.objects"
    return strawberry.field(
        resolver=resolve,
        description=f"Create the {kind.name} of this name, or overwrite the given fields of the live one "
        "(READ_ONLY if it is read-only).",
    )


def _update(kind: Kind) -> Any:
    async def resolve(info: strawberry.Info, id: strawberry.ID, patch: Any) -> Any:
        context: Context = info.context
        doc = await context.engine.records.update(
            await context.principal(), kind.name, record_id(kind.name, id), record_values(patch)
        )
        return Rec(kind.name, doc, context)

    t = type_name(kind.name)
    resolve.__annotations__ = {"info": strawberry.Info, "id": strawberry.ID, "patch": f"{t}Input", "return": t}
    resolve.__module__ = "schema.objects"
    return strawberry.field(
        resolver=resolve, description=f"Change fields of a {kind.name} (uuid or global id); null removes a field."
    )


async def _delete_record(info: strawberry.Info, id: strawberry.ID, permanently: bool = False) -> Record:
    kind, uuid_ = from_global(id)
    context: Context = info.context
    doc = await context.engine.records.delete(await context.principal(), kind, uuid_, permanently=permanently)
    return Rec(kind, doc, context)


async def _restore_record(info: strawberry.Info, id: strawberry.ID) -> Record:
    kind, uuid_ = from_global(id)
    context: Context = info.context
    doc = await context.engine.records.restore(await context.principal(), kind, uuid_)
    return Rec(kind, doc, context)


@strawberry.type(description="The metadata entry as set, and whether it was new.")
class SetMetadataPayload:
    metadata: Metadata
    created: bool


async def _set_metadata(
    info: strawberry.Info, record_id: strawberry.ID, key: str, data: JSON | None = None
) -> SetMetadataPayload:
    kind, uuid_ = from_global(record_id)
    context: Context = info.context
    entry, created = await context.engine.records.metadata_set(await context.principal(), kind, uuid_, key, data)
    return SetMetadataPayload(metadata=metadata_of(entry), created=created)


async def _delete_metadata(info: strawberry.Info, record_id: strawberry.ID, key: str) -> bool:
    kind, uuid_ = from_global(record_id)
    context: Context = info.context
    await context.engine.records.metadata_delete(await context.principal(), kind, uuid_, key)
    return True


def _login_user(root: LoginPayload) -> Any:
    return root.user_record


_login_user.__annotations__ = {"return": "User"}
_login_user.__module__ = "schema.objects"


@strawberry.type(description="A new session: the token to send as Authorization: Bearer, and the user.")
class LoginPayload:
    token: str
    expires_at: DateTime
    user_record: strawberry.Private[Rec]
    user = strawberry.field(resolver=_login_user, description="The signed-in user.")


async def _login(info: strawberry.Info, user_name: str, password: str) -> LoginPayload:
    context: Context = info.context
    done = await context.engine.auth.login(user_name, password)
    response = context.response
    if hasattr(response, "set_cookie") and not hasattr(response, "accept"):
        response.set_cookie(
            COOKIE,
            done.token,
            httponly=True,
            samesite="lax",
            secure=context.request.url.scheme == "https",
            max_age=int(context.engine.auth.token_ttl.total_seconds()),
            path="/",
        )
    return LoginPayload(
        token=done.token, expires_at=DateTime(done.expires_at), user_record=Rec("user", done.user, context)
    )


async def _logout(info: strawberry.Info) -> bool:
    context: Context = info.context
    await context.principal()
    token = context.token
    if token is None:
        raise AuthenticationError("sign in first")
    await context.engine.auth.revoke(token)
    context.forget()
    response = context.response
    if hasattr(response, "delete_cookie") and not hasattr(response, "accept"):
        response.delete_cookie(COOKIE, path="/")
    return True


def _runtime(context: Context) -> Any:
    runtime = context.engine.services.get("runtime")
    if runtime is None:
        raise RuntimeMissingError("the flow runtime is not running in this Engine; executions cannot start")
    return runtime


async def _start_execution(
    info: strawberry.Info,
    flow: str,
    inputs: JSON | None = None,
    wait: float | None = None,
    name: str | None = None,
) -> Any:
    context: Context = info.context
    runtime = _runtime(context)
    flow_id: str | None = None
    flow_name: str | None = None
    try:
        flow_id = str(uuid.UUID(flow))
    except ValueError:
        try:
            kind, raw = from_global(flow)
            flow_id = raw if kind == "flow" else None
        except EngineError:
            pass  # not an id: a name
        if flow_id is None:
            flow_name = flow
    doc = await runtime.start_execution(
        await context.principal(), flow_id=flow_id, flow_name=flow_name, input_value=inputs, name=name, wait=wait
    )
    return Rec("execution", doc, context)


_start_execution.__annotations__["return"] = "Execution"
_start_execution.__module__ = "schema.objects"


async def _cancel_execution(info: strawberry.Info, id: strawberry.ID) -> Any:
    context: Context = info.context
    runtime = _runtime(context)
    doc = await runtime.cancel(await context.principal(), record_id("execution", id))
    return Rec("execution", doc, context)


_cancel_execution.__annotations__["return"] = "Execution"
_cancel_execution.__module__ = "schema.objects"


def mutation_type() -> Any:
    namespace: dict[str, Any] = {"__module__": "schema.objects"}
    for kind in KINDS.values():
        # createExecution makes a bare record, as REST's generic POST does; startExecution runs a flow.
        namespace[f"create_{kind.name}"] = _create(kind)
        if not kind.activity:
            namespace[f"save_{kind.name}"] = _save(kind)
        namespace[f"update_{kind.name}"] = _update(kind)
    namespace["delete_record"] = strawberry.field(
        resolver=_delete_record, description="Move a record (global id) to the trash, or delete it permanently."
    )
    namespace["restore_record"] = strawberry.field(
        resolver=_restore_record, description="Bring a record (global id) back from the trash."
    )
    namespace["set_metadata"] = strawberry.field(
        resolver=_set_metadata, description="Set the JSON data under key on a record (global id)."
    )
    namespace["delete_metadata"] = strawberry.field(
        resolver=_delete_metadata, description="Remove the metadata under key from a record (global id)."
    )
    namespace["login"] = strawberry.field(
        resolver=_login, description="Sign in; also sets the engine_token cookie for browsers."
    )
    namespace["logout"] = strawberry.field(resolver=_logout, description="Revoke the token this request carries.")
    namespace["start_execution"] = strawberry.field(
        resolver=_start_execution,
        description="Run a flow (by name, uuid or global id) with inputs; wait: seconds to wait for its end.",
    )
    namespace["cancel_execution"] = strawberry.field(resolver=_cancel_execution, description="Cancel an execution.")
    return strawberry.type(type("Mutation", (), namespace), description="Changing records.")
