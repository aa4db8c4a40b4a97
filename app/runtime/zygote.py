"""Engine's side of the fork server (``flow_api._zygote``): one warm interpreter that
forks a fresh process per execution in a few milliseconds."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from app.runtime.env import SDK_ROOT, sandbox_env

log = logging.getLogger("engine.runtime")

_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[2]); "
    "from flow_api._zygote import main; main(int(sys.argv[1]), sys.argv[3])"
)
READ_LIMIT = 64 * 1024


@dataclass
class Child:
    """A forked execution process: its pipes, and its exit code once the fork server reports it."""

    pid: int
    stdin: int  # write end, for the job
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader
    control: asyncio.StreamReader
    exited: asyncio.Future[int]
    workdir: str

    @property
    def returncode(self) -> int | None:
        return self.exited.result() if self.exited.done() else None

    async def wait(self) -> int:
        return await asyncio.shield(self.exited)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


async def _reader(fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=READ_LIMIT)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
    return reader


class Zygote:
    """The fork server: started once (again when it died), it sets up the isolation of
    execution processes (``flow_api._isolation``) and reports what is in force."""

    def __init__(self, hide: list[str] | None = None, drop_root: bool = True) -> None:
        self.hide = list(hide or [])
        self.drop_root = drop_root
        self.isolation: dict[str, Any] | None = None  # as the fork server reported it
        self._proc: asyncio.subprocess.Process | None = None
        self._sock: socket.socket | None = None
        self._home = ""
        self._ids = itertools.count(1)
        self._spawns: dict[int, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._early: dict[int, int] = {}
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None and self._listener is not None

    async def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._home = tempfile.mkdtemp(prefix="engine-forks-")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "-c",
                _BOOT,
                str(theirs.fileno()),
                SDK_ROOT,
                json.dumps({"hide": self.hide, "drop_root": self.drop_root}),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                cwd=self._home,
                env=sandbox_env(self._home),
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        try:
            hello = json.loads(await asyncio.wait_for(asyncio.get_running_loop().sock_recv(ours, 65536), 30))
        except (OSError, ValueError, TimeoutError) as exc:
            await self.stop()
            raise RuntimeError(f"the fork server did not start: {exc!r}") from exc
        self._announce(hello.get("isolation") or {})
        self._listener = asyncio.create_task(self._listen())

    def _announce(self, isolation: dict[str, Any]) -> None:
        if isolation == self.isolation:
            return  # a restarted fork server: said already
        self.isolation = isolation
        if isolation.get("namespaces"):
            who = f"as user {isolation['user']}" if isolation.get("user") else "as root (inside the namespaces)"
            log.info(
                "executions run in their own PID, mount and IPC namespaces%s, %s; hidden: %s, the temporary folders%s",
                " (in a user namespace)" if isolation.get("user_namespace") else "",
                who,
                ", ".join(isolation.get("hidden") or []) or "no data directory",
                f" ({isolation['reason']})" if isolation.get("reason") else "",
            )
        else:
            log.warning(
                "executions are NOT isolated from Engine's files and processes: %s",
                isolation.get("reason") or "the fork server reported no isolation",
            )

    async def _listen(self) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await loop.sock_recv(self._sock, 65536)
                if not data:
                    break
                message = json.loads(data)
                if "exit" in message:
                    pid, code = int(message["exit"]), int(message["code"])
                    future = self._exits.pop(pid, None)
                    if future is None:
                        self._early[pid] = code
                    elif not future.done():
                        future.set_result(code)
                else:
                    spawned = self._spawns.pop(int(message["id"]), None)
                    if spawned is not None and not spawned.done():
                        spawned.set_result(int(message["pid"]))
        except (OSError, ValueError) as exc:
            log.warning("the fork server's channel failed: %s", exc)
        finally:
            self._listener = None
            # Its children die with it (PDEATHSIG); nobody will report their exits now.
            for future in [*self._spawns.values(), *self._exits.values()]:
                if not future.done():
                    future.set_result(-signal.SIGKILL)
            self._spawns.clear()
            self._exits.clear()

    async def fork(self) -> Child:
        """A new execution process, waiting for its job on stdin."""
        async with self._lock:
            if not self.alive:
                await self.stop()
                await self.start()
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        workdir = tempfile.mkdtemp(prefix="engine-execution-")
        pipes = [os.pipe() for _ in range(4)]  # stdin, stdout, stderr, control
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1], pipes[3][1]]
        request_id = next(self._ids)
        spawned: asyncio.Future[int] = loop.create_future()
        self._spawns[request_id] = spawned
        request = json.dumps({"id": request_id, "cwd": workdir, "env": sandbox_env(workdir)}).encode()
        try:
            socket.send_fds(self._sock, [request], theirs)
        except OSError:
            self._spawns.pop(request_id, None)
            for read_fd, write_fd in pipes:
                os.close(read_fd)
                os.close(write_fd)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        finally:
            for fd in theirs:
                with contextlib.suppress(OSError):
                    os.close(fd)
        pid = await spawned
        exited: asyncio.Future[int] = loop.create_future()
        if pid in self._early:
            exited.set_result(self._early.pop(pid))
        else:
            self._exits[pid] = exited
        return Child(
            pid=pid,
            stdin=pipes[0][1],
            stdout=await _reader(pipes[1][0]),
            stderr=await _reader(pipes[2][0]),
            control=await _reader(pipes[3][0]),
            exited=exited,
            workdir=workdir,
        )

    async def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                await self._proc.wait()
            self._proc = None
        if self._home:
            shutil.rmtree(self._home, ignore_errors=True)
