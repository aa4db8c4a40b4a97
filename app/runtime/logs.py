"""Execution log lines, in their own collection (not records: there are many, and they only grow)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

from app.records.values import new_id, now
from app.store.base import Store
from app.store.tree import Compare, IndexSpec, Op, Query

LOGS = "execution_log"
LEVELS = ("debug", "info", "warning", "error")
MAX_LINES = 10_000  # per execution; a runaway print loop must not fill the store
_seq = itertools.count(time.time_ns())


class ExecutionLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._counts: dict[str, int] = {}

    async def setup(self) -> None:
        await self.store.ensure_collection(
            LOGS, [IndexSpec("execution_at", (("execution_id", False), ("at", False), ("seq", False)))]
        )

    async def append(self, execution_id: str, lines: Sequence[tuple[str, str, str | None]]) -> None:
        """Add (level, message, at) lines; ``at`` None means now."""
        count = self._counts.get(execution_id, 0)
        docs: list[dict[str, Any]] = []
        for level, message, at in lines:
            if count >= MAX_LINES:
                break
            count += 1
            text = message if count < MAX_LINES else f"the log is cut off after {MAX_LINES} lines"
            docs.append(
                {
                    "id": new_id(),
                    "execution_id": execution_id,
                    "at": at or now(),
                    "seq": next(_seq),
                    "level": level if level in LEVELS else "info",
                    "message": text,
                }
            )
        self._counts[execution_id] = count
        if docs:
            await self.store.insert_many(LOGS, docs)

    def forget(self, execution_id: str) -> None:
        self._counts.pop(execution_id, None)

    async def read(self, execution_id: str, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        docs = await self.store.find(
            LOGS,
            Query(
                Compare("execution_id", Op.EQ, execution_id),
                ("at", "level", "message"),
                (("at", False), ("seq", False)),
                offset,
                limit,
            ),
        )
        return [{"at": d["at"], "level": d["level"], "message": d["message"]} for d in docs]
