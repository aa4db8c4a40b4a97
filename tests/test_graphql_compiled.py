"""The compiled executor answers exactly as graphql-core's own.

Two Engines share one store: the session's, with ``graphql_compiled`` on (the default),
and one started here with it off. Every query goes to both over HTTP and the two JSON
bodies -- data and errors, paths and messages -- must be identical.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from app.records.permissions import SYSTEM
from app.records.values import new_id, now
from schema.execution import BUILDS, CompiledExecutor
from schema.ids import to_global
from tests.doors.graphql import GraphqlClient, graphql_client, on_server_loop
from tests.servers import RunningEngine, start_engine

PAGE = """query($flow: ID!, $first: Int!) {
  executions(filter: {flowId: {eq: $flow}}, first: $first, sort: "name") {
    edges { node { name status flow { name } createdBy { name } metadata { key data } } }
  }
}"""

NESTED = """query($flow: ID!) {
  executions(filter: {flowId: {eq: $flow}}, first: 4, sort: "name") {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node {
        uuid name parent { name flow { name } }
        flow { name createdBy { name } modifiedBy { name isAdmin } metadata { key data createdAt } }
        children(sort: "name") { totalCount nodes { name parent { uuid } } }
        metadataEntry(key: "n") { key data }
      }
    }
  }
}"""

FRAGMENTS = """query($flow: ID!) {
  page: executions(filter: {flowId: {eq: $flow}}, first: 3, sort: "-name") {
    nodes { __typename ...Run ... on Record { createdAt who: createdBy { ...U } } ... on Node { id } }
    again: nodes { n: name, ... on Execution { s: status } }
  }
  viewer { ...U }
  __typename
}
fragment Run on Execution { __typename id name status flowId startedAt endedAt flow { ...Named } }
fragment U on User { __typename name isAdmin }
fragment Named on Record { name description }"""

DIRECTIVES = """query($flow: ID!, $with: Boolean!, $without: Boolean!) {
  executions(filter: {flowId: {eq: $flow}}, first: 2, sort: "name") {
    nodes {
      name @include(if: $with)
      status @skip(if: $with)
      flow @include(if: $without) { name }
      ... on Execution @skip(if: $without) { metadata { key } createdBy @include(if: $with) { name } }
      createdBy { name @skip(if: $without) isAdmin }
    }
  }
}"""

# A plain selection above a fragment that only some requests include: the selection
# below edges depends on the variables, so it must not be answered by one cached builder.
BELOW = """query($flow: ID!, $more: Boolean!) {
  executions(filter: {flowId: {eq: $flow}}, first: 3, sort: "name") {
    edges { node { name ...More @include(if: $more) createdBy { name } } }
  }
}
fragment More on Execution { status flow { name } metadata { key } }"""

# The same, with the directives inside the fragments' own selections.
INSIDE = """query($flow: ID!, $more: Boolean!) {
  executions(filter: {flowId: {eq: $flow}}, first: 3, sort: "name") {
    edges { node { name ...More createdBy { name } } }
  }
}
fragment More on Execution { flow @include(if: $more) { name } metadata @include(if: $more) { key } ...Status }
fragment Status on Execution { status @include(if: $more) }"""

NODE = """query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Record { name createdAt modifiedAt createdBy { name } metadata { key data createdAt modifiedAt } }
    ... on Setting { value }
    ... on File { content contentSizeBytes mimeType }
    ... on Flow { script priority maxRuntimeMinutes inputSchema }
    ... on Execution { status parent { name status } }
  }
}"""


def _engine_view(server: RunningEngine) -> Any:
    for route in server.server.config.app.routes:  # type: ignore[attr-defined]
        if getattr(route, "path", None) == "/graphql":
            return route.endpoint
    raise AssertionError("no /graphql route")


@pytest.fixture(scope="module")
def plain_server(engine_server: RunningEngine) -> Iterator[RunningEngine]:
    """A second Engine on the same store, executing with graphql-core alone."""
    running = start_engine(engine_server.settings.model_copy(update={"graphql_compiled": False, "workers": 1}))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def both(
    engine_server: RunningEngine, plain_server: RunningEngine, admin_token: str
) -> AsyncIterator[tuple[GraphqlClient, GraphqlClient]]:
    # The comparison means something only if one side compiles and the other does not.
    assert _engine_view(engine_server).schema.execution_context_class is CompiledExecutor
    assert _engine_view(plain_server).schema.execution_context_class is not CompiledExecutor
    async with graphql_client(engine_server, admin_token) as fast, graphql_client(plain_server, admin_token) as plain:
        yield fast, plain


async def same(both: tuple[GraphqlClient, GraphqlClient], query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The body both Engines answer, asserted identical to the byte (1 and 1.0 differ,
    and so does the order of keys)."""
    answers = [await side.client.post("/graphql", json={"query": query, "variables": variables}) for side in both]
    compiled, reference = answers
    assert compiled.status_code == reference.status_code
    assert compiled.text == reference.text
    body: dict[str, Any] = compiled.json()
    return body


async def _seed(server: RunningEngine, unique: str, count: int) -> dict[str, str]:
    """A flow, ``count`` ended executions of it (each with a metadata entry; the first two
    the children of the third), one execution whose name is no text (it cannot be shown),
    a setting, a file; returns their ids."""
    engine = server.engine

    async def work() -> dict[str, str]:
        admin = (await engine.records.get(SYSTEM, "user", "admin", by="name"))["id"]
        stamp = now()
        # Stored by something else than Engine: a priority beyond GraphQL's Int (Engine
        # refuses those itself).
        flow = {"id": new_id(), "name": f"{unique}flow", "script": "x", "priority": 2**40}
        flow |= {"created_at": stamp, "created_by": admin, "alive": True}
        await engine.store.insert_many("flow", [flow])
        docs: list[dict[str, Any]] = [
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
            for i in range(count)
        ]
        for child in docs[:2]:
            child["parent_execution_id"] = docs[2]["id"]
        # And an execution whose name GraphQL cannot show as String!, nor its (nullable) status.
        bad = {
            "id": new_id(),
            "name": ["not", "text"],
            "status": {"not": "text"},
            "created_at": stamp,
            "alive": True,
        }
        nameless = {"id": new_id(), "status": "ENDED_SUCCESS", "alive": True}  # no name, no createdAt
        odd = {
            "id": new_id(),
            "name": f"{unique}odd",
            "created_at": stamp,
            "alive": True,
        }  # its metadata key is no text
        docs[1]["parent_execution_id"] = bad["id"]
        await engine.store.insert_many("execution", [*docs, bad, nameless, odd])
        await engine.store.insert_many(
            "metadata",
            [
                {
                    "id": new_id(),
                    "record_id": d["id"],
                    "record_kind": "execution",
                    "key": "n",
                    "data": {"i": i, "list": [i, 2.5, None, "x"]},
                    "created_at": stamp,
                    "modified_at": stamp,
                }
                for i, d in enumerate(docs)
            ]
            + [{"id": new_id(), "record_id": odd["id"], "record_kind": "execution", "key": ["k"], "created_at": stamp}],
        )
        setting = await engine.records.create(SYSTEM, "setting", {"name": f"{unique}s", "value": {"a": [1, None]}})
        file = await engine.records.create(
            SYSTEM, "file", {"name": f"{unique}f", "content": b"\x00\xffbytes", "mime_type": "application/x"}
        )
        return {
            "flow": flow["id"],
            "bad": bad["id"],
            "setting": setting["id"],
            "file": file["id"],
            "run": docs[1]["id"],
            "nameless": nameless["id"],
            "odd": odd["id"],
        }

    found: dict[str, str] = await on_server_loop(server, work())
    return found


async def test_pages_relations_fragments_and_directives_answer_the_same(
    engine_server: RunningEngine, both: tuple[GraphqlClient, GraphqlClient], unique: str
) -> None:
    ids = await _seed(engine_server, unique, 12)
    page = await same(both, PAGE, {"flow": ids["flow"], "first": 12})
    nodes = [e["node"] for e in page["data"]["executions"]["edges"]]
    assert len(nodes) == 12 and "errors" not in page
    assert nodes[3] == {
        "name": f"{unique}run-003",
        "status": "ENDED_SUCCESS",
        "flow": {"name": f"{unique}flow"},
        "createdBy": {"name": "admin"},
        "metadata": [{"key": "n", "data": {"i": 3, "list": [3, 2.5, None, "x"]}}],
    }
    await same(both, PAGE, {"flow": ids["flow"], "first": 0})
    nested = await same(both, NESTED, {"flow": ids["flow"]})
    assert nested["data"]["executions"]["totalCount"] == 12
    # run-001's parent is the execution whose name cannot be shown: null there, with an error.
    assert nested["data"]["executions"]["edges"][1]["node"]["parent"] is None
    assert nested["errors"][0]["path"][-1] == "name"
    fragments = await same(both, FRAGMENTS, {"flow": ids["flow"]})
    assert fragments["data"]["page"]["nodes"][0]["__typename"] == "Execution"
    assert fragments["data"]["page"]["nodes"][0]["who"] == {"__typename": "User", "name": "admin", "isAdmin": True}
    for with_, without in ((True, False), (False, True), (True, True), (False, False)):
        answer = await same(both, DIRECTIVES, {"flow": ids["flow"], "with": with_, "without": without})
        assert ("name" in answer["data"]["executions"]["nodes"][0]) is with_
    for document in (BELOW, INSIDE):
        # Starting without: what is read from the store for the page must follow the variables too.
        for more in (False, True, False):
            below = await same(both, document, {"flow": ids["flow"], "more": more})
            node = below["data"]["executions"]["edges"][0]["node"]
            assert ("flow" in node) is more and ("metadata" in node) is more
            assert node.get("status") == ("ENDED_SUCCESS" if more else None)


async def test_pages_are_answered_by_generated_builders(
    engine_server: RunningEngine, both: tuple[GraphqlClient, GraphqlClient], unique: str
) -> None:
    """The identical answers above mean something for builders only if pages use them."""
    ids = await _seed(engine_server, unique, 5)
    built, bailed = BUILDS["built"], BUILDS["bailed"]
    await same(both, PAGE, {"flow": ids["flow"], "first": 5})
    assert (BUILDS["built"] - built, BUILDS["bailed"] - bailed) == (1, 0)  # the whole connection, at once
    # A single record's relations are not loaded ahead: its builder gives way to the general steps.
    one = "query($id: ID!) { node(id: $id) { ... on Execution { name createdBy { name } } } }"
    answer = await same(both, one, {"id": to_global("execution", ids["run"])})
    assert answer["data"]["node"]["createdBy"] == {"name": "admin"}
    assert BUILDS["bailed"] > bailed


async def test_node_scalars_and_errors_answer_the_same(
    engine_server: RunningEngine, both: tuple[GraphqlClient, GraphqlClient], unique: str
) -> None:
    ids = await _seed(engine_server, unique, 3)
    flow = await same(both, NODE, {"id": to_global("flow", ids["flow"])})
    # The priority does not fit GraphQL's Int: null, and an error naming it.
    assert flow["data"]["node"]["priority"] is None and flow["data"]["node"]["script"] == "x"
    assert [e["path"] for e in flow["errors"]] == [["node", "priority"]]
    setting = await same(both, NODE, {"id": to_global("setting", ids["setting"])})
    assert setting["data"]["node"]["value"] == {"a": [1, None]}
    file = await same(both, NODE, {"id": to_global("file", ids["file"])})
    assert file["data"]["node"]["content"] == "AP9ieXRlcw=="
    # A non-null field that fails nulls its nearest nullable parent: the node itself.
    bad = await same(both, NODE, {"id": to_global("execution", ids["bad"])})
    assert bad["data"] == {"node": None}
    assert {tuple(e["path"]) for e in bad["errors"]} >= {("node", "name")}
    nameless = await same(both, NODE, {"id": to_global("execution", ids["nameless"])})
    assert nameless["data"] == {"node": None}
    assert [e["path"] for e in nameless["errors"]] == [["node", "name"]]
    # A list item that fails: its list is non-null, so the node is null again.
    odd = await same(both, NODE, {"id": to_global("execution", ids["odd"])})
    assert odd["data"] == {"node": None}
    assert [e["path"] for e in odd["errors"]] == [["node", "metadata", 0, "key"]]
    listed = (
        'query($n: String!) { executions(where: {field: "name", op: "eq", value: $n}) { nodes { metadata { key } } } }'
    )
    odd = await same(both, listed, {"n": f"{unique}odd"})
    assert odd["data"] is None
    assert [e["path"] for e in odd["errors"]] == [["executions", "nodes", 0, "metadata", 0, "key"]]
    run = await same(both, NODE, {"id": to_global("execution", ids["run"])})
    assert run["data"]["node"]["parent"] is None and run["errors"]
    # Errors that stop the whole query, and documents that are wrong.
    await same(both, "{ execution(name: 12) { name } }", {})
    await same(both, '{ flow(id: "nope") { name } }', {})
    await same(both, "{ executions(first: 5000) { nodes { name } } }", {})
    await same(both, '{ __type(name: "Metadata") { name fields { name type { name kind ofType { name } } } } }', {})


async def test_mutations_answer_the_same(both: tuple[GraphqlClient, GraphqlClient], unique: str) -> None:
    save = """mutation($n: String!) {
      saveSetting(name: $n, input: {value: {a: [1, 2.5, null], b: "x"}, description: "d"}) {
        __typename record { __typename name value description createdBy { name } metadata { key } }
      }
    }"""
    saved = await same(both, save, {"n": f"{unique}saved"})
    assert saved["data"]["saveSetting"]["record"]["value"] == {"a": [1, 2.5, None], "b": "x"}
    missing = 'mutation($id: ID!) { updateFlow(id: $id, patch: {description: "x"}) { name } }'
    failed = await same(both, missing, {"id": new_id()})
    assert failed["errors"][0]["extensions"]["code"] == "NOT_FOUND"
