"""The sandbox around a script: it cannot see Engine's processes, environment or store files.

Real Engines, real execution processes; every script here tries what a hostile one would.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.runtime.zygote import Zygote
from tests.runtime_support import make_flow, processes_in, run_flow, until_ended, until_started
from tests.servers import ADMIN, ADMIN_PASSWORD, RunningEngine, login

ROOT = Path(__file__).resolve().parent.parent
INTERPRETER_PARTS = set(Path(sys.prefix).resolve().parts)
CANARY = "canary-7f3e1d-not-for-scripts"

# Reads everything the script can reach under /proc: every process it sees, and their environments.
SNOOP = """
import os

def handler(system, this, inputs):
    seen, environ, errors = {}, {}, []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                seen[name] = f.read().replace(b"\\0", b" ").decode(errors="replace")
            with open(f"/proc/{name}/environ", "rb") as f:
                environ[name] = f.read().decode(errors="replace")
        except OSError as exc:
            errors.append(f"{name}: {exc}")
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/environ", "rb") as f:
            environ["parent"] = f.read().decode(errors="replace")
    except OSError as exc:
        errors.append(f"parent {parent}: {exc}")
    this.save(output_value={"pid": os.getpid(), "ppid": parent, "seen": seen, "environ": environ, "errors": errors})
"""


def _isolation(engine: RunningEngine) -> dict[str, Any]:
    isolation = engine.engine.services["runtime"].workers.pool.zygote.isolation
    assert isolation is not None, "the fork server reported nothing"
    if not isolation.get("namespaces"):
        pytest.skip(f"this machine gives execution processes no namespaces: {isolation.get('reason')}")
    result: dict[str, Any] = isolation
    return result


@pytest.fixture
def isolated(engine_server: RunningEngine) -> dict[str, Any]:
    return _isolation(engine_server)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(port: int, data_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_the_fork_server_says_which_isolation_is_in_force(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hidden = tmp_path / "data"
    hidden.mkdir()
    zygote = Zygote([str(hidden)])
    with caplog.at_level(logging.INFO, logger="engine.runtime"):
        await zygote.start()
        await zygote.stop()
    assert zygote.isolation is not None
    said = [r.getMessage() for r in caplog.records if r.name == "engine.runtime"]
    if not zygote.isolation["namespaces"]:
        assert any("NOT isolated" in line for line in said), said
        pytest.skip(f"this machine gives execution processes no namespaces: {zygote.isolation['reason']}")
    assert zygote.isolation["hidden"] == [str(hidden)]
    assert any("own PID, mount and IPC namespaces" in line and str(hidden) in line for line in said), said
    if os.geteuid() == 0:
        # Root gives up root for nobody when nobody can reach the interpreter (here it can).
        assert zygote.isolation["user"] == "nobody", zygote.isolation


async def test_a_script_finds_no_engine_process_and_no_secret_in_any_environment(
    store_name: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    # Engine as an operator starts it: its own process, secrets in its environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_") and k != "MONGODB_URI"}
    env.update(
        {"ENGINE_ADMIN_USER": ADMIN, "ENGINE_ADMIN_PASSWORD": ADMIN_PASSWORD, "ENGINE_WORKERS": "1", "CANARY": CANARY}
    )
    secrets = [ADMIN_PASSWORD, CANARY, str(tmp_path)]
    if store_name == "mongodb":
        uri = request.getfixturevalue("mongo_uri")
        env.update({"MONGODB_URI": uri, "ENGINE_MONGODB_DATABASE": f"engine_sandbox_{unique.strip('-')}"})
        secrets.append(uri)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    engine = _serve(port, tmp_path / "data", env)
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while True:
                assert engine.poll() is None, "Engine exited at start"
                try:
                    if (await client.get(url + "/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "Engine did not start"
                await asyncio.sleep(0.1)
        token = await login(url)
        async with httpx.AsyncClient(
            base_url=url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as api:
            await make_flow(api, f"{unique}snoop", SNOOP)
            done = await run_flow(api, f"{unique}snoop")
    finally:
        engine.terminate()
        _, err = engine.communicate(timeout=20)
    said = err.decode(errors="replace")
    if "NOT isolated" in said:
        pytest.skip(f"this machine gives execution processes no namespaces: {said.strip().splitlines()[-1]}")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    out = done["output_value"]
    assert out["pid"] == 1 and out["ppid"] == 0  # nothing to walk up to
    assert list(out["seen"]) == ["1"], out["seen"]  # the script alone, not Engine nor the fork server
    assert "app.cli" not in " ".join(out["seen"].values())
    text = " ".join(out["environ"].values())
    assert "MONGODB_URI" not in text and "ENGINE_" not in text
    for secret in secrets:
        assert secret not in text


async def test_a_script_cannot_open_the_embedded_store(
    api: httpx.AsyncClient, unique: str, engine_server: RunningEngine, isolated: dict[str, Any]
) -> None:
    data_dir = engine_server.settings.data_dir.resolve()
    db = data_dir / "engine.db"
    if engine_server.settings.mongodb_uri is None:
        assert db.exists()  # there is something to hide
        assert isolated["hidden"] == [str(data_dir)]
    await make_flow(
        api,
        f"{unique}steal",
        """
        import ctypes, os, sqlite3

        def handler(system, this, inputs):
            tries = {}
            for how, attempt in [
                ("open", lambda: open(inputs["db"], "rb").read(16)),
                ("sqlite", lambda: sqlite3.connect(f"file:{inputs['db']}?mode=ro", uri=True).execute(
                    "select count(*) from sqlite_master").fetchall()),
                ("list", lambda: os.listdir(inputs["dir"])),
                ("write", lambda: open(os.path.join(inputs["dir"], "x"), "w").write("x")),
                ("umount", lambda: ctypes.CDLL(None).umount2(inputs["dir"].encode(), 2) == 0),
                # What is mounted there, as the kernel tells this process (whoever it runs as).
                ("mounts", lambda: [line.split()[4:] for line in open("/proc/self/mountinfo")
                                    if line.split()[4] == inputs["dir"]]),
            ]:
                try:
                    tries[how] = {"ok": repr(attempt())}
                except Exception as exc:
                    tries[how] = {"error": f"{type(exc).__name__}: {exc}"}
            this.save(output_value=tries)
        """,
    )
    done = await run_flow(api, f"{unique}steal", {"db": str(db), "dir": str(data_dir)})
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    tries = done["output_value"]
    assert "error" in tries["open"] and "error" in tries["sqlite"], tries
    assert "error" in tries["write"], tries
    assert tries["umount"] == {"ok": "False"}, tries  # the cover stays on
    if engine_server.settings.mongodb_uri is None:
        # An empty read-only tmpfs over the real folder, whoever the script runs as. (Here the
        # data dir is a test's temporary one: the script's own empty /tmp hides it as well,
        # and as nobody it could not enter it anyway; the mount is there all the same.)
        mounts = ast.literal_eval(tries["mounts"]["ok"])
        assert mounts and mounts[-1][0] == str(data_dir), tries
        assert "ro" in mounts[-1][1].split(",") and "tmpfs" in mounts[-1], tries
        listed = tries["list"]
        assert listed == {"ok": "[]"} or listed["error"].startswith(("FileNotFound", "Permission")), tries


async def test_a_script_lists_only_its_own_processes_and_files(
    api: httpx.AsyncClient, unique: str, isolated: dict[str, Any]
) -> None:
    await make_flow(
        api,
        f"{unique}ps",
        """
        import os, subprocess

        def handler(system, this, inputs):
            child = subprocess.Popen(["sleep", "30"])
            seen = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            child.kill()
            child.wait()
            here = os.getcwd()
            this.save(output_value={"me": os.getpid(), "child": child.pid, "seen": seen, "uid": os.getuid(),
                                    "temp": os.listdir(os.path.dirname(here)), "here": os.path.basename(here),
                                    "tmp": os.listdir("/tmp"), "shm": os.listdir("/dev/shm")})
        """,
    )
    done = await run_flow(api, f"{unique}ps")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    out = done["output_value"]
    assert out["seen"] == sorted([out["me"], out["child"]]), out
    # Its own temporary folder: no other execution's working directory, nobody else's files;
    # only a checkout the interpreter runs from (say, under /tmp) is bound back in.
    assert out["here"] in out["temp"] and set(out["temp"]) - {out["here"]} <= INTERPRETER_PARTS, out
    assert set(out["tmp"]) - {out["here"]} <= INTERPRETER_PARTS and out["shm"] == [], out
    if isolated["user"]:
        assert out["uid"] != 0 and out["uid"] == pwd.getpwnam(isolated["user"]).pw_uid


async def test_a_script_keeps_the_interpreter_and_its_standard_library(
    api: httpx.AsyncClient, unique: str, isolated: dict[str, Any]
) -> None:
    # As nobody the script must still import what the fork server had not, and start Python.
    await make_flow(
        api,
        f"{unique}stdlib",
        """
        import subprocess, sys

        def handler(system, this, inputs):
            import decimal, email.parser, sqlite3
            out = subprocess.run([sys.executable, "-c", "import json, os; print(json.dumps(os.getuid()))"],
                                 capture_output=True, text=True, check=True).stdout
            with open("note.txt", "w") as f:  # its working directory is its own to write
                f.write(str(decimal.Decimal("1.5")))
            this.save(output_value={"child_uid": int(out), "note": open("note.txt").read()})
        """,
    )
    done = await run_flow(api, f"{unique}stdlib")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    assert done["output_value"]["note"] == "1.5"
    if isolated["user"]:
        assert done["output_value"]["child_uid"] == pwd.getpwnam(isolated["user"]).pw_uid


async def _started(api: httpx.AsyncClient, execution_id: str) -> str:
    await until_started(api, execution_id)
    workdir: str = (await api.get(f"/execution/{execution_id}")).json()["output_value"]
    return workdir


# A child in the script's process group, one in a session of its own (out of reach of a
# process-group kill), and a daemon whose parent exited (reparented inside the namespace).
ESCAPE = """
import os, subprocess, time

def handler(system, this, inputs):
    subprocess.Popen(["sleep", "120"])
    subprocess.Popen(["sleep", "121"], start_new_session=True)
    subprocess.run(["sh", "-c", "setsid sleep 122 & exit 0"])
    time.sleep(0.3)
    this.save(output_value=os.getcwd())
    print("started")
    time.sleep(120)
"""


async def _gone(workdir: str, why: str) -> None:
    deadline = time.monotonic() + 5
    while left := processes_in(workdir):
        assert time.monotonic() < deadline, f"processes {left} survived the {why}"
        await asyncio.sleep(0.05)


async def test_cancel_kills_children_that_left_the_process_group(
    api: httpx.AsyncClient, unique: str, isolated: dict[str, Any]
) -> None:
    await make_flow(api, f"{unique}escape", ESCAPE)
    execution_id = (await api.post("/execution", json={"flow_name": f"{unique}escape"})).json()["id"]
    workdir = await _started(api, execution_id)
    assert len(processes_in(workdir)) == 4, processes_in(workdir)  # the script and its three sleeps
    cancelled = await api.post(f"/execution/{execution_id}/cancel")
    assert cancelled.json()["status"] == "ENDED_CANCELLED", cancelled.text
    await _gone(workdir, "cancel")


async def test_timeout_kills_children_that_left_the_process_group(
    api: httpx.AsyncClient, unique: str, isolated: dict[str, Any]
) -> None:
    await make_flow(api, f"{unique}escape-slow", ESCAPE, max_runtime_minutes=0.05)
    execution_id = (await api.post("/execution", json={"flow_name": f"{unique}escape-slow"})).json()["id"]
    workdir = await _started(api, execution_id)
    assert len(processes_in(workdir)) == 4, processes_in(workdir)
    done = await until_ended(api, execution_id, 30)
    assert done["status"] == "ENDED_ERROR" and "timeout" in done["message"], done
    await _gone(workdir, "timeout")


USER_NAMESPACE_PROBE = """
import ctypes, json, os, sys
from flow_api import _isolation

iso = _isolation.setup([sys.argv[1]], user_namespace={"yes": True, "auto": None, "no": False}[sys.argv[2]])
report = {"isolation": iso.describe(), "children": []}
for _ in range(2):  # a fresh PID namespace each time, not one shared by the two
    _isolation.before_fork(iso)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _isolation.enter(iso, None)
        seen = [p for p in os.listdir("/proc") if p.isdigit()]
        # Root in its namespace, the child tries to take the cover off the data directory.
        libc = ctypes.CDLL(None, use_errno=True)
        undone = libc.umount2(sys.argv[1].encode(), 2) == 0 or libc.umount2(b"/proc", 2) == 0
        report = {"pid": os.getpid(), "seen": seen, "hidden": os.listdir(sys.argv[1]), "undone": undone}
        os.write(write, json.dumps(report).encode())
        os._exit(7)
    os.close(write)
    with os.fdopen(read) as f:
        child = json.loads(f.read())
    child["code"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    report["children"].append(child)
print(json.dumps(report))
"""


def _probe(hidden: Path, mode: str, without_sys_admin: bool = False) -> dict[str, Any]:
    command = [sys.executable, "-c", USER_NAMESPACE_PROBE, str(hidden), mode]
    if without_sys_admin:
        # Root without CAP_SYS_ADMIN may not make namespaces, as a user who is not root.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) is not installed: cannot start a process without CAP_SYS_ADMIN")
        command = [setpriv, "--bounding-set=-sys_admin", *command]
    probe = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert probe.returncode == 0, probe.stderr
    report: dict[str, Any] = json.loads(probe.stdout)
    return report


@pytest.mark.parametrize("without_sys_admin", [False, True], ids=["asked-for", "no-CAP_SYS_ADMIN"])
def test_a_user_namespace_gives_the_same_isolation(tmp_path: Path, without_sys_admin: bool) -> None:
    # The way for an Engine that may not make namespaces itself: asked for (as root), or
    # found on its own when a plain mount namespace is refused.
    hidden = tmp_path / "data"
    hidden.mkdir()
    (hidden / "engine.db").write_text("secret")
    report = _probe(hidden, "auto" if without_sys_admin else "yes", without_sys_admin)
    if not report["isolation"]["namespaces"]:
        pytest.skip(f"this machine allows no user namespaces: {report['isolation']['reason']}")
    assert report["isolation"]["user_namespace"] and report["isolation"]["hidden"] == [str(hidden)]
    for child in report["children"]:
        assert child == {"pid": 1, "seen": ["1"], "hidden": [], "undone": False, "code": 7}, report


def test_without_namespaces_the_fork_server_says_why_and_scripts_still_run(tmp_path: Path) -> None:
    hidden = tmp_path / "data"
    hidden.mkdir()
    report = _probe(hidden, "no", without_sys_admin=True)
    isolation = report["isolation"]
    assert not isolation["namespaces"] and isolation["hidden"] == [] and isolation["user"] is None, isolation
    assert "namespaces unavailable" in isolation["reason"] and "Operation not permitted" in isolation["reason"]
    for child in report["children"]:  # as before: the same process numbers as the fork server's
        assert child["code"] == 7 and child["pid"] != 1 and len(child["seen"]) > 1, report
