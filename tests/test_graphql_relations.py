"""GraphQL relations: typed related records, metadata, node(id:), and no N+1."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.records.permissions import SYSTEM
from app.records.values import new_id, now
from tests.doors.graphql import GraphqlClient, graphql_client, on_server_loop
from tests.servers import RunningEngine


@pytest.fixture
async def gql(engine_server: RunningEngine, admin_token: str) -> AsyncIterator[GraphqlClient]:
    async with graphql_client(engine_server, admin_token) as client:
        yield client


async def test_record_relations_resolve_to_typed_records(gql: GraphqlClient, unique: str) -> None:
    made = await gql.run(
        """mutation($p: String!, $t: String!) {
            project: createProject(input: {name: $p}) { uuid }
            template: createObjectTemplate(input: {name: $t, schema: {type: "object"}}) { uuid }
        }""",
        {"p": f"{unique}p", "t": f"{unique}t"},
    )
    project, template = made["project"]["uuid"], made["template"]["uuid"]
    obj = await gql.run(
        """mutation($n: String!, $p: ID!, $t: ID!) {
            createCustomObject(input: {name: $n, projectId: $p, templateId: $t, value: {size: 3}}) {
                id uuid value projectId
                project { name }
                template { name schema }
                createdBy { name isAdmin }
                modifiedBy { name }
                deletedBy { name }
            }
        }""",
        {"n": f"{unique}o", "p": project, "t": template},
    )
    record = obj["createCustomObject"]
    assert record["value"] == {"size": 3}
    assert record["project"] == {"name": f"{unique}p"}
    assert record["template"] == {"name": f"{unique}t", "schema": {"type": "object"}}
    assert record["createdBy"] == {"name": "admin", "isAdmin": True}
    assert record["modifiedBy"] == {"name": "admin"}
    assert record["deletedBy"] is None
    assert base64.b64decode(record["id"]).decode() == f"CustomObject:{record['uuid']}"


async def test_node_finds_any_record_by_global_id(gql: GraphqlClient, unique: str) -> None:
    made = await gql.run('mutation($n: String!) { createTag(input: {name: $n, color: "red"}) { id } }', {"n": unique})
    found = await gql.run(
        "query($id: ID!) { node(id: $id) { id __typename ... on Tag { name color } ... on Record { createdAt } } }",
        {"id": made["createTag"]["id"]},
    )
    assert found["node"]["__typename"] == "Tag"
    assert found["node"]["name"] == unique and found["node"]["color"] == "red"
    assert found["node"]["createdAt"].endswith("Z")
    missing = base64.b64encode(f"Tag:{new_id()}".encode()).decode()
    assert (await gql.run("query($id: ID!) { node(id: $id) { id } }", {"id": missing}))["node"] is None


async def test_metadata_and_metadata_entry(gql: GraphqlClient, unique: str) -> None:
    made = await gql.run("mutation($n: String!) { createSetting(input: {name: $n, value: 1}) { id } }", {"n": unique})
    gid = made["createSetting"]["id"]
    for key, data in (("env", "test"), ("about", {"n": [1, 2.5, None]})):
        set_ = await gql.run(
            "mutation($id: ID!, $k: String!, $d: JSON) { setMetadata(recordId: $id, key: $k, data: $d) "
            "{ created metadata { key data } } }",
            {"id": gid, "k": key, "d": data},
        )
        assert set_["setMetadata"] == {"created": True, "metadata": {"key": key, "data": data}}
    got = await gql.run(
        'query($n: String!) { setting(name: $n) { metadata { key data createdAt } metadataEntry(key: "about") '
        '{ data } none: metadataEntry(key: "nope") { data } } }',
        {"n": unique},
    )
    setting = got["setting"]
    assert [(m["key"], m["data"]) for m in setting["metadata"]] == [("env", "test"), ("about", {"n": [1, 2.5, None]})]
    assert setting["metadataEntry"] == {"data": {"n": [1, 2.5, None]}}
    assert setting["none"] is None
    # Oldest first, in a listing too (ids, which break ties, are random).
    for key in ("k3", "k1", "k4", "k2"):
        await gql.run(
            "mutation($id: ID!, $k: String!) { setMetadata(recordId: $id, key: $k, data: 0) { created } }",
            {"id": gid, "k": key},
        )
    listed = await gql.run(
        "query($n: String!) { settings(filter: {name: {eq: $n}}) { nodes { metadata { key } } } }", {"n": unique}
    )
    keys = [m["key"] for m in listed["settings"]["nodes"][0]["metadata"]]
    assert keys == ["env", "about", "k3", "k1", "k4", "k2"]
    assert (await gql.run('mutation($id: ID!) { deleteMetadata(recordId: $id, key: "env") }', {"id": gid}))[
        "deleteMetadata"
    ] is True


async def _insert_executions(server: RunningEngine, unique: str, count: int) -> tuple[str, str]:
    """A flow and ``count`` ended executions of it, each with one metadata entry; returns
    (flow id, parent execution id)."""
    engine = server.engine

    async def work() -> tuple[str, str]:
        flow = await engine.records.create(SYSTEM, "flow", {"name": f"{unique}flow", "script": "x"})
        admin = (await engine.records.get(SYSTEM, "user", "admin", by="name"))["id"]
        stamp = now()
        docs: list[dict[str, Any]] = []
        for i in range(count):
            docs.append(
                {
                    "id": new_id(),
                    "name": f"{unique}run-{i:03}",
                    "flow_id": flow["id"],
                    "status": "ENDED_SUCCESS",  # ended: no worker claims them
                    "created_at": stamp,
                    "modified_at": stamp,
                    "created_by": admin,
                    "modified_by": admin,
                    "alive": True,
                }
            )
        for child in docs[1:3]:
            child["parent_execution_id"] = docs[0]["id"]
        await engine.store.insert_many("execution", docs)
        await engine.store.insert_many(
            "metadata",
            [
                {
                    "id": new_id(),
                    "record_id": d["id"],
                    "record_kind": "execution",
                    "key": "n",
                    "data": i,
                    "created_at": stamp,
                    "modified_at": stamp,
                }
                for i, d in enumerate(docs)
            ],
        )
        return flow["id"], docs[0]["id"]

    result: tuple[str, str] = await on_server_loop(server, work())
    return result


PAGE_QUERY = """query($prefix: String!, $first: Int!) {
  executions(where: {field: "name", op: "like", value: $prefix}, first: $first, sort: "name") {
    edges { node { name status flow { name } createdBy { name } metadata { key data } } }
  }
}"""


async def _trips(server: RunningEngine, gql: GraphqlClient, query: str, variables: dict[str, Any]) -> int:
    """Round trips of one request, less the token check every request pays (measured
    with a request that reads nothing); the least of three, since the runtime's
    workers poll the same store now and then."""
    store = server.engine.store
    seen: list[int] = []
    for _ in range(3):
        before = store.round_trips
        await gql.run("{ __typename }")
        auth = store.round_trips - before
        before = store.round_trips
        await gql.run(query, variables)
        seen.append(store.round_trips - before - auth)
    return min(seen)


async def test_a_page_of_executions_with_relations_costs_four_round_trips(
    engine_server: RunningEngine, gql: GraphqlClient, unique: str
) -> None:
    count = 100
    await _insert_executions(engine_server, unique, count)
    data = await gql.run(PAGE_QUERY, {"prefix": f"{unique}run-%", "first": count})
    nodes = [e["node"] for e in data["executions"]["edges"]]
    assert len(nodes) == count
    assert nodes[7] == {
        "name": f"{unique}run-007",
        "status": "ENDED_SUCCESS",
        "flow": {"name": f"{unique}flow"},
        "createdBy": {"name": "admin"},
        "metadata": [{"key": "n", "data": 7}],
    }
    # list + flows + users + metadata, whatever the page size.
    assert await _trips(engine_server, gql, PAGE_QUERY, {"prefix": f"{unique}run-%", "first": count}) <= 4
    assert await _trips(engine_server, gql, PAGE_QUERY, {"prefix": f"{unique}run-%", "first": 5}) <= 4
    # One level deeper: one more query, batched by the DataLoader across the page.
    deeper = PAGE_QUERY.replace("flow { name }", "flow { name createdBy { name } metadata { key } }")
    data = await gql.run(deeper, {"prefix": f"{unique}run-%", "first": count})
    assert data["executions"]["edges"][0]["node"]["flow"] == {
        "name": f"{unique}flow",
        "createdBy": None,  # made by the system, not a user
        "metadata": [],
    }
    assert await _trips(engine_server, gql, deeper, {"prefix": f"{unique}run-%", "first": count}) <= 5


async def test_execution_parent_and_children(engine_server: RunningEngine, gql: GraphqlClient, unique: str) -> None:
    _, parent = await _insert_executions(engine_server, unique, 3)
    data = await gql.run(
        "query($id: ID!) { execution(id: $id) { name parent { name } "
        'children(sort: "name") { totalCount nodes { name parent { name } } } } }',
        {"id": parent},
    )
    run = data["execution"]
    assert run["parent"] is None
    assert run["children"]["totalCount"] == 2
    assert [c["name"] for c in run["children"]["nodes"]] == [f"{unique}run-001", f"{unique}run-002"]
    assert {c["parent"]["name"] for c in run["children"]["nodes"]} == {f"{unique}run-000"}


async def test_message_points_at_its_execution(engine_server: RunningEngine, gql: GraphqlClient, unique: str) -> None:
    _, run = await _insert_executions(engine_server, unique, 1)
    data = await gql.run(
        'mutation($e: ID!) { createMessage(input: {executionId: $e, text: "hi", level: "info"}) '
        "{ text execution { name flow { name } } } }",
        {"e": run},
    )
    assert data["createMessage"] == {
        "text": "hi",
        "execution": {"name": f"{unique}run-000", "flow": {"name": f"{unique}flow"}},
    }


async def test_only_requested_fields_are_read(
    engine_server: RunningEngine, gql: GraphqlClient, unique: str, store_name: str
) -> None:
    if store_name != "sqlite":
        pytest.skip("reads are observed through SQLite's statement trace; the projection is built above the store")
    big = "x" * 10_000
    await gql.run(
        'mutation($n: String!, $s: String!) { createFlow(input: {name: $n, script: $s, description: "d"}) { uuid } }',
        {"n": unique, "s": big},
    )
    statements: list[str] = []
    store = engine_server.engine.store

    async def traced(query: str) -> dict[str, Any]:
        statements.clear()
        await on_server_loop(engine_server, store.trace(statements.append))  # type: ignore[attr-defined]
        try:
            return await gql.run(query, {"n": unique})
        finally:
            await on_server_loop(engine_server, store.trace(None))  # type: ignore[attr-defined]

    def flow_reads() -> list[str]:
        """What the projected reads of flows select (the part before FROM: the fields' paths)."""
        selects = [q.split(' FROM "flow"')[0] for q in statements if 'FROM "flow"' in q]
        return [s for s in selects if not s.endswith("t.doc")]

    lean = await traced("query($n: String!) { flows(filter: {name: {eq: $n}}) { nodes { name description } } }")
    assert lean["flows"]["nodes"] == [{"name": unique, "description": "d"}]
    assert flow_reads() and not any("$.script'" in q for q in flow_reads())
    full = await traced("query($n: String!) { flows(filter: {name: {eq: $n}}) { nodes { script } } }")
    assert full["flows"]["nodes"] == [{"script": big}]
    assert any("$.script'" in q for q in flow_reads())
    one = await traced("query($n: String!) { flow(name: $n) { priority createdBy { name } } }")
    assert one["flow"] == {"priority": None, "createdBy": {"name": "admin"}}
    assert flow_reads() and not any("$.script'" in q or "$.description'" in q for q in flow_reads())
