"""The runtime through GraphQL: startExecution with wait, cancelExecution, Execution.log, executionUpdated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.doors.graphql import GraphqlClient, GraphqlError, graphql_client
from tests.runtime_support import make_flow, script
from tests.servers import RunningEngine, login

START = "mutation($f: String!, $i: JSON, $w: Float) { startExecution(flow: $f, inputs: $i, wait: $w) { %s } }"


@pytest.fixture
async def gql(engine_server: RunningEngine, admin_token: str) -> AsyncIterator[GraphqlClient]:
    async with graphql_client(engine_server, admin_token) as client:
        yield client


async def test_start_with_wait_returns_the_ended_execution_and_its_log(
    api: httpx.AsyncClient, gql: GraphqlClient, unique: str
) -> None:
    await make_flow(
        api,
        f"{unique}gql",
        """
        def handler(system, this, inputs):
            print("from print")
            this.log("careful", level="warning")
            this.save(output_value={"sum": inputs["a"] + inputs["b"]})
            return this.success("added")
        """,
    )
    data = await gql.run(
        START % "uuid status message outputValue inputValue log { level message at }",
        {"f": f"{unique}gql", "i": {"a": 2, "b": 3}, "w": 60},
    )
    run = data["startExecution"]
    assert run["status"] == "ENDED_SUCCESS" and run["message"] == "added"
    assert run["outputValue"] == {"sum": 5} and run["inputValue"] == {"a": 2, "b": 3}
    assert [(line["level"], line["message"]) for line in run["log"]] == [("info", "from print"), ("warning", "careful")]


async def test_a_failing_flow_shows_its_traceback(api: httpx.AsyncClient, gql: GraphqlClient, unique: str) -> None:
    await make_flow(api, f"{unique}gql-fail", "def handler(system, this, inputs):\n    return 1 / 0\n")
    run = (await gql.run(START % "status message statusMessage", {"f": f"{unique}gql-fail", "w": 60}))["startExecution"]
    assert run["status"] == "ENDED_ERROR" and run["message"] == "ZeroDivisionError: division by zero"
    assert "Traceback" in run["statusMessage"] and "return 1 / 0" in run["statusMessage"]


async def test_cancel_and_execution_updated_carries_the_status_changes(
    api: httpx.AsyncClient, gql: GraphqlClient, unique: str, engine_server: RunningEngine, admin_token: str
) -> None:
    await make_flow(
        api,
        f"{unique}gql-long",
        "import time\ndef handler(system, this, inputs):\n    print('up')\n    time.sleep(60)\n",
    )
    run = (await gql.run(START % "id uuid status", {"f": f"{unique}gql-long"}))["startExecution"]
    states: list[dict[str, Any]] = []
    url = engine_server.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {admin_token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] == "connection_ack"
        query = "subscription($id: ID!) { executionUpdated(id: $id) { status message } }"
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"id": run["id"]}}})
        )
        cancelled = False
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if message["type"] == "complete":
                break
            assert message["type"] == "next", message
            states.append(message["payload"]["data"]["executionUpdated"])
            if not cancelled and states[-1]["status"] == "RUNNING":
                for _ in range(600):  # until the script is up: then cancel it
                    if (await api.get(f"/execution/{run['uuid']}/log")).json():
                        break
                    await asyncio.sleep(0.05)
                done = await gql.run("mutation($id: ID!) { cancelExecution(id: $id) { status } }", {"id": run["id"]})
                assert done["cancelExecution"]["status"] == "ENDED_CANCELLED"
                cancelled = True
    statuses = [s["status"] for s in states]
    assert "RUNNING" in statuses and statuses[-1] == "ENDED_CANCELLED", statuses
    with pytest.raises(GraphqlError) as again:
        await gql.run("mutation($id: ID!) { cancelExecution(id: $id) { status } }", {"id": run["id"]})
    assert again.value.code == "CONFLICT"


async def test_starting_without_permission_is_forbidden(
    api: httpx.AsyncClient, unique: str, engine_server: RunningEngine
) -> None:
    role = (
        await api.post("/role", json={"name": f"{unique}r", "permissions": [{"kind": "flow", "operation": "read"}]})
    ).json()
    await api.post(
        "/user", json={"name": f"{unique}u", "password": "a-long-password", "role_ids": [role["id"]], "is_active": True}
    )
    await make_flow(api, f"{unique}gql-locked", script("def handler(system, this, inputs):\n    pass\n"))
    token = await login(engine_server.url, f"{unique}u", "a-long-password")
    async with graphql_client(engine_server, token) as as_user:
        with pytest.raises(GraphqlError) as refused:
            await as_user.run(START % "uuid", {"f": f"{unique}gql-locked"})
    assert refused.value.code == "FORBIDDEN"
