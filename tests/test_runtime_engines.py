"""Several Engine processes on one store; an Engine that dies mid-run."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.runtime_support import make_flow, processes_in, until_ended, until_started
from tests.servers import ADMIN, ADMIN_PASSWORD, RunningEngine, login, start_engine, store_settings

ROOT = Path(__file__).resolve().parent.parent


def _store(store_name: str, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("mongo_uri") if store_name == "mongodb" else None


async def _each_runs_once(urls: list[str], unique: str, count: int) -> None:
    """Start ``count`` executions alternately through two Engines sharing one store; each
    must run exactly once (every run leaves one message naming its execution)."""
    tokens = [await login(u) for u in urls]
    clients = [
        httpx.AsyncClient(base_url=u + "/api/latest", headers={"Authorization": f"Bearer {t}"}, timeout=60)
        for u, t in zip(urls, tokens, strict=True)
    ]
    try:
        await make_flow(
            clients[0],
            f"{unique}once",
            "def handler(system, this, inputs):\n    system.message('run').save(text=this.id)\n",
        )
        started = await asyncio.gather(
            *(clients[i % 2].post("/execution", json={"flow_name": f"{unique}once"}) for i in range(count))
        )
        ids = [r.json()["id"] for r in started]
        ended = await asyncio.gather(*(until_ended(clients[i % 2], e, 120) for i, e in enumerate(ids)))
        assert [e["status"] for e in ended] == ["ENDED_SUCCESS"] * count, [e.get("status_message") for e in ended]
        listed = await clients[1].get(
            "/message", params={"filter": '{"field": "name", "op": "eq", "value": "run"}', "fields": "text"}
        )
        runs = Counter(m["text"] for m in listed.json())
        assert {i: runs[i] for i in ids} == dict.fromkeys(ids, 1)
    finally:
        for client in clients:
            await client.aclose()


async def test_two_engines_never_run_one_execution_twice(
    store_name: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    settings = store_settings(store_name, _store(store_name, request), tmp_path / "shared")
    first = start_engine(settings)
    second = start_engine(settings)
    try:
        count = 30 if store_name == "sqlite" else 12
        await _each_runs_once([first.url, second.url], unique, count)
        claimed = [e.engine.services["runtime"].workers.claimed for e in (first, second)]
        assert sum(claimed) >= count and min(claimed) > 0, claimed
    finally:
        first.stop()
        second.stop()


def _serve(
    port: int, data_dir: Path, store_name: str, mongo_uri: str | None, database: str, workers: int = 1
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_") and k != "MONGODB_URI"}
    env.update({"ENGINE_ADMIN_USER": ADMIN, "ENGINE_ADMIN_PASSWORD": ADMIN_PASSWORD, "ENGINE_WORKERS": str(workers)})
    if store_name == "mongodb" and mongo_uri:
        env.update({"MONGODB_URI": mongo_uri, "ENGINE_MONGODB_DATABASE": database})
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while True:
            assert proc.poll() is None, "Engine exited at start"
            try:
                if (await client.get(url + "/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Engine did not start"
            await asyncio.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
async def test_an_engine_crash_mid_run_ends_the_execution_in_error(
    store_name: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    mongo_uri = _store(store_name, request)
    database = f"engine_crash_{unique.strip('-')}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    engine = _serve(port, tmp_path / "data", store_name, mongo_uri, database)
    try:
        await _healthy(url, engine)
        token = await login(url)
        async with httpx.AsyncClient(
            base_url=url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as api:
            await make_flow(
                api,
                f"{unique}long",
                "import os, time\ndef handler(system, this, inputs):\n"
                "    this.save(output_value=os.getcwd())\n    print('started')\n    time.sleep(120)\n",
            )
            execution_id = (await api.post("/execution", json={"flow_name": f"{unique}long"})).json()["id"]
            await until_started(api, execution_id)
            workdir = (await api.get(f"/execution/{execution_id}")).json()["output_value"]
            assert processes_in(workdir)
        engine.send_signal(signal.SIGKILL)
        engine.wait(10)
        deadline = time.monotonic() + 5
        while processes_in(workdir):
            assert time.monotonic() < deadline, "the script outlived its Engine"
            await asyncio.sleep(0.05)
        engine = _serve(port, tmp_path / "data", store_name, mongo_uri, database)
        await _healthy(url, engine)
        token = await login(url)
        async with httpx.AsyncClient(
            base_url=url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as api:
            done = await until_ended(api, execution_id, 40)
        assert done["status"] == "ENDED_ERROR", done
        assert "Engine stopped" in done["message"]
        assert "lease expired" in done["status_message"]
    finally:
        engine.kill()
        engine.wait(10)


async def test_stopping_an_engine_ends_its_running_executions(
    store_name: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    settings = store_settings(store_name, _store(store_name, request), tmp_path / "data")
    running: RunningEngine = start_engine(settings)
    stopped = False
    try:
        token = await login(running.url)
        async with httpx.AsyncClient(
            base_url=running.url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as api:
            await make_flow(
                api,
                f"{unique}long",
                "import time\ndef handler(system, this, inputs):\n    print('up')\n    time.sleep(60)\n",
            )
            execution_id = (await api.post("/execution", json={"flow_name": f"{unique}long"})).json()["id"]
            await until_started(api, execution_id)
            await asyncio.to_thread(running.stop)
            stopped = True
        again = start_engine(settings)
        try:
            token = await login(again.url)
            async with httpx.AsyncClient(
                base_url=again.url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as api:
                done = (await api.get(f"/execution/{execution_id}")).json()
            assert done["status"] == "ENDED_ERROR" and "Engine stopped" in done["message"], done
        finally:
            again.stop()
    finally:
        if not stopped:
            running.stop()


async def test_two_engine_processes_on_one_store_run_each_execution_once(
    store_name: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    mongo_uri = _store(store_name, request)
    database = f"engine_pair_{unique.strip('-')}"
    ports = [_free_port(), _free_port()]
    first = _serve(ports[0], tmp_path / "data", store_name, mongo_uri, database, workers=2)
    second: subprocess.Popen[bytes] | None = None
    try:
        await _healthy(f"http://127.0.0.1:{ports[0]}", first)  # the first creates the admin, alone
        second = _serve(ports[1], tmp_path / "data", store_name, mongo_uri, database, workers=2)
        await _healthy(f"http://127.0.0.1:{ports[1]}", second)
        await _each_runs_once([f"http://127.0.0.1:{p}" for p in ports], unique, 40 if store_name == "sqlite" else 12)
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.terminate()
                proc.wait(20)


async def test_higher_priority_flows_run_first(
    store_name: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    running = start_engine(store_settings(store_name, _store(store_name, request), tmp_path / "data", workers=1))
    try:
        token = await login(running.url)
        async with httpx.AsyncClient(
            base_url=running.url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as api:
            await make_flow(
                api, f"{unique}busy", "import time\ndef handler(system, this, inputs):\n    time.sleep(1)\n"
            )
            await make_flow(api, f"{unique}low", "def handler(system, this, inputs):\n    pass\n", priority=1)
            await make_flow(api, f"{unique}high", "def handler(system, this, inputs):\n    pass\n", priority=9)
            busy = (await api.post("/execution", json={"flow_name": f"{unique}busy"})).json()["id"]
            deadline = time.monotonic() + 30
            while (await api.get(f"/execution/{busy}")).json()["status"] == "PENDING":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            ids = [
                (await api.post("/execution", json={"flow_name": f"{unique}{name}"})).json()["id"]
                for name in ("low", "low", "high")
            ]
            ended = [await until_ended(api, i) for i in ids]
        assert ended[2]["started_at"] < ended[0]["started_at"] < ended[1]["started_at"], ended
    finally:
        running.stop()


async def test_a_cancel_made_through_another_engine_stops_the_script(
    store_name: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    settings = store_settings(store_name, _store(store_name, request), tmp_path / "shared", workers=1)
    engines = [start_engine(settings), start_engine(settings)]
    try:
        tokens = [await login(e.url) for e in engines]
        clients = [
            httpx.AsyncClient(base_url=e.url + "/api/latest", headers={"Authorization": f"Bearer {t}"}, timeout=60)
            for e, t in zip(engines, tokens, strict=True)
        ]
        try:
            await make_flow(
                clients[0],
                f"{unique}long",
                "import os, time\ndef handler(system, this, inputs):\n"
                "    this.save(output_value=os.getcwd())\n    time.sleep(60)\n",
            )
            execution_id = (await clients[0].post("/execution", json={"flow_name": f"{unique}long"})).json()["id"]
            deadline = time.monotonic() + 30
            while (workdir := (await clients[0].get(f"/execution/{execution_id}")).json().get("output_value")) is None:
                assert time.monotonic() < deadline, "the script never started"
                await asyncio.sleep(0.05)
            owner = next(
                i for i, e in enumerate(engines) if execution_id in e.engine.services["runtime"].workers.running
            )
            other = clients[1 - owner]
            assert (await other.post(f"/execution/{execution_id}/cancel")).json()["status"] == "ENDED_CANCELLED"
            deadline = time.monotonic() + 10
            assert processes_in(workdir)
            while processes_in(workdir):
                assert time.monotonic() < deadline, "the script kept running after the cancel"
                await asyncio.sleep(0.05)
            done = (await clients[owner].get(f"/execution/{execution_id}")).json()
            assert done["status"] == "ENDED_CANCELLED"
        finally:
            for client in clients:
                await client.aclose()
    finally:
        for running in engines:
            running.stop()
