"""``this``: the running execution, its children, its log and its outcome."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flow_api.errors import DependencyFailedError, InvalidInputError, TimeoutExceededError
from flow_api.records import Record

if TYPE_CHECKING:
    from flow_api.system import System

ENDED = frozenset({"ENDED_SUCCESS", "ENDED_ERROR", "ENDED_CANCELLED"})
WAIT_STEP = 60.0  # seconds per wait request; Engine bounds one request's wait
LogSink = Callable[[str, str], None]


@dataclass(frozen=True)
class Outcome:
    """What ``this.success()`` / ``this.error()`` return; returning it from the handler ends the execution."""

    status: str
    message: str | None = None


class Execution(Record):
    """An execution record; inside a flow script, ``this`` is the running one."""

    def __init__(self, system: System, execution_id: str, *, log_sink: LogSink | None = None) -> None:
        super().__init__(system, "execution", execution_id, by="id")
        self._log_sink = log_sink
        self.outcome: Outcome | None = None

    # -- the script's own execution -------------------------------------------

    def log(self, *message: Any, level: str = "info") -> None:
        """Add a line to this execution's log (like ``print``, with a level)."""
        text = " ".join(str(m) for m in message)
        if self._log_sink is not None:
            self._log_sink(level, text)
            return
        self._system.client.request(
            "POST", f"/execution/{quote(self.id, safe='')}/log", body={"level": level, "message": text}
        )

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def success(self, message: str | None = None) -> Outcome:
        """``return this.success('done')`` ends the execution ENDED_SUCCESS with that message."""
        self.outcome = Outcome("ENDED_SUCCESS", message)
        return self.outcome

    def error(self, message: str | None = None) -> Outcome:
        """``return this.error('why')`` ends the execution ENDED_ERROR with that message."""
        self.outcome = Outcome("ENDED_ERROR", message)
        return self.outcome

    # -- children --------------------------------------------------------------

    def flow(
        self,
        flow_name: str,
        inputs: dict[str, Any] | None = None,
        *,
        wait: bool = True,
        name: str | None = None,
        by: str = "name",
        timeout: float | None = None,
    ) -> Execution:
        """Start the flow as a child of this execution; with ``wait`` (the default),
        return once it ended and raise DependencyFailedError when it failed."""
        return self._system.run(flow_name, inputs, wait=wait, name=name, by=by, timeout=timeout)

    def wait_for(self, *executions: Execution, timeout: float | None = None) -> list[Execution]:
        """Wait until every one of ``executions`` has ended; raise DependencyFailedError
        naming those that did not succeed."""
        records = [e.wait(timeout=timeout) for e in executions]
        failed = [r for r in records if r.get("status") != "ENDED_SUCCESS"]
        if failed:
            raise _failure(failed)
        return list(executions)

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Block until this execution has ended (or ``timeout`` seconds passed); its record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = WAIT_STEP if deadline is None else max(0.0, min(WAIT_STEP, deadline - time.monotonic()))
            record: dict[str, Any] = self._system.client.request(
                "GET", f"/execution/{quote(self.id, safe='')}/wait", params={"wait": step}
            )
            if record.get("status") in ENDED:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutExceededError(f"execution {self.id} did not end within {timeout} seconds")

    def cancel(self) -> dict[str, Any]:
        """Cancel this execution (and its running children)."""
        record: dict[str, Any] = self._system.client.request("POST", f"/execution/{quote(self.id, safe='')}/cancel")
        return record


def _failure(records: list[dict[str, Any]]) -> DependencyFailedError:
    parts = [
        f"execution {r.get('id')} ({r.get('name')}) ended {r.get('status')}"
        + (f": {r['message']}" if r.get("message") else "")
        for r in records
    ]
    return DependencyFailedError("; ".join(parts), execution=records[0])


def check_inputs(inputs: Any) -> dict[str, Any] | None:
    if inputs is not None and not isinstance(inputs, dict):
        raise InvalidInputError(f"inputs must be a dict, not {type(inputs).__name__}")
    return inputs
