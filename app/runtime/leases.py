"""The execution queue in the store: atomic claims, leases, heartbeats, expiry.

Several Engine processes may share one store; a claim is one atomic
find-and-modify (PENDING → RUNNING with this process's lease), so no execution is
run twice. A lease not renewed in time means its Engine died: the execution is
ended, never left RUNNING.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.records.kinds import ALIVE
from app.records.values import format_time, now
from app.runtime.states import ACTIVE, ENDED_ERROR, PENDING, RUNNING
from app.store.base import Store
from app.store.tree import And, Compare, IndexSpec, Op, Query

EXECUTIONS = "execution"
QUEUE_INDEXES = [
    IndexSpec("queue", (("status", False), ("priority", True), ("created_at", False))),
    IndexSpec("lease", (("lease_owner", False), ("status", False))),
]
_LIVE = Compare(ALIVE, Op.EQ, True)


def _in(seconds: float) -> str:
    return format_time(datetime.now(UTC) + timedelta(seconds=seconds))


async def claim(store: Store, owner: str, lease_seconds: float) -> dict[str, Any] | None:
    """Take the next pending execution (highest priority, then oldest), or None."""
    stamp = now()
    return await store.find_one_and_update(
        EXECUTIONS,
        And((Compare("status", Op.EQ, PENDING), _LIVE)),
        {
            "status": RUNNING,
            "lease_owner": owner,
            "lease_expires_at": _in(lease_seconds),
            "started_at": stamp,
            "modified_at": stamp,
        },
        order=(("priority", True), ("created_at", False)),
    )


async def renew(store: Store, owner: str, lease_seconds: float) -> int:
    return await store.update_many(
        EXECUTIONS,
        And((Compare("lease_owner", Op.EQ, owner), Compare("status", Op.IN, ACTIVE))),
        {"lease_expires_at": _in(lease_seconds)},
    )


async def finish(store: Store, execution_id: str, owner: str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """End an execution this owner holds; None when someone else ended it first (cancel, expiry)."""
    stamp = now()
    return await store.find_one_and_update(
        EXECUTIONS,
        And(
            (
                Compare("id", Op.EQ, execution_id),
                Compare("lease_owner", Op.EQ, owner),
                Compare("status", Op.IN, ACTIVE),
            )
        ),
        {**fields, "ended_at": stamp, "modified_at": stamp},
        ["lease_expires_at"],
    )


async def expire(store: Store) -> list[str]:
    """End every execution whose lease ran out; their ids."""
    stamp = now()
    stale = And((Compare("status", Op.IN, ACTIVE), Compare("lease_expires_at", Op.LT, stamp)))
    ended: list[str] = []
    for doc in await store.find(EXECUTIONS, Query(stale, ("id", "lease_expires_at"), (), 0, 1000)):
        done = await store.find_one_and_update(
            EXECUTIONS,
            And((Compare("id", Op.EQ, doc["id"]), stale)),
            {
                "status": ENDED_ERROR,
                "message": "Engine stopped while the execution ran",
                "status_message": (
                    "the Engine process running this execution stopped (its lease expired at "
                    f"{doc.get('lease_expires_at')}); the script did not finish"
                ),
                "ended_at": stamp,
                "modified_at": stamp,
            },
            ["lease_expires_at"],
        )
        if done is not None:
            ended.append(doc["id"])
    return ended


async def statuses(store: Store, ids: list[str]) -> dict[str, str]:
    """The status of each of ``ids`` (to notice cancels and waits made by another Engine)."""
    if not ids:
        return {}
    docs = await store.find(EXECUTIONS, Query(Compare("id", Op.IN, tuple(ids)), ("id", "status")))
    return {d["id"]: str(d.get("status")) for d in docs}
