"""Real servers for the tests: the mongoeco stand-in in a process, Engine on a port."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from app.config import Settings
from app.engine import Engine
from app.main import create_app

ADMIN = "admin"
ADMIN_PASSWORD = "admin-password-for-tests"


class MongoStandIn:
    """mongoeco's wire server in its own process, so its CPU work never stalls the app."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("mongoeco_server.py"))],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("mongodb://"):
            self.proc.kill()
            raise RuntimeError(f"mongoeco did not start: {line!r}")
        self.uri = line

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def store_settings(store: str, mongo_uri: str | None, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "admin_user": ADMIN,
        "admin_password": ADMIN_PASSWORD,
        "mongodb_uri": None,
        "workers": 2,
    }
    if store == "mongodb":
        values["mongodb_uri"] = mongo_uri
        values["mongodb_database"] = f"engine_test_{uuid.uuid4().hex[:12]}"
    values.update(overrides)
    return Settings(**values)


@dataclass
class RunningEngine:
    url: str
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def engine(self) -> Engine:
        engine: Engine = self.server.config.app.state.engine  # type: ignore[attr-defined]
        return engine

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def start_engine(settings: Settings) -> RunningEngine:
    """Engine on a free loopback port, in a thread with its own event loop."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": port, "public_url": url})
    app = create_app(settings)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("Engine did not start")
        time.sleep(0.02)
    return RunningEngine(url, settings, server, thread)


async def login(url: str, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post("/api/latest/auth/login", json={"user_name": user, "password": password})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token


def login_sync(url: str, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> str:
    return asyncio.run(login(url, user, password))


__all__ = [
    "ADMIN",
    "ADMIN_PASSWORD",
    "MongoStandIn",
    "RunningEngine",
    "login",
    "login_sync",
    "os",
    "start_engine",
    "store_settings",
]
