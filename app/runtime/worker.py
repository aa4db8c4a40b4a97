"""Workers: claim pending executions and run each in a sandboxed process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from app.records.errors import EngineError
from app.records.permissions import SYSTEM
from app.runtime import leases
from app.runtime.sandbox import Finished, Limits, LogLine, Pool, Stop, hidden_paths
from app.runtime.states import ENDED, ENDED_CANCELLED, ENDED_ERROR, ENDED_SUCCESS, WAITING

if TYPE_CHECKING:
    from app.engine import Engine
    from app.runtime.logs import ExecutionLog

log = logging.getLogger("engine.runtime")

DEFAULT_MAX_RUNTIME_MINUTES = 60.0
LEASE_SECONDS = 10.0
HEARTBEAT_SECONDS = 2.0
POLL_SECONDS = 0.5  # how soon a worker notices executions another Engine process queued


@dataclass
class Running:
    execution_id: str
    stop: Stop = field(default_factory=Stop)
    waits: int = 0  # waits on children served by this process
    waiting_elsewhere: bool = False  # WAITING, as another Engine process marked it

    @property
    def waiting(self) -> bool:
        return self.waits > 0 or self.waiting_elsewhere


class Workers:
    """Runs up to ``count`` executions at once in this Engine process, plus a heartbeat
    and the pool of interpreters. An execution WAITING on a child does not count, so
    parents waiting on children can never take every worker."""

    def __init__(self, engine: Engine, logs: ExecutionLog, url: str, count: int) -> None:
        self.engine = engine
        self.store = engine.store
        self.logs = logs
        self.url = url
        self.count = max(1, count)
        self.owner = f"engine-{uuid.uuid4()}"
        self.pool = Pool(min(self.count, 4), hide=hidden_paths(engine.settings))
        self.running: dict[str, Running] = {}
        self.wake = asyncio.Event()
        self._freed = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.claimed = 0  # executions this process has taken from the queue

    @property
    def busy(self) -> int:
        return sum(1 for r in self.running.values() if not r.waiting)

    def changed(self) -> None:
        """A running execution started or stopped waiting: a worker may be free."""
        self._freed.set()

    async def start(self) -> None:
        await self._expire()
        await self.pool.start()
        self._loops = [asyncio.create_task(self._dispatch()), asyncio.create_task(self._heartbeat())]

    async def stop(self) -> None:
        self._stopping = True
        self.wake.set()
        self._freed.set()
        for running in list(self.running.values()):
            running.stop.request("stopped")
        if self._tasks:
            # Running executions are ended and recorded before the store closes.
            await asyncio.wait(self._tasks, timeout=10)
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        for task in [*self._loops, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pool.stop()

    # -- loops -----------------------------------------------------------------

    async def _dispatch(self) -> None:
        while not self._stopping:
            if self.busy >= self.count:
                self._freed.clear()
                if self.busy >= self.count:
                    await self._freed.wait()
                continue
            try:
                doc = await leases.claim(self.store, self.owner, LEASE_SECONDS)
            except Exception:
                log.exception("claiming an execution failed")
                doc = None
                await asyncio.sleep(POLL_SECONDS)
            if doc is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), POLL_SECONDS)
                self.wake.clear()
                continue
            self.claimed += 1
            self.running[doc["id"]] = Running(doc["id"])
            task = asyncio.create_task(self.execute(doc))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _heartbeat(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            beats += 1
            try:
                if self.running:
                    await leases.renew(self.store, self.owner, LEASE_SECONDS)
                    for execution_id, status in (await leases.statuses(self.store, list(self.running))).items():
                        running = self.running.get(execution_id)
                        if running is None:
                            continue
                        if status in ENDED:
                            running.stop.request("ended elsewhere")
                        elif running.waiting_elsewhere != (status == WAITING):
                            running.waiting_elsewhere = status == WAITING
                            self.changed()
                if beats % 2 == 0:
                    await self._expire()
            except Exception:  # a passing store error must not end the heartbeat
                log.exception("execution heartbeat failed")

    async def _expire(self) -> None:
        for execution_id in await leases.expire(self.store):
            log.warning("execution %s ended: the Engine running it stopped", execution_id)
            await self.engine.auth.revoke_execution(execution_id)

    # -- one execution -----------------------------------------------------------

    async def execute(self, doc: dict[str, Any]) -> None:
        execution_id = doc["id"]
        running = self.running.setdefault(execution_id, Running(execution_id))
        fields: dict[str, Any]
        try:
            fields = await self._run(doc, running)
        except Exception as exc:
            log.exception("running execution %s failed", execution_id)
            fields = {
                "status": ENDED_ERROR,
                "message": "Engine could not run the execution",
                "status_message": f"{type(exc).__name__}: {exc}",
            }
        finally:
            self.running.pop(execution_id, None)
            self.changed()
        try:
            await self.engine.auth.revoke_execution(execution_id)
            await leases.finish(
                self.store, execution_id, self.owner, {k: v for k, v in fields.items() if v is not None}
            )
        except Exception:
            log.exception("recording the end of execution %s failed", execution_id)
        finally:
            self.logs.forget(execution_id)

    async def _run(self, doc: dict[str, Any], running: Running) -> dict[str, Any]:
        execution_id = doc["id"]
        if running.stop.event.is_set():
            return {"status": ENDED_ERROR, "message": "Engine stopped before the execution started"}
        try:
            flow = await self.engine.records.get(SYSTEM, "flow", doc.get("flow_id") or "")
        except EngineError:
            return {"status": ENDED_ERROR, "message": "the execution's flow does not exist (any more)"}
        user_id = doc.get("created_by")
        if not user_id:
            return {"status": ENDED_ERROR, "message": "the execution has no user to act as"}
        minutes = flow.get("max_runtime_minutes")
        minutes = float(minutes) if isinstance(minutes, (int, float)) and minutes > 0 else DEFAULT_MAX_RUNTIME_MINUTES
        wall = minutes * 60.0
        limits = Limits(wall_seconds=wall, cpu_seconds=math.ceil(wall) + 5)
        token, _ = await self.engine.auth.issue(user_id, execution_id=execution_id, ttl=timedelta(seconds=wall + 600))
        sandbox = await self.pool.take()
        job = {
            "url": self.url,
            "token": token,
            "execution_id": execution_id,
            "script": flow.get("script") or "",
            "flow_name": flow.get("name"),
            "inputs": doc.get("input_value") or {},
        }

        async def on_log(lines: list[LogLine]) -> None:
            await self.logs.append(execution_id, lines)

        finished = await sandbox.run(job, limits, on_log, running.stop)
        return _outcome(finished, minutes)


def _outcome(finished: Finished, minutes: float) -> dict[str, Any]:
    if finished.reason == "timeout":
        text = f"timeout: the execution ran longer than its flow's max_runtime_minutes ({minutes:g}) and was stopped"
        return {"status": ENDED_ERROR, "message": text, "status_message": text}
    if finished.reason == "cancelled":
        return {"status": ENDED_CANCELLED, "message": "cancelled"}
    if finished.reason == "stopped":
        text = "Engine stopped while the execution ran"
        return {"status": ENDED_ERROR, "message": text, "status_message": text}
    result = finished.result
    if result is not None:
        status = result.get("status")
        return {
            "status": status if status in (ENDED_SUCCESS, ENDED_ERROR) else ENDED_ERROR,
            "message": result.get("message") if isinstance(result.get("message"), str) else None,
            "status_message": result.get("status_message") if isinstance(result.get("status_message"), str) else None,
        }
    code = finished.returncode
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        why = {
            "SIGXCPU": "it used up its CPU time limit",
            "SIGKILL": "it was killed (its memory limit, or the system ran short)",
            "SIGSEGV": "it crashed",
        }.get(name, f"it got signal {name}")
        text = f"the script's process ended without a result: {why}"
    else:
        text = f"the script's process ended with exit code {code} without a result"
    return {"status": ENDED_ERROR, "message": text, "status_message": text}
