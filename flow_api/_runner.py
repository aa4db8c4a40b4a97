"""The process side of one execution: Engine starts this ahead of time, then sends
the job over stdin; it reports log lines and the outcome as JSON lines on a pipe.

It imports no part of Engine: it holds nothing but the job it was given.
"""

from __future__ import annotations

import io
import json
import linecache
import os
import resource
import sys
import threading
import traceback
from datetime import UTC, datetime
from typing import Any, BinaryIO

import httpx  # imported ahead of the job: the pool exists to pay this cost early

import flow_api
from flow_api.execution import Outcome

MAX_TRACEBACK = 64 * 1024
# Made before the job arrives: an httpx client's TLS context costs tens of milliseconds.
_TRANSPORT = httpx.HTTPTransport()


class Channel:
    """JSON lines to Engine, one writer at a time."""

    def __init__(self, fd: int) -> None:
        self._out: BinaryIO = os.fdopen(fd, "wb", buffering=0)
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, default=str).encode() + b"\n"
        with self._lock:
            self._out.write(line)

    def log(self, level: str, text: str) -> None:
        self.send({"t": "log", "level": level, "message": text, "at": _now()})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LogStream(io.TextIOBase):
    """``print`` into the execution log: each complete line is one entry."""

    def __init__(self, channel: Channel, level: str) -> None:
        self._channel = channel
        self._level = level
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._channel.log(self._level, line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._pending = self._pending, ""
        if rest:
            self._channel.log(self._level, rest)


def _die_with_parent() -> None:
    # Linux: end this process when Engine's process ends, so no script outlives a crash.
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _limit(limits: dict[str, Any]) -> None:
    cpu = int(limits.get("cpu_seconds") or 0)
    if cpu > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    memory = int(limits.get("memory_bytes") or 0)
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    files = int(limits.get("open_files") or 0)
    if files > 0:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _script_traceback(exc: BaseException) -> str:
    # Leave out this runner's own frames: the user's script starts below them.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return text if len(text) <= MAX_TRACEBACK else "...\n" + text[-MAX_TRACEBACK:]


def run(job: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Run the job's handler; the result message for Engine."""
    os.environ["FLOW_API_URL"] = job["url"]
    os.environ["FLOW_API_TOKEN"] = job["token"]
    os.environ["FLOW_API_EXECUTION_ID"] = job["execution_id"]
    system = flow_api.System(flow_api.Client(job["url"], job["token"], transport=_TRANSPORT))
    this = flow_api.Execution(system, job["execution_id"], log_sink=channel.log)
    try:
        source = job["script"] or ""
        filename = f"<flow {job.get('flow_name') or ''}>"
        # Tracebacks quote the script's lines from here.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        code = compile(source, filename, "exec")
        namespace: dict[str, Any] = {"__name__": "__flow__", "__builtins__": __builtins__}
        exec(code, namespace)
        handler = namespace.get("handler")
        if not callable(handler):
            return {
                "status": "ENDED_ERROR",
                "message": "the flow's script defines no handler",
                "status_message": "a flow script must define def handler(system, this, inputs)",
            }
        returned = handler(system, this, job.get("inputs") or {})
        outcome = returned if isinstance(returned, Outcome) else this.outcome
        if outcome is None:
            return {"status": "ENDED_SUCCESS"}
        return {"status": outcome.status, "message": outcome.message}
    except SystemExit as exc:
        if exc.code in (None, 0):
            return {"status": "ENDED_SUCCESS"}
        return {"status": "ENDED_ERROR", "message": f"the script exited with {exc.code!r}"}
    except BaseException as exc:
        return {
            "status": "ENDED_ERROR",
            "message": f"{type(exc).__name__}: {exc}"[:1000],
            "status_message": _script_traceback(exc),
        }
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        system.close()


def main(fd: int) -> None:
    channel = Channel(fd)
    _die_with_parent()
    channel.send({"t": "ready"})
    raw = sys.stdin.buffer.read()
    if not raw:
        return  # Engine closed the pool before using this process
    job = json.loads(raw)
    sys.stdin.close()
    _limit(job.get("limits") or {})
    sys.stdout = LogStream(channel, "info")
    sys.stderr = LogStream(channel, "error")
    result = run(job, channel)
    channel.send({"t": "result", **result})
    # Nothing is left to do: skip the interpreter's teardown, Engine is waiting for the exit.
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
