"""The runtime's interface: start, cancel, wait for and read the log of executions.

REST (``app.runtime.api``), GraphQL and the CLI call these; they check permissions
through the records service like every other door.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from app.records.errors import ConflictError, InvalidInputError
from app.records.permissions import Operation, Principal, authorize
from app.records.values import now
from app.runtime import leases
from app.runtime.logs import LEVELS, ExecutionLog
from app.runtime.states import ACTIVE, ENDED, ENDED_CANCELLED, PENDING, RUNNING, WAITING
from app.runtime.worker import Workers
from app.store.tree import And, Compare, Op, Query

if TYPE_CHECKING:
    from app.engine import Engine

MAX_WAIT_SECONDS = 300.0
MAX_LOG_MESSAGE = 16 * 1024
_CANCELLABLE = (PENDING, *ACTIVE)


def engine_url(engine: Engine) -> str:
    """How a script reaches this Engine."""
    settings = engine.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def check_wait(wait: float | None) -> float | None:
    if wait is None:
        return None
    if not isinstance(wait, (int, float)) or isinstance(wait, bool) or not 0 <= wait <= MAX_WAIT_SECONDS:
        raise InvalidInputError(f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS:g}, not {wait!r}")
    return float(wait)


class Runtime:
    """Executions of flows: queued in the store, run by this process's workers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.records = engine.records
        self.store = engine.store
        self.logs = ExecutionLog(engine.store)
        self.workers = Workers(engine, self.logs, engine_url(engine), engine.settings.workers)

    async def start(self) -> None:
        await self.logs.setup()
        await self.store.ensure_collection(leases.EXECUTIONS, leases.QUEUE_INDEXES)
        await self.workers.start()

    async def stop(self) -> None:
        await self.workers.stop()

    # -- starting ----------------------------------------------------------------

    async def start_execution(
        self,
        principal: Principal,
        *,
        flow_id: str | None = None,
        flow_name: str | None = None,
        input_value: Any = None,
        name: str | None = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        """Queue an execution of the flow as ``principal``; with ``wait``, return once it ended
        or ``wait`` seconds passed. The execution record."""
        wait = check_wait(wait)
        if (flow_id is None) == (flow_name is None):
            raise InvalidInputError("give exactly one of flow_id and flow_name")
        ref, by = (flow_id, "id") if flow_id is not None else (flow_name, "name")
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInputError(f"flow_{by} must be a non-empty string")
        if input_value is not None and not isinstance(input_value, dict):
            raise InvalidInputError("input_value must be a JSON object")
        if name is not None and not isinstance(name, str):
            raise InvalidInputError("name must be a string")
        flow = await self.records.get(principal, "flow", ref, by=by)
        authorize(principal, "flow", Operation.EXECUTE, flow)
        fields: dict[str, Any] = {
            "name": (name or "").strip() or flow.get("name") or "execution",
            "flow_id": flow["id"],
            "status": PENDING,
            "priority": flow.get("priority") if isinstance(flow.get("priority"), int) else 0,
        }
        if input_value is not None:
            fields["input_value"] = input_value
        if flow.get("project_id"):
            fields["project_id"] = flow["project_id"]
        if principal.execution_id:
            fields["parent_execution_id"] = principal.execution_id
        record = await self.records.create(principal, "execution", fields, system=True)
        self.workers.wake.set()
        if wait:
            return await self.wait(principal, record["id"], wait)
        return record

    # -- following ---------------------------------------------------------------

    async def wait(self, principal: Principal, execution_id: str, seconds: float | None) -> dict[str, Any]:
        """The execution once it has ended, or as it is after ``seconds``."""
        seconds = check_wait(seconds) or 0.0
        record = await self.records.get(principal, "execution", execution_id)
        if record.get("status") in ENDED or seconds <= 0:
            return record
        waiting_parent = principal.execution_id if principal.execution_id != record["id"] else None
        local = self.workers.running.get(waiting_parent) if waiting_parent else None
        if local is not None:
            local.waits += 1
            self.workers.changed()
        if waiting_parent:
            await self._mark(waiting_parent, RUNNING, WAITING)
        try:
            await self._until_ended(record["id"], seconds)
        finally:
            if local is not None:
                local.waits -= 1
                self.workers.changed()
            if waiting_parent and (local is None or local.waits == 0):
                await self._mark(waiting_parent, WAITING, RUNNING)
        return await self.records.get(principal, "execution", execution_id)

    async def _mark(self, execution_id: str, old: str, new: str) -> None:
        with contextlib.suppress(Exception):  # the parent may have ended meanwhile: nothing to mark
            await self.store.find_one_and_update(
                leases.EXECUTIONS,
                And((Compare("id", Op.EQ, execution_id), Compare("status", Op.EQ, old))),
                {"status": new, "modified_at": now()},
            )

    async def _until_ended(self, execution_id: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        where = And((Compare("id", Op.EQ, execution_id), Compare("status", Op.IN, ENDED)))
        async with self.store.changes.subscribe() as changes:
            while True:
                if await self.store.count(leases.EXECUTIONS, where):
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                # Changes made here arrive at once; another Engine's are seen by polling.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(left, 0.5)):
                        while True:
                            change = await changes.get()
                            if change.collection == leases.EXECUTIONS and change.id == execution_id:
                                break

    async def log(self, principal: Principal, execution_id: str) -> list[dict[str, Any]]:
        """The execution's log lines ``{"at", "level", "message"}``, oldest first."""
        return await self.log_page(principal, execution_id)

    async def log_page(
        self, principal: Principal, execution_id: str, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        if offset < 0 or (limit is not None and limit < 0):
            raise InvalidInputError("offset and limit must not be negative")
        record = await self.records.get(principal, "execution", execution_id, fields="id,project_id")
        return await self.logs.read(record["id"], offset, limit)

    async def add_log(self, principal: Principal, execution_id: str, level: Any, message: Any) -> dict[str, Any]:
        """Append a line to the log (what ``this.log`` does from outside Engine)."""
        if level not in LEVELS:
            raise InvalidInputError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
        if not isinstance(message, str) or len(message) > MAX_LOG_MESSAGE:
            raise InvalidInputError(f"message must be a string of at most {MAX_LOG_MESSAGE} characters")
        record = await self.records.get(principal, "execution", execution_id)
        authorize(principal, "execution", Operation.UPDATE, record)
        at = now()
        await self.logs.append(record["id"], [(level, message, at)])
        return {"at": at, "level": level, "message": message}

    # -- cancelling --------------------------------------------------------------

    async def cancel(self, principal: Principal, execution_id: str) -> dict[str, Any]:
        """End the execution ENDED_CANCELLED and kill its process (and its unfinished children)."""
        record = await self.records.get(principal, "execution", execution_id)
        authorize(principal, "execution", Operation.UPDATE, record)
        if record.get("status") in ENDED:
            raise ConflictError(f"execution {execution_id} has ended already ({record.get('status')})")
        await self._cancel(record["id"], principal.user_name)
        return await self.records.get(principal, "execution", execution_id)

    async def _cancel(self, execution_id: str, by: str) -> None:
        stamp = now()
        await self.store.find_one_and_update(
            leases.EXECUTIONS,
            And((Compare("id", Op.EQ, execution_id), Compare("status", Op.IN, _CANCELLABLE))),
            {
                "status": ENDED_CANCELLED,
                "message": "cancelled",
                "status_message": f"cancelled by {by}",
                "ended_at": stamp,
                "modified_at": stamp,
            },
            ["lease_expires_at"],
        )
        running = self.workers.running.get(execution_id)
        if running is not None:
            running.stop.request("cancelled")
        children = await self.store.find(
            leases.EXECUTIONS,
            Query(
                And((Compare("parent_execution_id", Op.EQ, execution_id), Compare("status", Op.IN, _CANCELLABLE))),
                ("id",),
            ),
        )
        for child in children:
            await self._cancel(child["id"], by)
        await self.engine.auth.revoke_execution(execution_id)


__all__ = ["MAX_WAIT_SECONDS", "Runtime", "engine_url"]
