"""REST benchmark on the embedded SQLite store.

Run: .venv/bin/python bench/rest_bench.py [--rounds N]

Starts a real Engine (uvicorn on a free loopback port, a temporary data dir), then:
1. GET by name over REST against the same read done directly on engine.db with sqlite3;
2. a REST list of 100 records against the same list read directly;
3. the REST save (PUT ?by=name, overwriting an existing record) p50 with 1k and with
   100k records of the kind (the bulk inserted straight through the Engine's store).
Prints the figures and ratios; bench/README.md explains them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings
from app.engine import Engine
from app.main import create_app
from app.records.values import format_time

KIND = "setting"
PASSWORD = "bench-password-123"


class Server:
    """Engine on a free port, in a thread with its own event loop (so the bench can
    run coroutines on the Engine's store from outside)."""

    def __init__(self, data_dir: Path) -> None:
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every small keep-alive answer waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        settings = Settings(
            data_dir=data_dir, admin_user="admin", admin_password=PASSWORD, mongodb_uri=None, port=port, workers=1
        )
        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on", access_log=False))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self.server.serve(sockets=[sock]),), daemon=True
        )
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("Engine did not start")
            time.sleep(0.02)

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.engine
        return engine

    def run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    for _ in range(min(20, rounds)):  # warm caches and connections
        fn()
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def bulk(server: Server, count: int, prefix: str) -> list[str]:
    names = [f"{prefix}{i:06d}" for i in range(count)]
    stamp = format_time(datetime.now(UTC))
    for start in range(0, count, 10_000):
        docs = [
            {
                "id": str(uuid.uuid4()),
                "name": name,
                "value": {"n": i, "text": "some value"},
                "created_at": stamp,
                "modified_at": stamp,
                "alive": True,
            }
            for i, name in enumerate(names[start : start + 10_000], start)
        ]
        server.run(server.engine.store.insert_many(KIND, docs))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1000, help="timed requests per figure")
    parser.add_argument("--big", type=int, default=100_000, help="records of the kind for the second save figure")
    args = parser.parse_args()
    rounds = args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        try:
            figures = run(server, Path(tmp) / "engine.db", rounds, args.big)
        finally:
            server.stop()
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


def run(server: Server, db_path: Path, rounds: int, big: int) -> dict[str, str]:
    client = httpx.Client(base_url=server.url + "/api/latest", timeout=60)
    token = client.post("/auth/login", json={"user_name": "admin", "password": PASSWORD}).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    rng = random.Random(7)

    names = bulk(server, 1000, "small-")
    db = sqlite3.connect(db_path)
    figures: dict[str, str] = {}

    def rest_get() -> None:
        response = client.get(f"/{KIND}/{rng.choice(names)}", params={"by": "name"})
        assert response.status_code == 200, response.text
        response.json()

    def direct_get() -> None:
        row = db.execute(
            f"SELECT id, doc FROM \"{KIND}\" WHERE json_extract(doc, '$.name') = ? "
            "AND json_extract(doc, '$.alive') = 1 ORDER BY json_extract(doc, '$.created_at') DESC, id LIMIT 1",
            [rng.choice(names)],
        ).fetchone()
        json.loads(row[1])

    def rest_list() -> None:
        response = client.get(f"/{KIND}", params={"limit": "100", "offset": str(rng.randrange(800))})
        assert response.status_code == 200 and len(response.json()) == 100
        response.json()

    def direct_list() -> None:
        rows = db.execute(
            f"SELECT id, doc FROM \"{KIND}\" WHERE json_extract(doc, '$.alive') = 1 "
            "ORDER BY json_extract(doc, '$.created_at'), id LIMIT 100 OFFSET ?",
            [rng.randrange(800)],
        ).fetchall()
        [json.loads(r[1]) for r in rows]

    def health() -> None:
        assert httpx_get(server.url + "/health").status_code == 200

    httpx_get = client.get
    floor = p50(timed(health, rounds))
    get_rest, get_direct = p50(timed(rest_get, rounds)), p50(timed(direct_get, rounds))
    list_rest, list_direct = p50(timed(rest_list, rounds)), p50(timed(direct_list, rounds))
    figures["HTTP floor (GET /health: no token, one store ping) p50"] = ms(floor)
    figures["GET by name, REST p50"] = ms(get_rest)
    figures["GET by name, direct SQLite p50"] = ms(get_direct)
    figures["GET by name, REST / direct"] = f"{get_rest / get_direct:.1f}x"
    figures["list 100, REST p50"] = ms(list_rest)
    figures["list 100, direct SQLite p50"] = ms(list_direct)
    figures["list 100, REST / direct"] = f"{list_rest / list_direct:.1f}x"

    counter = iter(range(10**9))

    def save(pool: list[str]) -> Callable[[], None]:
        def put() -> None:
            response = client.put(f"/{KIND}/{rng.choice(pool)}", params={"by": "name"}, json={"value": next(counter)})
            assert response.status_code == 200, response.text

        return put

    save_small = p50(timed(save(names), rounds))
    started = time.perf_counter()
    big_names = bulk(server, big - len(names), "big-")
    loaded = time.perf_counter() - started
    save_big = p50(timed(save(big_names + names), rounds))
    figures["save (PUT ?by=name), 1k records p50"] = ms(save_small)
    figures[f"save (PUT ?by=name), {big // 1000}k records p50"] = ms(save_big)
    figures[f"save {big // 1000}k / 1k"] = f"{save_big / save_small:.2f}x (target <= 1.5)"
    figures[f"bulk insert of {big - len(names)} records"] = f"{loaded:.1f} s"
    db.close()
    client.close()
    return figures


if __name__ == "__main__":
    main()
