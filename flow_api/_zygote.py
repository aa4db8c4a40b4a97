"""The fork server of execution processes: started once by Engine with flow_api and httpx
imported, it forks one child per request, so a new execution process costs a fork, not
an interpreter start.

Requests arrive on a SEQPACKET socket with the child's four pipe ends attached
(stdin, stdout, stderr, control); the answer is ``{"id", "pid"}``, and
``{"exit": pid, "code": n}`` follows when that child ends.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

from flow_api import _isolation, _runner


def _child(
    request: dict[str, object],
    fds: list[int],
    sock: socket.socket,
    wakeup: tuple[int, int],
    iso: _isolation.Isolation,
    broken: str | None,
) -> None:
    try:
        os.setsid()  # its own process group: Engine kills the whole tree with one signal
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(4, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)
        del sock, wakeup
        try:
            if broken:
                raise OSError(broken)
            _isolation.enter(iso, str(request["cwd"]))
        except OSError as exc:
            # Never run a script with less isolation than Engine announced.
            os.write(2, f"Engine could not isolate the execution's process: {exc}\n".encode())
            os._exit(1)
        os.chdir(str(request["cwd"]))  # after enter: its own temporary folder may cover the old one
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        _runner.main(3)
    finally:
        os._exit(0)


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(json.dumps({"exit": pid, "code": os.waitstatus_to_exitcode(status)}).encode())


def main(sock_fd: int, config: str = "{}") -> None:
    _runner._die_with_parent()
    sock = socket.socket(fileno=sock_fd)
    options = json.loads(config)
    iso = _isolation.setup([str(p) for p in options.get("hide", [])], bool(options.get("drop_root", True)))
    sock.send(json.dumps({"isolation": iso.describe()}).encode())
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd hears of exits
    while True:
        try:
            ready, _, _ = select.select([sock.fileno(), wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(sock)
        if sock.fileno() in ready:
            try:
                message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 4)
            except InterruptedError:
                continue
            if not message:
                return  # Engine went away
            request = json.loads(message)
            broken = None
            try:
                _isolation.before_fork(iso)
            except OSError as exc:
                broken = f"no PID namespace: {exc}"
            pid = os.fork()
            if pid == 0:
                _child(request, fds, sock, (wake_r, wake_w), iso, broken)
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"id": request["id"], "pid": pid}).encode())
            _reap(sock)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "{}")
