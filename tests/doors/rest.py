"""The REST door: the records contract over /api/latest with httpx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

from tests.doors import Door, DoorError, Listing, Record, register
from tests.servers import RunningEngine


def _ref(ref: str) -> str:
    return quote(ref, safe="")


def _flag(value: bool) -> str:
    return "true" if value else "false"


class RestDoor:
    name = "rest"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def _call(self, method: str, url: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        kwargs: dict[str, Any] = {"params": params or {}}
        if body is not None:
            kwargs["json"] = body
        response = await self.client.request(method, url, **kwargs)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                raise AssertionError(
                    f"{method} {url}: {response.status_code} without an error body: {response.text}"
                ) from None
            raise DoorError(error["code"], error["message"])
        self.last = response
        return response.json() if response.content else None

    async def create(self, kind: str, fields: Record) -> Record:
        result: Record = await self._call("POST", f"/{kind}", body=fields)
        return result

    async def save(self, kind: str, name: str, fields: Record) -> tuple[Record, bool]:
        result: Record = await self._call("PUT", f"/{kind}/{_ref(name)}", params={"by": "name"}, body=fields)
        return result, self.last.status_code == 201

    async def get(
        self,
        kind: str,
        ref: str,
        *,
        by: str = "id",
        fields: Sequence[str] | None = None,
        allow_deleted: bool = False,
    ) -> Record:
        params: dict[str, Any] = {}
        if by != "id":
            params["by"] = by
        if fields is not None:
            params["fields"] = ",".join(fields)
        if allow_deleted:
            params["allow_deleted"] = "true"
        result: Record = await self._call("GET", f"/{kind}/{_ref(ref)}", params=params)
        return result

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
        params: dict[str, Any] = {}
        if filter is not None:
            params["filter"] = json.dumps(filter)
        if fields is not None:
            params["fields"] = ",".join(fields)
        if limit is not None:
            params["limit"] = str(limit)
        if offset is not None:
            params["offset"] = str(offset)
        if order is not None:
            params["order"] = order
        if allow_normal is not None:
            params["allow_normal"] = _flag(allow_normal)
        if allow_deleted is not None:
            params["allow_deleted"] = _flag(allow_deleted)
        items = await self._call("GET", f"/{kind}", params=params)
        total = self.last.headers.get("x-total-count")
        return Listing(items, int(total) if total is not None else None)

    async def update(self, kind: str, ref: str, fields: Record, *, by: str = "id") -> Record:
        params = {"by": by} if by != "id" else {}
        result: Record = await self._call("PATCH", f"/{kind}/{_ref(ref)}", params=params, body=fields)
        return result

    async def delete(self, kind: str, ref: str, *, by: str = "id", permanently: bool = False) -> Record:
        params: dict[str, Any] = {"by": by} if by != "id" else {}
        if permanently:
            params["permanently"] = "true"
        result: Record = await self._call("DELETE", f"/{kind}/{_ref(ref)}", params=params)
        return result

    async def restore(self, kind: str, ref: str) -> Record:
        result: Record = await self._call("POST", f"/{kind}/{_ref(ref)}/restore")
        return result

    async def metadata_list(self, kind: str, record_id: str) -> list[Record]:
        result: list[Record] = await self._call("GET", f"/{kind}/{_ref(record_id)}/metadata")
        return result

    async def metadata_set(self, kind: str, record_id: str, key: str, data: Any) -> tuple[Record, bool]:
        result: Record = await self._call("PUT", f"/{kind}/{_ref(record_id)}/metadata/{_ref(key)}", body={"data": data})
        return result, self.last.status_code == 201

    async def metadata_delete(self, kind: str, record_id: str, key: str) -> None:
        await self._call("DELETE", f"/{kind}/{_ref(record_id)}/metadata/{_ref(key)}")


@register("rest")
@asynccontextmanager
async def rest_door(server: RunningEngine, token: str) -> AsyncIterator[Door]:
    async with httpx.AsyncClient(
        base_url=server.url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        yield RestDoor(client)
