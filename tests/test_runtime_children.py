"""Child executions: this.flow with and without waiting, wait_for, failures, WAITING."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.runtime_support import make_flow, run_flow, until_ended


async def test_child_success_returns_its_output(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}child",
        "def handler(system, this, inputs):\n    this.save(output_value={'square': inputs['x'] ** 2})\n",
    )
    await make_flow(
        api,
        f"{unique}parent",
        f"""
        def handler(system, this, inputs):
            child = this.flow("{unique}child", inputs={{"x": 5}})
            this.save(output_value={{"child": child.get("output_value"), "child_id": child.id}})
            return this.success("child said " + str(child.get("output_value")["square"]))
        """,
    )
    done = await run_flow(api, f"{unique}parent")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    assert done["output_value"]["child"] == {"square": 25}
    assert done["message"] == "child said 25"
    child = (await api.get(f"/execution/{done['output_value']['child_id']}")).json()
    assert child["parent_execution_id"] == done["id"]
    assert child["status"] == "ENDED_SUCCESS"
    assert child["created_by"] == done["created_by"]


async def test_failed_child_raises_dependency_failed(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}bad", "def handler(system, this, inputs):\n    raise RuntimeError('child broke')\n")
    await make_flow(
        api,
        f"{unique}catches",
        f"""
        import flow_api

        def handler(system, this, inputs):
            try:
                this.flow("{unique}bad")
            except flow_api.DependencyFailedError as exc:
                return this.success("caught: " + str(exc))
            return this.error("no exception")
        """,
    )
    await make_flow(api, f"{unique}lets-it-fly", f"def handler(system, this, inputs):\n    this.flow('{unique}bad')\n")
    caught, uncaught = await asyncio.gather(run_flow(api, f"{unique}catches"), run_flow(api, f"{unique}lets-it-fly"))
    assert caught["status"] == "ENDED_SUCCESS", caught
    assert caught["message"].startswith("caught: execution ") and "ENDED_ERROR" in caught["message"]
    assert "child broke" in caught["message"]
    assert uncaught["status"] == "ENDED_ERROR"
    assert uncaught["message"].startswith("DependencyFailedError")
    assert "DependencyFailedError" in uncaught["status_message"]


async def test_children_without_waiting_then_wait_for(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}sleeper",
        "import time\ndef handler(system, this, inputs):\n    time.sleep(inputs['s'])\n"
        "    this.save(output_value=inputs['s'])\n",
    )
    await make_flow(
        api,
        f"{unique}fan-out",
        f"""
        import time

        def handler(system, this, inputs):
            started = time.monotonic()
            a = this.flow("{unique}sleeper", inputs={{"s": 0.6}}, wait=False)
            b = this.flow("{unique}sleeper", inputs={{"s": 0.3}}, wait=False)
            quick = time.monotonic() - started
            first = a.get("status")
            this.wait_for(a, b)
            outputs = [a.get("output_value"), b.get("output_value")]
            this.save(output_value={{"quick": quick, "first": first, "outputs": outputs}})
        """,
    )
    done = await run_flow(api, f"{unique}fan-out")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    out = done["output_value"]
    assert out["outputs"] == [0.6, 0.3]
    assert out["quick"] < 0.5 and out["first"] in ("PENDING", "RUNNING")


async def test_wait_for_a_failed_child_raises(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}fails", "def handler(system, this, inputs):\n    return this.error('nope')\n")
    await make_flow(
        api,
        f"{unique}waits",
        f"""
        import flow_api

        def handler(system, this, inputs):
            child = this.flow("{unique}fails", wait=False)
            try:
                this.wait_for(child)
            except flow_api.DependencyFailedError as exc:
                this.save(output_value={{"status": exc.execution["status"], "message": exc.execution["message"]}})
        """,
    )
    done = await run_flow(api, f"{unique}waits")
    assert done["output_value"] == {"status": "ENDED_ERROR", "message": "nope"}, done


async def test_parent_is_waiting_while_its_child_runs(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}nap", "import time\ndef handler(system, this, inputs):\n    time.sleep(1.5)\n")
    await make_flow(api, f"{unique}waiter", f"def handler(system, this, inputs):\n    this.flow('{unique}nap')\n")
    execution_id = (await api.post("/execution", json={"flow_name": f"{unique}waiter"})).json()["id"]
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = (await api.get(f"/execution/{execution_id}", params={"fields": "status"})).json()["status"]
        seen.add(status)
        if status.startswith("ENDED_"):
            break
        await asyncio.sleep(0.05)
    assert "WAITING" in seen and "ENDED_SUCCESS" in seen, seen


async def test_cancelling_a_parent_cancels_its_running_child(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}long", "import time\ndef handler(system, this, inputs):\n    time.sleep(60)\n")
    await make_flow(
        api,
        f"{unique}boss",
        f"def handler(system, this, inputs):\n    this.flow('{unique}long')\n",
    )
    parent = (await api.post("/execution", json={"flow_name": f"{unique}boss"})).json()["id"]
    deadline = time.monotonic() + 30
    children: list[dict[str, str]] = []
    while not children:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
        children = (
            await api.get(
                "/execution",
                params={"filter": f'{{"field": "parent_execution_id", "op": "eq", "value": "{parent}"}}'},
            )
        ).json()
    assert (await api.post(f"/execution/{parent}/cancel")).json()["status"] == "ENDED_CANCELLED"
    child = await until_ended(api, children[0]["id"])
    assert child["status"] == "ENDED_CANCELLED"
