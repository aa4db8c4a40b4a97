"""GraphQL read figures on the embedded store: one page of executions with relations.

    .venv/bin/python -m bench.graphql_bench [--records 100] [--seconds 3]

Starts a real Engine on a fresh SQLite store (in this process, on its own thread and
loop) with one flow and ``--records`` ended executions, each with one metadata entry,
then measures requests per second, one client, one request at a time, interleaved, of:

- graphql: the page query of the no-N+1 test (``flow { name }``, ``createdBy { name }``,
  ``metadata { key data }``) over HTTP;
- graphql-core: the same query to a second Engine on the same store started with
  ``graphql_compiled=False`` (graphql-core's executor alone, as before schema.execution);
- raw: the same data read straight from the SQLite file with the standard library
  (the execution documents, then their flows, users and metadata by ``IN``, JSON decoded);
- rest: ``GET /api/latest/execution`` with the same filter, order and page size
  (executions only: REST has no relations).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

# Run as a script (make bench) or as a module: the repository root holds app/ and tests/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.records.permissions import SYSTEM
from app.records.values import new_id, now
from tests.servers import RunningEngine, login, start_engine, store_settings

QUERY = """query($flow: ID!, $first: Int!) {
  executions(filter: {flowId: {eq: $flow}}, first: $first, sort: "name") {
    edges { node { name status flow { name } createdBy { name } metadata { key data } } }
  }
}"""


async def _seed(engine: Any, count: int) -> str:
    flow = await engine.records.create(SYSTEM, "flow", {"name": "bench-flow", "script": "x"})
    admin = (await engine.records.get(SYSTEM, "user", "admin", by="name"))["id"]
    stamp = now()
    docs = [
        {
            "id": new_id(),
            "name": f"run-{i:05}",
            "flow_id": flow["id"],
            "status": "ENDED_SUCCESS",
            "created_at": stamp,
            "modified_at": stamp,
            "created_by": admin,
            "modified_by": admin,
            "alive": True,
        }
        for i in range(count)
    ]
    await engine.store.insert_many("execution", docs)
    await engine.store.insert_many(
        "metadata",
        [
            {"id": new_id(), "record_id": d["id"], "record_kind": "execution", "key": "n", "data": i}
            | {"created_at": stamp, "modified_at": stamp}
            for i, d in enumerate(docs)
        ],
    )
    return str(flow["id"])


def _raw_page(db: sqlite3.Connection, flow_id: str, count: int) -> list[dict[str, Any]]:
    """The page as a hand-written reader would get it: four queries, JSON decoded."""

    def docs(rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return [{"id": id_, **json.loads(doc)} for id_, doc in rows]

    runs = docs(
        db.execute(
            "SELECT id, doc FROM execution WHERE json_extract(doc, '$.flow_id') = ? "
            "AND json_extract(doc, '$.alive') = 1 ORDER BY json_extract(doc, '$.name'), id LIMIT ?",
            (flow_id, count),
        ).fetchall()
    )

    def by_id(table: str, ids: set[str]) -> dict[str, dict[str, Any]]:
        marks = ",".join("?" * len(ids))
        return {
            d["id"]: d
            for d in docs(db.execute(f"SELECT id, doc FROM {table} WHERE id IN ({marks})", [*ids]).fetchall())
        }

    flows = by_id("flow", {r["flow_id"] for r in runs})
    users = by_id('"user"', {r["created_by"] for r in runs})
    marks = ",".join("?" * len(runs))
    metadata: dict[str, list[dict[str, Any]]] = {}
    for m in docs(
        db.execute(
            f"SELECT id, doc FROM metadata WHERE json_extract(doc, '$.record_id') IN ({marks})", [r["id"] for r in runs]
        ).fetchall()
    ):
        metadata.setdefault(m["record_id"], []).append({"key": m["key"], "data": m["data"]})
    return [
        {
            "name": r["name"],
            "status": r["status"],
            "flow": {"name": flows[r["flow_id"]]["name"]},
            "createdBy": {"name": users[r["created_by"]]["name"]},
            "metadata": metadata.get(r["id"], []),
        }
        for r in runs
    ]


async def _rates(seconds: float, calls: dict[str, Callable[[], Awaitable[Any]]], rounds: int = 20) -> dict[str, float]:
    """Requests per second of each call, interleaved in short slices so that a machine
    busy with other work weighs on all of them alike."""
    done = dict.fromkeys(calls, 0)
    spent = dict.fromkeys(calls, 0.0)
    for call in calls.values():
        await call()  # warm
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            while time.perf_counter() - started < seconds / rounds:
                await call()
                done[name] += 1
            spent[name] += time.perf_counter() - started
    return {name: done[name] / spent[name] for name in calls}


async def run(records: int, seconds: float) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="engine-bench-")) / "data"
    server: RunningEngine = start_engine(store_settings("sqlite", None, data_dir, workers=1))
    plain: RunningEngine = start_engine(server.settings.model_copy(update={"graphql_compiled": False}))
    try:
        loop = server.engine._tasks[0].get_loop()
        flow_id = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_seed(server.engine, records), loop))
        token = await login(server.url)
        db = sqlite3.connect(server.settings.sqlite_path)
        auth = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(base_url=server.url, headers=auth) as client,
            httpx.AsyncClient(base_url=plain.url, headers=auth) as plain_client,
        ):
            variables = {"flow": flow_id, "first": records}

            async def page(through: httpx.AsyncClient) -> None:
                response = await through.post("/graphql", json={"query": QUERY, "variables": variables})
                body = response.json()
                assert "errors" not in body and len(body["data"]["executions"]["edges"]) == records, body

            async def graphql() -> None:
                await page(client)

            async def graphql_core() -> None:
                await page(plain_client)

            async def raw() -> None:
                assert len(_raw_page(db, flow_id, records)) == records

            rest_filter = json.dumps({"field": "flow_id", "op": "eq", "value": flow_id})

            async def rest() -> None:
                response = await client.get(
                    "/api/latest/execution", params={"filter": rest_filter, "order": "name", "limit": records}
                )
                assert response.status_code == 200 and len(response.json()) == records

            figures = await _rates(
                seconds, {"graphql": graphql, "graphql-core": graphql_core, "raw": raw, "rest": rest}
            )
        db.close()
        return figures
    finally:
        plain.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    figures = asyncio.run(run(args.records, args.seconds))
    print(f"page of {args.records} executions with flow, createdBy and metadata, SQLite store")
    for name, rate in figures.items():
        print(f"  {name:12} {rate:8.1f} requests/s  ({1000 / rate:5.2f} ms)")
    ratio = figures["graphql"] / figures["raw"]
    print(f"  GraphQL/raw  {ratio:.3f}  (raw reads are {1 / ratio:.1f}x faster; target: within 3x)")
    print(f"  GraphQL/REST {figures['graphql'] / figures['rest']:.2f}")
    print(f"  compiled steps / graphql-core alone: {figures['graphql'] / figures['graphql-core']:.2f}x the requests")


if __name__ == "__main__":
    main()
