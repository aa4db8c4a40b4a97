"""GraphQL read figures on the embedded store: one page of executions with relations.

    .venv/bin/python bench/graphql_bench.py [--records 100] [--seconds 6]

Seeds a fresh SQLite store with one flow and ``--records`` ended executions, each with one
metadata entry, then starts two Engines on it as users run them (``engine serve``, each
its own process): one as shipped, one with ``ENGINE_GRAPHQL_COMPILED=false``. It measures
requests per second, one request at a time, interleaved, of:

- graphql: the page query of the no-N+1 test (``flow { name }``, ``createdBy { name }``,
  ``metadata { key data }``) over HTTP;
- graphql-core: the same query to the second Engine (graphql-core's executor alone);
- raw: the same data read straight from the SQLite file with the standard library
  (the execution documents, then their flows, users and metadata by ``IN``, JSON decoded);
- rest: ``GET /api/latest/execution`` with the same filter, order and page size
  (executions only: REST has no relations);
- graphql (httpx): the graphql request again, sent with httpx.

The first four send their requests with a minimal keep-alive HTTP/1.1 client (the request
encoded once, the answer read by its Content-Length and JSON decoded), so that they
measure Engine rather than the client: httpx alone spends about a millisecond a request,
which the last figure shows.

Where the machine has two CPUs, the bench's own process (the client) runs on the first, and
the Engines and the raw reads (a process of their own) on the second: both sides of the
ratio are measured on the same core, and the client does not take turns with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

# Run as a script (make bench) or as a module: the repository root holds app/ and tests/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engine import Engine
from app.records.permissions import SYSTEM
from app.records.values import new_id, now
from tests.servers import ADMIN, ADMIN_PASSWORD, login, store_settings

ROOT = Path(__file__).resolve().parent.parent
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


class LeanClient:
    """One keep-alive HTTP/1.1 connection: requests encoded once, answers read by their
    Content-Length (Engine always sends one) and JSON decoded."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token

    async def __aenter__(self) -> LeanClient:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()

    def request(self, method: str, target: str, body: Any = None) -> bytes:
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
        data = b"" if body is None else orjson.dumps(body)
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        return (head + "\r\n").encode() + data

    async def send(self, request: bytes) -> tuple[int, Any]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = next(int(line[15:]) for line in head.split(b"\r\n") if line[:15].lower() == b"content-length:")
        return int(head[9:12]), orjson.loads(await self.reader.readexactly(length))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serve(data_dir: Path, cpu: int | None, **env: str) -> Iterator[int]:
    """``engine serve`` on the data dir in its own process (on ``cpu``); yields its port once it answers."""
    port = _free_port()
    variables = {**os.environ, "ENGINE_DATA_DIR": str(data_dir), "ENGINE_WORKERS": "1", **env}
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, env=variables, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pin(proc.pid, cpu)  # before it forks its workers, which inherit the CPU
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("engine serve did not start")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


Rates = dict[str, list[float]]
Slice = Callable[[float], Awaitable[tuple[int, float]]]


def _looping(call: Callable[[], Awaitable[Any]]) -> Slice:
    """A slice of ``call`` made again and again, one at a time, for ``seconds``."""

    async def run(seconds: float) -> tuple[int, float]:
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            await call()
            done += 1
        return done, time.perf_counter() - started

    return run


async def _rates(seconds: float, slices: dict[str, Slice], rounds: int = 20) -> Rates:
    """Requests per second of each figure in each round: the figures take turns in short
    slices, so that a machine busy with other work weighs on all of them alike."""
    rates: Rates = {name: [] for name in slices}
    for run_slice in slices.values():
        await run_slice(0.05)  # warm
    for _ in range(rounds):
        for name, run_slice in slices.items():
            done, spent = await run_slice(seconds / rounds)
            rates[name].append(done / spent)
    return rates


class RawReader:
    """The raw reads in a process of their own, on the CPU the Engines run on, so that both
    sides of the ratio are measured on the same core (this machine's two CPUs are not
    always equally fast)."""

    def __init__(self, db_path: Path, flow_id: str, records: int, cpu: int | None) -> None:
        command = [sys.executable, __file__, "--raw-reader", str(db_path), flow_id, str(records)]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        _pin(self.proc.pid, cpu)

    async def run(self, seconds: float) -> tuple[int, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{seconds}\n")
        self.proc.stdin.flush()
        done, spent = self.proc.stdout.readline().split()
        return int(done), float(spent)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


def _raw_reader(db_path: str, flow_id: str, records: int) -> None:
    """The raw reader's process: for each line (seconds) on stdin, read pages for that long."""
    db = sqlite3.connect(db_path)
    for line in sys.stdin:
        seconds = float(line)
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            assert len(_raw_page(db, flow_id, records)) == records
            done += 1
        print(done, time.perf_counter() - started, flush=True)


def _pin(pid: int, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(pid, {cpu})


def _cpus() -> tuple[int | None, int | None]:
    """(the bench's client CPU, the CPU of the Engines and the raw reader), when there are two."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)


async def run(records: int, seconds: float) -> Rates:
    data_dir = Path(tempfile.mkdtemp(prefix="engine-bench-")) / "data"
    settings = store_settings("sqlite", None, data_dir, workers=1)
    engine = await Engine.start(settings)  # creates the store and its admin, then seeds it
    try:
        flow_id = await _seed(engine, records)
    finally:
        await engine.stop()
    env = {"ENGINE_ADMIN_USER": ADMIN, "ENGINE_ADMIN_PASSWORD": ADMIN_PASSWORD}
    client_cpu, server_cpu = _cpus()
    _pin(0, client_cpu)
    with (
        _serve(data_dir, server_cpu, **env) as port,
        _serve(data_dir, server_cpu, ENGINE_GRAPHQL_COMPILED="false", **env) as plain_port,
    ):
        url = f"http://127.0.0.1:{port}"
        token = await login(url)
        reader = RawReader(settings.sqlite_path, flow_id, records, server_cpu)
        variables = {"flow": flow_id, "first": records}
        page_body = {"query": QUERY, "variables": variables}
        rest_filter = json.dumps({"field": "flow_id", "op": "eq", "value": flow_id})
        rest_target = (
            "/api/latest/execution?"
            + httpx.QueryParams({"filter": rest_filter, "order": "name", "limit": records}).__str__()
        )
        async with (
            LeanClient(port, token) as client,
            LeanClient(plain_port, token) as plain_client,
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as httpx_client,
        ):
            page = client.request("POST", "/graphql", page_body)
            plain_page = plain_client.request("POST", "/graphql", page_body)
            rest_list = client.request("GET", rest_target)

            def check(status: int, body: Any) -> None:
                assert status == 200 and "errors" not in body, body
                assert len(body["data"]["executions"]["edges"]) == records, body

            async def graphql() -> None:
                check(*await client.send(page))

            async def graphql_core() -> None:
                check(*await plain_client.send(plain_page))

            async def rest() -> None:
                status, body = await client.send(rest_list)
                assert status == 200 and len(body) == records

            async def graphql_httpx() -> None:
                response = await httpx_client.post("/graphql", json=page_body)
                check(response.status_code, response.json())

            try:
                figures = await _rates(
                    seconds,
                    {
                        "graphql": _looping(graphql),
                        "graphql-core": _looping(graphql_core),
                        "raw": reader.run,
                        "rest": _looping(rest),
                        "graphql (httpx)": _looping(graphql_httpx),
                    },
                )
            finally:
                reader.stop()
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    rates = asyncio.run(run(args.records, args.seconds))
    print(f"page of {args.records} executions with flow, createdBy and metadata, SQLite store")
    for name, per_round in rates.items():
        rate = statistics.median(per_round)
        print(f"  {name:16} {rate:8.1f} requests/s  ({1000 / rate:5.2f} ms)  median of {len(per_round)} rounds")

    def ratio(a: str, b: str) -> tuple[float, float, float]:
        """The median of the rounds' ratios (each round's two figures measured next to each other), and the range."""
        each = sorted(x / y for x, y in zip(rates[a], rates[b], strict=True))
        return statistics.median(each), each[0], each[-1]

    r, low, high = ratio("graphql", "raw")
    print(
        f"  GraphQL/raw      {r:.3f}  (raw reads are {1 / r:.1f}x faster, rounds {1 / high:.1f}x-{1 / low:.1f}x;"
        " target: within 3x)"
    )
    r, low, high = ratio("graphql", "rest")
    print(f"  GraphQL/REST     {r:.2f}")
    r, low, high = ratio("graphql", "graphql-core")
    print(f"  compiled / graphql-core alone: {r:.2f}x the requests")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--raw-reader"]:
        _raw_reader(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
