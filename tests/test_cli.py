"""The `engine` command as users run it: real subprocesses on a temporary data dir."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

LOGIN = "/api/latest/auth/login"
PASSWORD_LINE = re.compile(r"Engine created the admin user '(\w+)' with the password: (\S+)")


def _engine() -> list[str]:
    script = Path(sys.executable).with_name("engine")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from app.cli import main; main()"]


def _env() -> dict[str, str]:
    """The user's environment without Engine settings: the embedded store, no preset admin."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_") and k != "MONGODB_URI"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Served:
    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url
        self.output: list[str] = []

    async def read_until(self, pattern: re.Pattern[str], seconds: float = 30) -> re.Match[str]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            line = await asyncio.wait_for(self.proc.stdout.readline(), deadline - time.monotonic())
            if not line:
                break
            self.output.append(line.decode())
            if match := pattern.search(self.output[-1]):
                return match
        raise AssertionError(f"no {pattern.pattern!r} in the output:\n{''.join(self.output)}")

    async def rest(self) -> str:
        assert self.proc.stdout is not None
        rest = (await self.proc.stdout.read()).decode()
        self.output.append(rest)
        return "".join(self.output)


@asynccontextmanager
async def serve(data_dir: Path) -> AsyncIterator[Served]:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        *_engine(),
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    served = Served(proc, f"http://127.0.0.1:{port}")
    try:
        await served.read_until(re.compile(r"Application startup complete"))
        yield served
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _run(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *_engine(), *args, env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _login(url: str, user: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url) as client:
        return await client.post(LOGIN, json={"user_name": user, "password": password})


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
async def test_serve_answers_health_and_stops_cleanly(data_dir: Path, stop: signal.Signals) -> None:
    async with serve(data_dir) as served:
        async with httpx.AsyncClient(base_url=served.url) as client:
            health = await client.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "store": "sqlite"}
        assert (data_dir / "engine.db").exists()
        served.proc.send_signal(stop)
        assert await asyncio.wait_for(served.proc.wait(), 30) == 0
        output = await served.rest()
        assert "Application shutdown complete" in output
        assert "Traceback" not in output


async def test_the_generated_admin_password_is_printed_once(data_dir: Path) -> None:
    async with serve(data_dir) as served:
        found = PASSWORD_LINE.search("".join(served.output))
        assert found is not None, "".join(served.output)
        user, password = found.groups()
        assert user == "admin" and len(password) >= 16
        assert (await _login(served.url, user, password)).status_code == 200
        assert (await _login(served.url, user, password + "x")).status_code == 401
        served.proc.terminate()
        assert await served.proc.wait() == 0
    async with serve(data_dir) as again:
        assert (await _login(again.url, "admin", password)).status_code == 200
        again.proc.terminate()
        assert await again.proc.wait() == 0
        assert "password" not in await again.rest()


async def test_user_create_then_login(data_dir: Path) -> None:
    async with serve(data_dir) as served:
        # Added from the command line while Engine runs on the same store.
        code, out = await _run(
            "user", "create", "  carol ", "--password", "carol-password", "--data-dir", str(data_dir)
        )
        assert code == 0, out
        assert "created user 'carol'" in out
        signed_in = await _login(served.url, "carol", "carol-password")
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["user"]["name"] == "carol"
        assert signed_in.json()["user"]["is_admin"] is False
        code, out = await _run("user", "create", "carol", "--password", "other-password", "--data-dir", str(data_dir))
        assert code == 2 and "exists already" in out and "Traceback" not in out
        code, out = await _run("user", "create", "dave", "--password", "short", "--data-dir", str(data_dir))
        assert code == 2 and "8 characters" in out
        code, out = await _run(
            "user", "create", "erin", "--password", "erin-password", "--admin", "--data-dir", str(data_dir)
        )
        assert code == 0, out
        erin = await _login(served.url, "erin", "erin-password")
        assert erin.status_code == 200 and erin.json()["user"]["is_admin"] is True
