"""``system``: every record of Engine, reached over its REST API."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from flow_api.client import Client
from flow_api.execution import ENDED, Execution, _failure, check_inputs
from flow_api.records import Record


class System:
    """The door to Engine's records.

    ``system.<kind>(name)`` (or ``(id, by='id')``) is one record of that kind;
    ``system.<kind>s(...)`` lists records. Kinds are those of Engine: ``setting``,
    ``flow``, ``file``, ``user``, ``message``, ``execution``, ...
    """

    def __init__(self, client: Client) -> None:
        self.client = client

    def __enter__(self) -> System:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def record(self, kind: str, ref: str, *, by: str = "name") -> Record:
        """One record: ``system.record('setting', 'x')`` is ``system.setting('x')``."""
        if kind == "execution":
            if by == "name":
                return Record(self, kind, ref, by=by)
            return Execution(self, ref)
        return Record(self, kind, ref, by=by)

    def records(
        self,
        kind: str,
        *,
        fields: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        filter_: dict[str, Any] | str | None = None,
        order: str | None = None,
        allow_normal: bool = True,
        allow_deleted: bool = False,
    ) -> list[Record]:
        """The records of ``kind`` that exist now (at most 1000; page with offset and order).

        The list is a snapshot: records created afterwards are not in it, and reading
        one deleted meanwhile raises ResourceNotFoundError.
        """
        wanted = "id" if not fields else f"id,{fields}"
        found = self.client.request(
            "GET",
            f"/{kind}",
            params={
                "fields": wanted,
                "limit": limit,
                "offset": offset,
                "filter": filter_,
                "order": order,
                "allow_normal": allow_normal,
                "allow_deleted": allow_deleted,
            },
        )
        out: list[Record] = []
        for item in found:
            record = self.record(kind, str(item["id"]), by="id")
            record._allow_deleted = allow_deleted
            out.append(record)
        return out

    def run(
        self,
        flow: str,
        inputs: dict[str, Any] | None = None,
        *,
        wait: bool = True,
        name: str | None = None,
        by: str = "name",
        timeout: float | None = None,
    ) -> Execution:
        """Start an execution of ``flow``; with ``wait``, return once it ended and raise
        DependencyFailedError when it did not succeed."""
        body: dict[str, Any] = {"flow_id" if by == "id" else "flow_name": flow, "input_value": check_inputs(inputs)}
        if name is not None:
            body["name"] = name
        if body["input_value"] is None:
            del body["input_value"]
        record = self.client.request("POST", "/execution", params={"wait": 30 if wait else None}, body=body)
        execution = Execution(self, str(record["id"]))
        if wait:
            if record.get("status") not in ENDED:
                record = execution.wait(timeout=timeout)
            if record.get("status") != "ENDED_SUCCESS":
                raise _failure([record])
        return execution

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        if name.endswith("s"):
            return partial(self.records, name[:-1])
        return partial(self.record, name)


def connect(url: str, token: str, *, timeout: float = 330.0) -> System:
    """A System for Engine at ``url`` (e.g. ``https://engine.example.com``), acting with ``token``."""
    return System(Client(url, token, timeout=timeout))
