"""Linux namespaces for execution processes, set up by the fork server (``_zygote``).

The fork server enters a private mount namespace once, at start, and there hides
Engine's data directory under an empty read-only tmpfs. Each execution process then
gets namespaces of its own: a PID namespace in which the script is process 1 and sees
no other process (its own ``/proc`` is mounted fresh), a mount namespace for that
``/proc`` and for empty temporary folders (``/tmp``, ``/dev/shm``, Engine's temporary
folder with only the execution's working directory in it), and an IPC namespace.
Killing the script's process kills everything in its PID namespace. As root the script
also gives up root for ``nobody`` when that user can reach the interpreter. There is no
network namespace: scripts talk to Engine over HTTP.

Without root (or without CAP_SYS_ADMIN) the same is tried in a user namespace of its
own; where neither works the fork server says why and the scripts run as before (own
session, clean environment, limits). Only the standard library is used: this runs in
the fork server.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import stat
import sys
from dataclasses import dataclass, field
from typing import Any

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

# Exit codes of the start-up trial: which part failed.
_TRIAL_NAMESPACES = 70
_TRIAL_DROP = 71


@dataclass
class Isolation:
    """What the fork server managed to set up; ``describe()`` is what Engine logs."""

    namespaces: bool = False
    user_namespace: bool = False
    hidden: list[str] = field(default_factory=list)
    uid: int | None = None  # the script's user, when root is given up
    gid: int | None = None
    reset_fd: int | None = None  # the fork server's own PID namespace, to start a fresh one per fork
    double_fork: bool = False  # a fresh PID namespace needs one more fork (no setns in a user namespace)
    reason: str = ""  # why something is not in force
    keep: list[str] = field(default_factory=list)  # the interpreter's folders: never covered

    def describe(self) -> dict[str, Any]:
        return {
            "namespaces": self.namespaces,
            "user_namespace": self.user_namespace,
            "hidden": self.hidden,
            "user": pwd.getpwuid(self.uid).pw_name if self.uid is not None else None,
            "as_root": self.namespaces and self.uid is None and os.geteuid() == 0 and not self.user_namespace,
            "reason": self.reason,
        }


_libc: dict[str, Any] = {}


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if not _libc:
        _libc["mount"] = ctypes.CDLL(None, use_errno=True).mount
        _libc["mount"].argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    encoded = [s.encode() if s is not None else None for s in (source, target, fstype, data)]
    if _libc["mount"](encoded[0], encoded[1], encoded[2], flags, encoded[3]) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _enter_user_namespace() -> None:
    uid, gid = os.geteuid(), os.getegid()
    os.unshare(os.CLONE_NEWUSER | os.CLONE_NEWNS)
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def _reachable_by_others(path: str) -> str | None:
    """The first directory on the way to ``path`` that other users may not enter, if any."""
    current = "/"
    for part in [p for p in path.split("/") if p]:
        current = os.path.join(current, part)
        mode = os.stat(current).st_mode
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return current
    return None


def _open_way_for(user: pwd.struct_passwd, needed: list[str]) -> None:
    """Let ``user`` reach the interpreter: a directory on the way that only root may enter
    (a home directory) is covered by an empty tmpfs, and the needed folder is bound back
    into it; the rest of that directory stays out of sight."""
    blocked: dict[str, list[str]] = {}
    for path in sorted(set(needed)):
        blocker = _reachable_by_others(path)
        if blocker is not None and not any(path.startswith(p + "/") for p in blocked.get(blocker, [])):
            blocked.setdefault(blocker, []).append(path)
    for blocker, paths in blocked.items():
        handles = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in paths]  # reach them once covered
        try:
            _mount("tmpfs", blocker, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
            for path, handle in zip(paths, handles, strict=True):
                os.makedirs(path, mode=0o755, exist_ok=True)
                _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
            _mount(None, blocker, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        finally:
            for handle in handles:
                os.close(handle)


def _interpreter_paths() -> list[str]:
    paths = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    paths.update(os.path.realpath(p) for p in sys.path if p and os.path.isdir(p))
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(paths)


def setup(hide: list[str], drop_root: bool = True, user_namespace: bool | None = None) -> Isolation:
    """Called once by the fork server before it forks anything (it must have no threads).

    ``user_namespace``: None uses one only when a plain mount namespace is refused (not
    root, or root without CAP_SYS_ADMIN); True always does; False never does."""
    iso = Isolation()
    if not sys.platform.startswith("linux") or not hasattr(os, "unshare"):
        iso.reason = "not Linux (or no os.unshare): scripts run without namespaces"
        return iso
    try:
        try:
            if user_namespace:
                raise PermissionError("a user namespace was asked for")
            os.unshare(os.CLONE_NEWNS)
        except PermissionError:
            if user_namespace is False:
                raise
            _enter_user_namespace()
            iso.user_namespace = True
        _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches Engine's mounts
        for path in hide:
            if os.path.isdir(path):
                _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
                iso.hidden.append(path)
        iso.reset_fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
        iso.keep = _interpreter_paths()
    except OSError as exc:
        iso.reason = f"namespaces unavailable ({exc}): scripts run as Engine's user without them"
        iso.hidden = []
        return iso
    iso.namespaces = True
    if drop_root and os.geteuid() == 0 and not iso.user_namespace:
        try:
            nobody = pwd.getpwnam("nobody")
            _open_way_for(nobody, iso.keep)
            iso.uid, iso.gid = nobody.pw_uid, nobody.pw_gid
        except (KeyError, OSError) as exc:
            iso.reason = f"scripts keep root (inside the namespaces): {exc}"
    _trial(iso)
    return iso


def _trial(iso: Isolation) -> None:
    """Fork one process the way executions are forked, so a failure shows now and not per execution."""
    for _ in range(3):
        code = _try_once(iso)
        if code == 0:
            return
        if code == _TRIAL_DROP and iso.uid is not None:
            iso.uid = iso.gid = None
            iso.reason = "scripts keep root (inside the namespaces): user nobody cannot reach the interpreter"
            continue
        if code == _TRIAL_NAMESPACES and not iso.double_fork:
            iso.double_fork = True  # setns into our own PID namespace is refused: fork once more instead
            continue
        break
    iso.namespaces = False
    iso.uid = iso.gid = None
    iso.reason = "a process in fresh PID and mount namespaces could not start: scripts run without them"


def _try_once(iso: Isolation) -> int:
    try:
        before_fork(iso)
    except OSError:
        return _TRIAL_NAMESPACES
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            try:
                _enter_namespaces(iso)
                _lock_mounts(iso)
                if sorted(p for p in os.listdir("/proc") if p.isdigit()) != ["1"]:
                    code = _TRIAL_NAMESPACES
            except OSError:
                code = _TRIAL_NAMESPACES
            if code == 0 and iso.uid is not None:
                try:
                    _drop_root(iso, None)
                    for module in (os, ctypes):  # the standard library, as the script will read it
                        with open(str(module.__file__), "rb"):
                            pass
                except OSError:
                    code = _TRIAL_DROP
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def before_fork(iso: Isolation) -> None:
    """In the fork server: the next child starts a PID namespace of its own (as its process 1)."""
    if iso.namespaces and not iso.double_fork and iso.reset_fd is not None:
        os.setns(iso.reset_fd, os.CLONE_NEWPID)  # back to ours, or a second unshare is refused
        os.unshare(os.CLONE_NEWPID)


def enter(iso: Isolation, workdir: str | None) -> None:
    """In the new child, before it reads its job: its own mounts and /proc, then (as root) nobody."""
    _enter_namespaces(iso)
    if iso.namespaces and workdir is not None:
        _private_temp(iso, workdir)
    _lock_mounts(iso)
    _drop_root(iso, workdir)


def _lock_mounts(iso: Isolation) -> None:
    # A script that stays root (in a user namespace, or because nobody cannot run it) could
    # unmount what covers the data directory. In a user namespace below ours, the mounts
    # it was given are locked to it: it cannot unmount them, nor mount /proc anew.
    if iso.namespaces and iso.uid is None:
        _enter_user_namespace()


def _private_temp(iso: Isolation, workdir: str) -> None:
    # Executions share a user (nobody): each gets empty /tmp and /dev/shm of its own, with
    # only its working directory in its temporary folder, so none finds another's files.
    temp = os.path.dirname(os.path.realpath(workdir))
    handle = os.open(workdir, os.O_PATH | os.O_DIRECTORY)
    try:
        for folder in dict.fromkeys([temp, "/tmp", "/dev/shm"]):
            if folder == "/" or not os.path.isdir(folder):
                continue
            # The interpreter may live inside (a checkout under /tmp): its folders are bound
            # back into the empty cover, and nothing else of what was there shows.
            inside = _outermost([p for p in iso.keep if p.startswith(folder + "/")])
            kept = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in inside]
            try:
                _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
                for path, kept_handle in zip(inside, kept, strict=True):
                    os.makedirs(path, mode=0o755, exist_ok=True)
                    _mount(f"/proc/self/fd/{kept_handle}", path, None, MS_BIND | MS_REC)
            finally:
                for kept_handle in kept:
                    os.close(kept_handle)
        os.makedirs(workdir, mode=0o700, exist_ok=True)
        if not os.path.samestat(os.stat(workdir), os.fstat(handle)):
            _mount(f"/proc/self/fd/{handle}", workdir, None, MS_BIND)
    finally:
        os.close(handle)


def _outermost(paths: list[str]) -> list[str]:
    """``paths`` without those inside another of them."""
    out: list[str] = []
    for path in sorted(set(paths)):
        if not any(path.startswith(parent + "/") for parent in out):
            out.append(path)
    return out


def _enter_namespaces(iso: Isolation) -> None:
    if not iso.namespaces:
        return
    if iso.double_fork:
        os.unshare(os.CLONE_NEWPID)
        _become_init()
    os.unshare(os.CLONE_NEWNS | os.CLONE_NEWIPC)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _drop_root(iso: Isolation, workdir: str | None) -> None:
    if iso.namespaces and iso.uid is not None and iso.gid is not None:
        if workdir is not None:
            os.chown(workdir, iso.uid, iso.gid)
        os.setgroups([])
        os.setgid(iso.gid)
        os.setuid(iso.uid)


def _become_init() -> None:
    # The first child after unshare(CLONE_NEWPID) is the namespace's process 1; this
    # process stays outside, waits for it and ends the same way, so Engine sees one exit.
    pid = os.fork()
    if pid == 0:
        return
    for fd in range(4):
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        import resource
        import signal

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status))
