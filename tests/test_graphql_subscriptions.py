"""GraphQL subscriptions over graphql-transport-ws, with a real websocket client; and executions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.doors.graphql import GraphqlClient, GraphqlError, graphql_client
from tests.servers import ADMIN_PASSWORD, RunningEngine, login, start_engine

PROTOCOL = "graphql-transport-ws"
HELLO = "def handler(system, this, inputs):\n    this.log('hello ' + inputs['who'])\n    return this.success('done')\n"


@pytest.fixture
async def gql(engine_server: RunningEngine, admin_token: str) -> AsyncIterator[GraphqlClient]:
    async with graphql_client(engine_server, admin_token) as client:
        yield client


@asynccontextmanager
async def socket(server: RunningEngine, payload: dict[str, Any]) -> AsyncIterator[ClientConnection]:
    url = server.url.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        yield ws


async def _receive(ws: ClientConnection, within: float = 20) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def _subscribe(ws: ClientConnection, query: str, variables: dict[str, Any]) -> None:
    assert (await _receive(ws))["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
    await asyncio.sleep(0.5)  # the subscription starts listening once the server has read it


async def _next(ws: ClientConnection) -> dict[str, Any]:
    message = await _receive(ws)
    assert message["type"] == "next", message
    data: dict[str, Any] = message["payload"]["data"]
    return data


CHANGES = """subscription($kind: RecordKind, $id: ID) {
  recordChanged(kind: $kind, id: $id) { op kind id uuid record { name ... on Tag { color } } }
}"""


async def test_record_changed_follows_writes_of_a_kind(
    engine_server: RunningEngine, admin_token: str, gql: GraphqlClient, unique: str
) -> None:
    async with socket(engine_server, {"Authorization": f"Bearer {admin_token}"}) as ws:
        await _subscribe(ws, CHANGES, {"kind": "TAG"})
        await gql.run("mutation($n: String!) { createSetting(input: {name: $n}) { uuid } }", {"n": unique})  # not a tag
        made = await gql.run(
            'mutation($n: String!) { createTag(input: {name: $n, color: "red"}) { id uuid } }', {"n": unique}
        )
        tag = made["createTag"]
        inserted = (await _next(ws))["recordChanged"]
        assert inserted == {
            "op": "INSERT",
            "kind": "TAG",
            "id": tag["id"],
            "uuid": tag["uuid"],
            "record": {"name": unique, "color": "red"},
        }
        await gql.run('mutation($id: ID!) { updateTag(id: $id, patch: {color: "blue"}) { uuid } }', {"id": tag["id"]})
        updated = (await _next(ws))["recordChanged"]
        assert updated["op"] == "UPDATE" and updated["record"]["color"] == "blue"
        await gql.run("mutation($id: ID!) { deleteRecord(id: $id, permanently: true) { id } }", {"id": tag["id"]})
        deleted = (await _next(ws))["recordChanged"]
        assert deleted["op"] == "DELETE" and deleted["uuid"] == tag["uuid"] and deleted["record"] is None


async def test_record_changed_for_one_record(
    engine_server: RunningEngine, admin_token: str, gql: GraphqlClient, unique: str
) -> None:
    one, two = [
        (await gql.run("mutation($n: String!) { createTag(input: {name: $n}) { id } }", {"n": f"{unique}{i}"}))[
            "createTag"
        ]["id"]
        for i in (1, 2)
    ]
    async with socket(engine_server, {"token": admin_token}) as ws:
        await _subscribe(ws, CHANGES, {"id": two})
        for gid, color in ((one, "red"), (two, "green")):
            await gql.run(
                "mutation($id: ID!, $c: String) { updateTag(id: $id, patch: {color: $c}) { uuid } }",
                {"id": gid, "c": color},
            )
        change = (await _next(ws))["recordChanged"]
        assert change["id"] == two and change["record"]["color"] == "green"


async def test_a_socket_without_a_valid_token_is_refused(engine_server: RunningEngine) -> None:
    for payload in ({}, {"token": "made-up"}):
        async with socket(engine_server, payload) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await _receive(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_start_execution_log_and_execution_updated(
    engine_server: RunningEngine, admin_token: str, gql: GraphqlClient, unique: str
) -> None:
    await gql.run(
        "mutation($n: String!, $s: String!) { saveFlow(name: $n, input: {script: $s}) { created } }",
        {"n": unique, "s": HELLO},
    )
    started = await gql.run(
        'mutation($f: String!) { startExecution(flow: $f, inputs: {who: "graphql"}) '
        "{ id uuid status flow { id name } } }",
        {"f": unique},
    )
    run = started["startExecution"]
    assert run["flow"]["name"] == unique and run["status"] in ("PENDING", "RUNNING", "ENDED_SUCCESS")
    async with socket(engine_server, {"Authorization": f"Bearer {admin_token}"}) as ws:
        assert (await _receive(ws))["type"] == "connection_ack"
        query = "subscription($id: ID!) { executionUpdated(id: $id) { status message } }"
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"id": run["id"]}}})
        )
        states = []
        while True:
            message = await _receive(ws, within=60)
            if message["type"] == "complete":
                break
            assert message["type"] == "next", message
            states.append(message["payload"]["data"]["executionUpdated"])
    assert states[-1] == {"status": "ENDED_SUCCESS", "message": "done"}
    log = await gql.run("query($id: ID!) { execution(id: $id) { log { level message at } } }", {"id": run["uuid"]})
    assert "hello graphql" in [line["message"] for line in log["execution"]["log"]]
    # By global id, with wait: the answer is the ended execution.
    waited = await gql.run(
        'mutation($f: String!) { startExecution(flow: $f, inputs: {who: "x"}, wait: 60) { status } }',
        {"f": run["flow"]["id"]},
    )
    assert waited["startExecution"]["status"] == "ENDED_SUCCESS"


async def test_execution_errors(gql: GraphqlClient, unique: str) -> None:
    with pytest.raises(GraphqlError) as missing:
        await gql.run("mutation($f: String!) { startExecution(flow: $f) { uuid } }", {"f": f"{unique}none"})
    assert missing.value.code == "NOT_FOUND"
    with pytest.raises(GraphqlError) as bad:
        await gql.run('mutation { cancelExecution(id: "00000000-0000-4000-8000-000000000000") { uuid } }')
    assert bad.value.code == "NOT_FOUND"


async def test_cancel_execution(gql: GraphqlClient, unique: str) -> None:
    sleeper = "import time\n\ndef handler(system, this, inputs):\n    time.sleep(60)\n"
    await gql.run(
        "mutation($n: String!, $s: String!) { saveFlow(name: $n, input: {script: $s}) { created } }",
        {"n": unique, "s": sleeper},
    )
    run = (await gql.run("mutation($f: String!) { startExecution(flow: $f) { id } }", {"f": unique}))["startExecution"]
    for _ in range(300):
        status = (await gql.run("query($id: ID!) { execution(id: $id) { status } }", {"id": run["id"]}))["execution"]
        if status["status"] == "RUNNING":
            break
        await asyncio.sleep(0.1)
    cancelled = await gql.run("mutation($id: ID!) { cancelExecution(id: $id) { status message } }", {"id": run["id"]})
    assert cancelled["cancelExecution"]["status"] == "ENDED_CANCELLED"
    with pytest.raises(GraphqlError) as again:
        await gql.run("mutation($id: ID!) { cancelExecution(id: $id) { status } }", {"id": run["id"]})
    assert again.value.code == "CONFLICT"


async def test_a_logout_ends_the_subscriptions_of_its_token(
    engine_server: RunningEngine, gql: GraphqlClient, unique: str
) -> None:
    async with graphql_client(engine_server, None) as anon:
        token = (await anon.run(f'mutation {{ login(userName: "admin", password: "{ADMIN_PASSWORD}") {{ token }} }}'))[
            "login"
        ]["token"]
    async with socket(engine_server, {"token": token}) as ws:
        await _subscribe(ws, CHANGES, {"kind": "TAG"})
        await gql.run("mutation($n: String!) { createTag(input: {name: $n}) { uuid } }", {"n": f"{unique}1"})
        assert (await _next(ws))["recordChanged"]["op"] == "INSERT"
        async with graphql_client(engine_server, token) as session:
            assert (await session.run("mutation { logout }"))["logout"] is True
        await gql.run("mutation($n: String!) { createTag(input: {name: $n}) { uuid } }", {"n": f"{unique}2"})
        message = await _receive(ws)
        assert message["type"] in ("next", "error"), message
        errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED", message


async def test_with_a_change_stream_a_subscriber_sees_the_writes_of_other_engines(
    engine_server: RunningEngine, admin_token: str, unique: str, store_name: str
) -> None:
    if store_name != "mongodb" or not getattr(engine_server.engine.store, "streaming", False):
        pytest.skip(
            "needs a MongoDB that offers change streams (a replica set: MONGODB_URI, e.g. docker compose up); "
            "mongoeco and SQLite report the writes of their own process only"
        )
    other = start_engine(engine_server.settings.model_copy(update={"workers": 1}))
    try:
        async with (
            socket(engine_server, {"Authorization": f"Bearer {admin_token}"}) as ws,
            graphql_client(other, await login(other.url)) as elsewhere,
        ):
            await _subscribe(ws, CHANGES, {"kind": "TAG"})
            made = await elsewhere.run(
                'mutation($n: String!) { createTag(input: {name: $n, color: "red"}) { uuid } }', {"n": unique}
            )
            inserted = (await _next(ws))["recordChanged"]
            assert inserted["op"] == "INSERT" and inserted["uuid"] == made["createTag"]["uuid"]
    finally:
        other.stop()
