"""``engine run FLOW_NAME``: a real CLI process against a real Engine."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

from tests.runtime_support import make_flow
from tests.servers import ADMIN, ADMIN_PASSWORD, RunningEngine

ROOT = Path(__file__).resolve().parent.parent


async def _engine_run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "run",
        *args,
        cwd=ROOT,
        env={**base, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_engine_run_follows_the_log_and_exits_with_the_status(
    api: httpx.AsyncClient, unique: str, engine_server: RunningEngine, admin_token: str
) -> None:
    await make_flow(
        api,
        f"{unique}cli",
        "def handler(system, this, inputs):\n    print('hello', inputs['who'])\n"
        "    this.save(output_value={'greeted': inputs['who']})\n    return this.success('greeted')\n",
    )
    await make_flow(api, f"{unique}cli-fails", "def handler(system, this, inputs):\n    raise KeyError('gone')\n")
    (code, out, err), (bad_code, _, bad_err), (missing_code, _, missing_err) = await asyncio.gather(
        _engine_run(f"{unique}cli", "--input", '{"who": "world"}', "--url", engine_server.url, "--token", admin_token),
        _engine_run(
            f"{unique}cli-fails",
            env={"ENGINE_URL": engine_server.url, "ENGINE_USER": ADMIN, "ENGINE_PASSWORD": ADMIN_PASSWORD},
        ),
        _engine_run(f"{unique}nothing", "--url", engine_server.url, "--token", admin_token),
    )
    assert code == 0, err
    assert "info    hello world" in out
    assert json.loads(out[out.index("{") :]) == {"greeted": "world"}
    assert "ENDED_SUCCESS: greeted" in err
    assert bad_code == 1
    assert "ENDED_ERROR" in bad_err and "KeyError: 'gone'" in bad_err and "Traceback" in bad_err
    assert missing_code == 2 and "no flow" in missing_err
    usage_code, _, usage_err = await _engine_run(f"{unique}cli", "--input", "[1]", "--url", engine_server.url)
    assert usage_code == 2 and "JSON object" in usage_err
