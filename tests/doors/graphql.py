"""The GraphQL door: the records contract through POST /graphql, typed per kind.

Records go in through the typed ``create<Kind>``/``save<Kind>``/``update<Kind>``
inputs (camelCase), filters through ``where`` (the JSON expression REST takes),
orders through ``sort``; records come back with their fields renamed to the
snake_case names the contract speaks, and absent fields (null) left out as REST
leaves them out. Also holds ``GraphqlClient``, which the GraphQL tests use.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from app.records.kinds import KINDS
from schema.ids import to_global, type_name
from schema.names import camel, shown_fields
from tests.doors import Door, DoorError, Listing, Record, register
from tests.servers import RunningEngine

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")


class GraphqlError(Exception):
    """The errors of a GraphQL response; ``code`` and ``message`` are the first one's."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        first = errors[0]
        self.errors = errors
        self.code = str((first.get("extensions") or {}).get("code", ""))
        self.message = str(first.get("message", ""))
        super().__init__(f"{self.code}: {self.message}")


class GraphqlClient:
    """POST /graphql with a token; ``run`` returns ``data`` or raises GraphqlError."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}})
        assert response.status_code == 200, f"{response.status_code}: {response.text}"
        body: dict[str, Any] = response.json()
        return body

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        if body.get("errors"):
            raise GraphqlError(body["errors"])
        data: dict[str, Any] = body["data"]
        return data


def _python_to_field(kind: str) -> dict[str, str]:
    return {camel(s.python): s.field.name for s in shown_fields(kind)}


def _selection(kind: str, fields: Sequence[str] | None) -> str:
    by_field = {s.field.name: camel(s.python) for s in shown_fields(kind)}
    if fields is None:
        return " ".join(by_field.values())
    names = ["uuid"]
    for name in fields:
        if not _NAME.match(name):
            # Not expressible as a GraphQL selection at all; the client refuses to build it.
            raise DoorError("BAD_INPUT", f"fields: {name!r} is not a field name")
        names.append(by_field.get(name, camel(name)))
    return " ".join(dict.fromkeys(names))


def _record(kind: str, data: dict[str, Any] | None) -> Record:
    assert data is not None
    back = _python_to_field(kind)
    return {back[k]: v for k, v in data.items() if v is not None and k in back}


def _input(kind: str, fields: Record) -> dict[str, Any]:
    return {camel(k): v for k, v in fields.items()}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        # The schema has no types for it: a GraphQL client cannot even write the request.
        raise DoorError("BAD_INPUT", f"the GraphQL schema has no record kind {kind!r}")


class GraphqlDoor:
    name = "graphql"

    def __init__(self, client: GraphqlClient) -> None:
        self.gql = client

    async def _run(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.gql.run(query, variables)
        except GraphqlError as exc:
            raise DoorError(exc.code, exc.message) from None

    async def create(self, kind: str, fields: Record) -> Record:
        _check_kind(kind)
        t = type_name(kind)
        data = await self._run(
            f"mutation($input: {t}Input!) {{ r: create{t}(input: $input) {{ {_selection(kind, None)} }} }}",
            {"input": _input(kind, fields)},
        )
        return _record(kind, data["r"])

    async def save(self, kind: str, name: str, fields: Record) -> tuple[Record, bool]:
        _check_kind(kind)
        t = type_name(kind)
        data = await self._run(
            f"mutation($name: String!, $input: {t}Input) {{ r: save{t}(name: $name, input: $input) "
            f"{{ created record {{ {_selection(kind, None)} }} }} }}",
            {"name": name, "input": _input(kind, fields)},
        )
        return _record(kind, data["r"]["record"]), bool(data["r"]["created"])

    async def get(
        self,
        kind: str,
        ref: str,
        *,
        by: str = "id",
        fields: Sequence[str] | None = None,
        allow_deleted: bool = False,
    ) -> Record:
        _check_kind(kind)
        arg = "id: $ref" if by == "id" else "name: $ref"
        data = await self._run(
            f"query($ref: {'ID' if by == 'id' else 'String'}!, $deleted: Boolean!) "
            f"{{ r: {camel(kind)}({arg}, includeDeleted: $deleted) {{ {_selection(kind, fields)} }} }}",
            {"ref": ref, "deleted": allow_deleted},
        )
        return _record(kind, data["r"])

    async def list(
        self,
        kind: str,
        *,
        filter: Any = None,
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        order: str | None = None,
        allow_normal: bool | None = None,
        allow_deleted: bool | None = None,
    ) -> Listing:
        _check_kind(kind)
        variables: dict[str, Any] = {
            # The JSON text, as REST's query parameter carries it.
            "where": None if filter is None else json.dumps(filter),
            "first": 1000 if limit is None else limit,
            "offset": offset or 0,
            "sort": order,
            "normal": True if allow_normal is None else allow_normal,
            "deleted": bool(allow_deleted),
        }
        data = await self._run(
            "query($where: JSON, $first: Int, $offset: Int!, $sort: String, $normal: Boolean!, $deleted: Boolean!) "
            f"{{ r: {camel(KINDS[kind].plural)}(where: $where, first: $first, offset: $offset, sort: $sort, "
            "includeNormal: $normal, includeDeleted: $deleted) "
            f"{{ totalCount nodes {{ {_selection(kind, fields)} }} }} }}",
            variables,
        )
        return Listing([_record(kind, n) for n in data["r"]["nodes"]], data["r"]["totalCount"])

    async def _id_by_name(self, kind: str, name: str) -> str:
        found = await self.get(kind, name, by="name", fields=["id"], allow_deleted=True)
        return str(found["id"])

    async def update(self, kind: str, ref: str, fields: Record, *, by: str = "id") -> Record:
        _check_kind(kind)
        t = type_name(kind)
        ref = ref if by == "id" else await self._id_by_name(kind, ref)
        data = await self._run(
            f"mutation($id: ID!, $patch: {t}Input!) {{ r: update{t}(id: $id, patch: $patch) "
            f"{{ {_selection(kind, None)} }} }}",
            {"id": ref, "patch": _input(kind, fields)},
        )
        return _record(kind, data["r"])

    async def delete(self, kind: str, ref: str, *, by: str = "id", permanently: bool = False) -> Record:
        _check_kind(kind)
        ref = ref if by == "id" else await self._id_by_name(kind, ref)
        data = await self._run(
            f"mutation($id: ID!, $permanently: Boolean!) {{ r: deleteRecord(id: $id, permanently: $permanently) "
            f"{{ ... on {type_name(kind)} {{ {_selection(kind, None)} }} }} }}",
            {"id": to_global(kind, ref), "permanently": permanently},
        )
        return _record(kind, data["r"])

    async def restore(self, kind: str, ref: str) -> Record:
        _check_kind(kind)
        data = await self._run(
            f"mutation($id: ID!) {{ r: restoreRecord(id: $id) {{ ... on {type_name(kind)} "
            f"{{ {_selection(kind, None)} }} }} }}",
            {"id": to_global(kind, ref)},
        )
        return _record(kind, data["r"])

    @staticmethod
    def _entry(record_id: str, m: dict[str, Any]) -> Record:
        entry = {"key": m["key"], "data": m["data"], "record_id": record_id}
        entry.update({k: v for k, v in (("created_at", m["createdAt"]), ("modified_at", m["modifiedAt"])) if v})
        return entry

    async def metadata_list(self, kind: str, record_id: str) -> list[Record]:
        _check_kind(kind)
        data = await self._run(
            f"query($id: ID!) {{ r: {camel(kind)}(id: $id, includeDeleted: true) "
            "{ metadata { key data createdAt modifiedAt } } }",
            {"id": record_id},
        )
        return [self._entry(record_id, m) for m in data["r"]["metadata"]]

    async def metadata_set(self, kind: str, record_id: str, key: str, data: Any) -> tuple[Record, bool]:
        _check_kind(kind)
        result = await self._run(
            "mutation($id: ID!, $key: String!, $data: JSON) { r: setMetadata(recordId: $id, key: $key, data: $data) "
            "{ created metadata { key data createdAt modifiedAt } } }",
            {"id": to_global(kind, record_id), "key": key, "data": data},
        )
        return self._entry(record_id, result["r"]["metadata"]), bool(result["r"]["created"])

    async def metadata_delete(self, kind: str, record_id: str, key: str) -> None:
        _check_kind(kind)
        await self._run(
            "mutation($id: ID!, $key: String!) { deleteMetadata(recordId: $id, key: $key) }",
            {"id": to_global(kind, record_id), "key": key},
        )


@register("graphql")
@asynccontextmanager
async def graphql_door(server: RunningEngine, token: str) -> AsyncIterator[Door]:
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        yield GraphqlDoor(GraphqlClient(client))


@asynccontextmanager
async def graphql_client(server: RunningEngine, token: str | None) -> AsyncIterator[GraphqlClient]:
    """A GraphqlClient for the GraphQL tests (signed in when ``token`` is given)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:
        yield GraphqlClient(client)


async def on_server_loop(server: RunningEngine, coro: Any) -> Any:
    """Run ``coro`` on the Engine's own event loop (its store is bound to it)."""
    import asyncio

    loop = server.engine._tasks[0].get_loop()  # the loop Engine.start ran on
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
