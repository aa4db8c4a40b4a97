"""Runtime figures: latency of a trivial flow, throughput, and the cost of one flow_api call.

    .venv/bin/python bench/runtime_bench.py [--store sqlite|mongodb] [--runs 200] [--executions 500]

Starts a real Engine (default workers = CPU count) on a fresh store, in this process,
and talks to it over HTTP like any client. On MongoDB it uses MONGODB_URI, or starts
the mongoeco stand-in (slow: a stand-in for tests, not for figures).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flow_api
from app.config import Settings
from tests.servers import MongoStandIn, login, start_engine, store_settings

TRIVIAL = "def handler(system, this, inputs):\n    pass\n"
GETS = 200
ONE_GET = f"""
import time

def handler(system, this, inputs):
    setting = system.setting('bench-x')
    setting.get('value')  # the connection is opened once, as a script's first call would
    started = time.perf_counter()
    for _ in range({GETS}):
        setting.get('value')
    this.save(output_value=(time.perf_counter() - started) / {GETS})
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _ended(api: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    while True:
        record: dict[str, Any] = (await api.get(f"/execution/{execution_id}/wait", params={"wait": 60})).json()
        if record["status"].startswith("ENDED_"):
            return record


async def latency(api: httpx.AsyncClient, runs: int) -> list[float]:
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        record = (await api.post("/execution", params={"wait": 30}, json={"flow_name": "bench-trivial"})).json()
        if not record["status"].startswith("ENDED_"):
            record = await _ended(api, record["id"])
        times.append(time.perf_counter() - started)
        assert record["status"] == "ENDED_SUCCESS", record
    return times


async def throughput(api: httpx.AsyncClient, count: int) -> float:
    started = time.perf_counter()
    ids: list[str] = []
    for batch in range(0, count, 50):
        answers = await asyncio.gather(
            *(api.post("/execution", json={"flow_name": "bench-trivial"}) for _ in range(min(50, count - batch)))
        )
        ids.extend(a.json()["id"] for a in answers)
    records = await asyncio.gather(*(_ended(api, i) for i in ids))
    elapsed = time.perf_counter() - started
    assert all(r["status"] == "ENDED_SUCCESS" for r in records)
    return elapsed


def _outside(url: str, token: str) -> tuple[float, float]:
    with httpx.Client(base_url=url + "/api/latest", headers={"Authorization": f"Bearer {token}"}) as client:
        client.get("/setting/bench-x", params={"by": "name", "fields": "value"})
        started = time.perf_counter()
        for _ in range(GETS):
            client.get("/setting/bench-x", params={"by": "name", "fields": "value"}).raise_for_status()
        rest = (time.perf_counter() - started) / GETS
    with flow_api.connect(url, token) as system:
        setting = system.setting("bench-x")
        setting.get("value")
        started = time.perf_counter()
        for _ in range(GETS):
            setting.get("value")
        sdk = (time.perf_counter() - started) / GETS
    return rest, sdk


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "mongodb"], default="sqlite")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--executions", type=int, default=500)
    args = parser.parse_args()

    standin = MongoStandIn() if args.store == "mongodb" and not os.environ.get("MONGODB_URI") else None
    uri = os.environ.get("MONGODB_URI") or (standin.uri if standin else None)
    with tempfile.TemporaryDirectory() as tmp:
        settings = store_settings(args.store, uri, Path(tmp), workers=Settings().workers)
        engine = start_engine(settings)
        try:
            token = await login(engine.url)
            async with httpx.AsyncClient(
                base_url=engine.url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=300
            ) as api:
                for name, script in (("bench-trivial", TRIVIAL), ("bench-get", ONE_GET)):
                    await api.put(f"/flow/{name}", params={"by": "name"}, json={"script": script})
                await api.put("/setting/bench-x", params={"by": "name"}, json={"value": {"some": "value"}})
                await latency(api, 10)  # warm-up: the pool fills, the store's caches fill
                times = await latency(api, args.runs)
                elapsed = await throughput(api, args.executions)
                inside = (await api.post("/execution", params={"wait": 60}, json={"flow_name": "bench-get"})).json()
                rest, sdk = await asyncio.to_thread(_outside, engine.url, token)
        finally:
            engine.stop()
            if standin is not None:
                standin.stop()
    print(f"store: {args.store}, workers: {settings.workers}, CPUs: {os.cpu_count()}")
    print(
        f"trivial flow end to end ({args.runs} runs, one after another): "
        f"p50 {statistics.median(times) * 1000:.1f} ms, p95 {_pct(times, 0.95) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms"
    )
    print(
        f"throughput: {args.executions} trivial executions in {elapsed:.1f} s "
        f"= {args.executions / elapsed:.1f} per second"
    )
    print(
        f"system.setting('x').get('value'): inside a flow {inside['output_value'] * 1000:.2f} ms, "
        f"flow_api from outside {sdk * 1000:.2f} ms, plain REST GET from outside {rest * 1000:.2f} ms "
        f"(mean of {GETS})"
    )


if __name__ == "__main__":
    asyncio.run(main())
