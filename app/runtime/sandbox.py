"""The OS side of executions: processes started ahead of time, one per execution.

Each script runs in its own process, forked from a warm fork server (``zygote.py``)
so it starts in milliseconds, in its own session (so cancelling kills the whole
tree), in a fresh temporary directory, with an environment built from nothing (no
store location, no credentials) and resource limits the process sets on itself
before it reads the script; on Linux also in namespaces of its own that hide Engine's
processes, data directory and temporary files (``flow_api._isolation``), as ``nobody``
when Engine runs as root. The job (token, script, inputs) arrives over stdin only
after an execution was claimed; log lines and the outcome come back as JSON lines on
a separate pipe, while raw stdout/stderr are captured as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.runtime.env import sandbox_env
from app.runtime.zygote import Child, Zygote

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger("engine.runtime")

MAX_LINE = 16 * 1024
MAX_MESSAGE = 1024 * 1024  # a control message (a result with its traceback) may be long
READ_CHUNK = 64 * 1024

LogLine = tuple[str, str, str | None]  # (level, message, at)
OnLog = Callable[[list[LogLine]], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    """What one execution's process may use."""

    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int = 1024 * 1024 * 1024
    open_files: int = 256


@dataclass
class Stop:
    """Set by whoever wants the process gone: cancel, shutdown, or another Engine ending it."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()


@dataclass(frozen=True)
class Finished:
    returncode: int | None
    result: dict[str, Any] | None  # the runner's result message, when it sent one
    reason: str | None  # "timeout" or the Stop reason, when Engine ended the process


class Sandbox:
    """One pre-started process waiting for its job; used once."""

    def __init__(self, child: Child) -> None:
        self.child = child

    @property
    def ready(self) -> bool:
        return self.child.returncode is None

    async def close(self) -> None:
        self.child.kill()
        os.close(self.child.stdin)
        shutil.rmtree(self.child.workdir, ignore_errors=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.child.wait(), 5)

    async def run(self, job: dict[str, Any], limits: Limits, on_log: OnLog, stop: Stop) -> Finished:
        """Hand the job over, capture its output, and wait for the end (or kill it)."""
        child = self.child
        payload = {
            **job,
            "limits": {
                "cpu_seconds": limits.cpu_seconds,
                "memory_bytes": limits.memory_bytes,
                "open_files": limits.open_files,
            },
        }
        result: dict[str, Any] = {}
        writes = asyncio.Lock()  # keeps batches from the three pipes whole and in arrival order

        async def emit(lines: list[LogLine]) -> None:
            async with writes:
                await on_log(lines)

        async def control() -> None:
            async for batch in _lines(child.control, MAX_MESSAGE):
                out: list[LogLine] = []
                for raw in batch:
                    try:
                        message = json.loads(raw)
                    except ValueError:
                        out.append(("error", raw[:MAX_LINE], None))
                        continue
                    if not isinstance(message, dict):
                        continue
                    if message.get("t") == "log":
                        at = message.get("at")
                        text = str(message.get("message", ""))[:MAX_LINE]
                        out.append((str(message.get("level", "info")), text, at if isinstance(at, str) else None))
                    elif message.get("t") == "result":
                        result.update(message)
                if out:
                    await emit(out)

        async def capture(stream: asyncio.StreamReader, level: str) -> None:
            async for batch in _lines(stream):
                await emit([(level, line[:MAX_LINE], None) for line in batch])

        readers = [
            asyncio.create_task(control()),
            asyncio.create_task(capture(child.stdout, "info")),
            asyncio.create_task(capture(child.stderr, "error")),
        ]
        reason: str | None = None
        try:
            await asyncio.to_thread(_hand_over, child.stdin, json.dumps(payload).encode())
            waiter = asyncio.ensure_future(child.wait())
            stopper = asyncio.create_task(stop.event.wait())
            try:
                done, _ = await asyncio.wait(
                    {waiter, stopper}, timeout=limits.wall_seconds, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                stopper.cancel()
            if waiter not in done:
                reason = stop.reason if stop.event.is_set() else "timeout"
                child.kill()
                await waiter
        finally:
            # Children the script left behind go with it; then the pipes close.
            child.kill()
            _, pending = await asyncio.wait(readers, timeout=2.0)
            for task in pending:
                task.cancel()
            for outcome in await asyncio.gather(*readers, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.warning("reading an execution's output failed: %s", outcome)
            shutil.rmtree(child.workdir, ignore_errors=True)
        return Finished(child.returncode, result or None, reason)


def _hand_over(fd: int, payload: bytes) -> None:
    try:
        with contextlib.suppress(BrokenPipeError):
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


async def _lines(stream: asyncio.StreamReader, longest: int = MAX_LINE * 4) -> Any:
    """Batches of complete lines as they arrive (a final partial line at the end)."""
    pending = b""
    while True:
        chunk = await stream.read(READ_CHUNK)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > longest:  # a line without end: cut it rather than grow
            lines.append(pending)
            pending = b""
        if lines:
            yield [line.decode("utf-8", "replace") for line in lines]
    if pending:
        yield [pending.decode("utf-8", "replace")]


def hidden_paths(settings: Settings) -> list[str]:
    """What execution processes must not see: the embedded store's folder (a MongoDB
    store is reached over the network with credentials the scripts never get)."""
    if settings.mongodb_uri:
        return []
    return [str(Path(settings.data_dir).resolve())]


class Pool:
    """Keeps ``size`` execution processes started ahead of time, so a claimed execution need not wait for one."""

    def __init__(self, size: int, hide: list[str] | None = None) -> None:
        self.size = max(1, size)
        self.zygote = Zygote(hide)
        self._ready: list[Sandbox] = []
        self._need = asyncio.Event()
        self._filler: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        try:
            await self.zygote.start()
        except Exception:  # the filler starts it again when it forks; Engine itself goes on
            log.exception("the fork server of executions did not start")
        self._filler = asyncio.create_task(self._fill())
        self._need.set()

    async def _spawn(self) -> Sandbox:
        return Sandbox(await self.zygote.fork())

    async def _fill(self) -> None:
        while not self._closed:
            await self._need.wait()
            self._need.clear()
            while not self._closed and len(self._ready) < self.size:
                try:
                    sandbox = await self._spawn()
                except Exception:  # out of processes or files: try again later, never crash the worker
                    log.exception("could not start a process for executions")
                    await asyncio.sleep(1.0)
                    continue
                if self._closed:
                    await sandbox.close()
                    return
                self._ready.append(sandbox)

    async def take(self) -> Sandbox:
        """A started process (a new one when none is ready)."""
        while self._ready:
            sandbox = self._ready.pop(0)
            self._need.set()
            if sandbox.ready:
                return sandbox
            await sandbox.close()
        self._need.set()
        return await self._spawn()

    async def stop(self) -> None:
        self._closed = True
        self._need.set()
        if self._filler is not None:
            self._filler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._filler
        for sandbox in self._ready:
            await sandbox.close()
        self._ready.clear()
        await self.zygote.stop()


__all__ = ["Limits", "Pool", "Sandbox", "Stop", "hidden_paths", "sandbox_env"]
