"""Helpers for the runtime and flow_api tests: flows from source text, executions to their end."""

from __future__ import annotations

import asyncio
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx


def script(source: str) -> str:
    return textwrap.dedent(source).strip() + "\n"


async def make_flow(api: httpx.AsyncClient, name: str, source: str, **fields: Any) -> dict[str, Any]:
    response = await api.put(f"/flow/{name}", params={"by": "name"}, json={"script": script(source), **fields})
    assert response.status_code in (200, 201), response.text
    flow: dict[str, Any] = response.json()
    return flow


async def run_flow(
    api: httpx.AsyncClient, name: str, inputs: dict[str, Any] | None = None, *, wait: float = 60
) -> dict[str, Any]:
    """Start the flow and return its execution once it has ended."""
    body: dict[str, Any] = {"flow_name": name}
    if inputs is not None:
        body["input_value"] = inputs
    response = await api.post("/execution", params={"wait": wait}, json=body)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return await until_ended(api, record["id"], wait)


async def until_ended(api: httpx.AsyncClient, execution_id: str, wait: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while True:
        response = await api.get(f"/execution/{execution_id}/wait", params={"wait": min(30, wait)})
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        if record["status"].startswith("ENDED_") or time.monotonic() > deadline:
            return record


async def log_of(api: httpx.AsyncClient, execution_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/execution/{execution_id}/log")
    assert response.status_code == 200, response.text
    lines: list[dict[str, Any]] = response.json()
    return lines


async def until_started(api: httpx.AsyncClient, execution_id: str, wait: float = 30) -> None:
    """Wait until the execution's script has logged its first line."""
    deadline = time.monotonic() + wait
    while not await log_of(api, execution_id):
        assert time.monotonic() < deadline, "the script never started"
        await asyncio.sleep(0.05)


def processes_in(workdir: str) -> list[int]:
    """Live processes (as this test's process numbers them) working in ``workdir``.

    A script runs in a PID namespace of its own, so the numbers it sees mean nothing out
    here; its working directory, a fresh one per execution, finds its processes instead."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd").removesuffix(" (deleted)")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cwd == workdir and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found
