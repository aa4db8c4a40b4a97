"""Executions end to end: real Engine, real store, a real process per execution."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import httpx

from tests.runtime_support import log_of, make_flow, processes_in, run_flow, until_ended, until_started
from tests.servers import ADMIN_PASSWORD, RunningEngine


async def test_success_with_output_and_message(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}ok",
        """
        def handler(system, this, inputs):
            this.save(output_value={"doubled": inputs["n"] * 2})
            return this.success("all good")
        """,
    )
    done = await run_flow(api, f"{unique}ok", {"n": 21})
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    assert done["output_value"] == {"doubled": 42}
    assert done["message"] == "all good"
    assert done["input_value"] == {"n": 21}
    assert done["name"] == f"{unique}ok"
    assert done["started_at"] <= done["ended_at"]


async def test_returning_none_is_success_and_this_error_is_error(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}none", "def handler(system, this, inputs):\n    pass\n")
    await make_flow(api, f"{unique}err", "def handler(system, this, inputs):\n    return this.error('not today')\n")
    none, err = await asyncio.gather(run_flow(api, f"{unique}none"), run_flow(api, f"{unique}err"))
    assert none["status"] == "ENDED_SUCCESS", none
    assert err["status"] == "ENDED_ERROR", err
    assert err["message"] == "not today"


async def test_uncaught_exception_ends_in_error_with_the_traceback(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}boom",
        """
        def helper(n):
            raise ValueError(f"boom {n}")

        def handler(system, this, inputs):
            helper(7)
        """,
    )
    done = await run_flow(api, f"{unique}boom")
    assert done["status"] == "ENDED_ERROR"
    assert done["message"] == "ValueError: boom 7"
    trace = done["status_message"]
    assert trace.startswith("Traceback (most recent call last):")
    assert "in helper" in trace and 'raise ValueError(f"boom {n}")' in trace
    assert trace.rstrip().endswith("ValueError: boom 7")
    assert "_runner" not in trace  # only the script's own frames


async def test_a_script_without_handler_or_with_a_syntax_error_fails_clearly(
    api: httpx.AsyncClient, unique: str
) -> None:
    await make_flow(api, f"{unique}nohandler", "x = 1\n")
    await make_flow(api, f"{unique}syntax", "def handler(system, this, inputs)\n    pass\n")
    missing, broken = await asyncio.gather(run_flow(api, f"{unique}nohandler"), run_flow(api, f"{unique}syntax"))
    assert missing["status"] == "ENDED_ERROR" and "handler" in missing["message"]
    assert broken["status"] == "ENDED_ERROR" and broken["message"].startswith("SyntaxError")


async def test_wall_clock_limit_ends_in_error_with_a_timeout_message(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}slow",
        "import time\ndef handler(system, this, inputs):\n    print('going to sleep')\n    time.sleep(60)\n",
        max_runtime_minutes=0.02,
    )
    started = time.monotonic()
    done = await run_flow(api, f"{unique}slow")
    assert time.monotonic() - started < 15
    assert done["status"] == "ENDED_ERROR"
    assert "timeout" in done["message"] and "max_runtime_minutes" in done["message"]
    assert [line["message"] for line in await log_of(api, done["id"])] == ["going to sleep"]


async def test_cancel_kills_the_process_tree(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}cancel",
        """
        import os, subprocess, time

        def handler(system, this, inputs):
            child = subprocess.Popen(["sleep", "120"])
            this.save(output_value={"cwd": os.getcwd()})
            print("waiting")
            time.sleep(120)
        """,
    )
    started = await api.post("/execution", json={"flow_name": f"{unique}cancel"})
    execution_id = started.json()["id"]
    await until_started(api, execution_id)
    workdir = (await api.get(f"/execution/{execution_id}")).json()["output_value"]["cwd"]
    assert len(processes_in(workdir)) >= 2  # the script and its sleep
    cancelled = await api.post(f"/execution/{execution_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "ENDED_CANCELLED"
    done = await until_ended(api, execution_id)
    assert done["status"] == "ENDED_CANCELLED"
    deadline = time.monotonic() + 5
    while processes_in(workdir):
        assert time.monotonic() < deadline, f"the script's processes {processes_in(workdir)} survived the cancel"
        await asyncio.sleep(0.05)
    again = await api.post(f"/execution/{execution_id}/cancel")
    assert again.status_code == 409


async def test_a_pending_execution_can_be_cancelled(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}p", "def handler(system, this, inputs):\n    pass\n")
    started = (await api.post("/execution", json={"flow_name": f"{unique}p"})).json()
    cancelled = await api.post(f"/execution/{started['id']}/cancel")
    # Workers are quick: it may have run already, which is a conflict, not an error.
    assert cancelled.status_code in (200, 409), cancelled.text
    done = await until_ended(api, started["id"])
    assert done["status"] in ("ENDED_CANCELLED", "ENDED_SUCCESS")


async def test_print_and_log_lines_are_captured_in_order(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}logs",
        """
        import os, sys

        def handler(system, this, inputs):
            print("one")
            this.log("two", 2, level="warning")
            print("three", file=sys.stderr)
            print("no newline at the end", end="")
            os.system("echo from-a-subprocess")
        """,
    )
    done = await run_flow(api, f"{unique}logs")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    lines = await log_of(api, done["id"])
    pairs = [(line["level"], line["message"]) for line in lines]
    assert pairs[:3] == [("info", "one"), ("warning", "two 2"), ("error", "three")]
    assert ("info", "from-a-subprocess") in pairs
    assert ("info", "no newline at the end") in pairs[3:]  # a partial line is kept until the end
    assert all(line["at"].endswith("Z") for line in lines)


async def test_the_scripts_environment_holds_no_secrets(
    api: httpx.AsyncClient, unique: str, engine_server: RunningEngine
) -> None:
    await make_flow(
        api,
        f"{unique}env",
        """
        import json, os

        def handler(system, this, inputs):
            print(json.dumps(dict(os.environ)))
            this.save(output_value={"env": dict(os.environ), "cwd": os.getcwd(), "files": os.listdir(".")})
        """,
    )
    done = await run_flow(api, f"{unique}env")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    env = done["output_value"]["env"]
    printed = json.loads((await log_of(api, done["id"]))[0]["message"])
    assert printed == env
    assert set(env) == {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "LC_ALL",
        "FLOW_API_URL",
        "FLOW_API_TOKEN",
        "FLOW_API_EXECUTION_ID",
    }
    text = json.dumps(env)
    settings = engine_server.settings
    assert "MONGODB_URI" not in text and "ENGINE_" not in text
    assert str(settings.data_dir) not in text and ADMIN_PASSWORD not in text
    if settings.mongodb_uri:
        assert settings.mongodb_uri not in text
    assert env["FLOW_API_EXECUTION_ID"] == done["id"]
    assert env["FLOW_API_URL"] == engine_server.url
    assert done["output_value"]["cwd"] == env["HOME"] and done["output_value"]["files"] == []
    # The token was scoped to the execution: it is gone now that it ended.
    late = await api.get("/auth/me", headers={"Authorization": f"Bearer {env['FLOW_API_TOKEN']}"})
    assert late.status_code == 401


async def test_memory_limit_stops_a_greedy_script(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}greedy",
        "def handler(system, this, inputs):\n    block = bytearray(4 << 30)\n    return this.success()\n",
    )
    done = await run_flow(api, f"{unique}greedy")
    assert done["status"] == "ENDED_ERROR"
    assert "MemoryError" in done["message"]


async def test_starting_with_bad_input_is_a_clear_4xx(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}x", "def handler(system, this, inputs):\n    pass\n")
    cases = [
        ({"flow_name": f"{unique}missing"}, {}, 404, "flow"),
        ({}, {"wait": "1"}, 422, "flow_id and flow_name"),
        ({"flow_name": f"{unique}x", "flow_id": "x"}, {}, 422, "exactly one"),
        ({"flow_name": f"{unique}x", "colour": "red"}, {}, 422, "colour"),
        ({"flow_name": f"{unique}x", "input_value": [1, 2]}, {}, 422, "input_value"),
        ({"flow_name": f"{unique}x"}, {"wait": "1000"}, 422, "wait"),
        ({"flow_name": f"{unique}x"}, {"wait": "soon"}, 400, "wait"),
        ({"flow_id": "not-a-uuid"}, {}, 404, "flow"),
    ]
    for body, params, status, word in cases:
        response = await api.post("/execution", params=params, json=body)
        assert response.status_code == status, (body, response.text)
        assert word in response.json()["error"]["message"], response.text
    assert (await api.post("/execution", content=b"{nope")).status_code == 400
    assert (await api.get("/execution/not-an-id/log")).status_code == 404
    assert (await api.post("/execution/not-an-id/cancel")).status_code == 404
    assert (await api.get("/execution/not-an-id/wait", params={"wait": "-1"})).status_code == 422


async def test_open_files_are_limited(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}files",
        """
        def handler(system, this, inputs):
            handles = []
            try:
                for i in range(1000):
                    handles.append(open(f"f{i}", "w"))
            except OSError as exc:
                error = exc.strerror
            for handle in handles:
                handle.close()
            this.save(output_value={"opened": len(handles), "error": error})
        """,
    )
    done = await run_flow(api, f"{unique}files")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    assert done["output_value"]["error"] == "Too many open files"
    assert 200 < done["output_value"]["opened"] < 256


async def test_executions_go_on_after_the_fork_server_dies(
    api: httpx.AsyncClient, unique: str, engine_server: RunningEngine
) -> None:
    await make_flow(api, f"{unique}after", "def handler(system, this, inputs):\n    return this.success('fine')\n")
    zygote = engine_server.engine.services["runtime"].workers.pool.zygote
    assert zygote._proc is not None
    os.kill(zygote._proc.pid, signal.SIGKILL)
    await asyncio.sleep(0.5)
    done = [await run_flow(api, f"{unique}after") for _ in range(3)]
    assert [d["status"] for d in done] == ["ENDED_SUCCESS"] * 3, [d.get("message") for d in done]


async def test_a_long_traceback_and_long_lines_survive(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}deep",
        """
        def dive(n):
            if n == 0:
                raise ValueError("x" * 50000)
            dive(n - 1)

        def handler(system, this, inputs):
            print("y" * 100000)
            dive(200)
        """,
    )
    done = await run_flow(api, f"{unique}deep")
    assert done["status"] == "ENDED_ERROR"
    assert done["message"].startswith("ValueError: xxx")
    assert "in dive" in done["status_message"]
    lines = await log_of(api, done["id"])
    assert lines and set(lines[0]["message"]) == {"y"}
