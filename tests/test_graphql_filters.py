"""GraphQL typed filters (every op, field-to-field, relations as joins, and/or/not) and ``where``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.doors.graphql import GraphqlClient, GraphqlError, graphql_client
from tests.servers import RunningEngine

FLOWS: dict[str, dict[str, Any]] = {
    "a": {"priority": 1, "maxRuntimeMinutes": 1.5, "description": "alpha"},
    "b": {"priority": 2, "maxRuntimeMinutes": 2.0, "description": "beta%_x"},
    "c": {"priority": 3},
    "d": {"priority": 2, "maxRuntimeMinutes": 10, "description": "Alpha"},
    "e": {"maxRuntimeMinutes": 0.5, "description": "a.b*c[1]"},
}


@pytest.fixture
async def gql(engine_server: RunningEngine, admin_token: str) -> AsyncIterator[GraphqlClient]:
    async with graphql_client(engine_server, admin_token) as client:
        yield client


@pytest.fixture(scope="module")
async def flows(engine_server: RunningEngine, admin_token: str) -> str:
    """The five flows, made once per store for the module; returns their name prefix."""
    unique = f"t{uuid.uuid4().hex[:10]}-"
    async with graphql_client(engine_server, admin_token) as gql:
        for key, fields in FLOWS.items():
            await gql.run(
                "mutation($i: FlowInput!) { createFlow(input: $i) { uuid } }",
                {"i": {"name": f"{unique}{key}", **fields}},
            )
    return unique


async def _names(gql: GraphqlClient, unique: str, flt: dict[str, Any] | None = None, where: Any = None) -> str:
    data = await gql.run(
        'query($f: FlowFilter, $w: JSON) { flows(filter: $f, where: $w, sort: "name") { totalCount nodes { name } } }',
        {"f": {"and": [{"name": {"like": f"{unique}%"}}, flt or {}]}, "w": where},
    )
    names = "".join(n["name"].removeprefix(unique) for n in data["flows"]["nodes"])
    assert data["flows"]["totalCount"] == len(names)
    return names


CASES = [
    ({"priority": {"eq": 2}}, "bd"),
    ({"priority": {"neq": 2}}, "ace"),
    ({"description": {"like": "%pha"}}, "ad"),
    ({"description": {"like": "a.b*c[_]"}}, "e"),
    ({"description": {"notlike": "%pha"}}, "bce"),
    ({"priority": {"lt": 2}}, "a"),
    ({"priority": {"gte": 2, "lt": 3}}, "bd"),  # several ops in one filter: all hold
    ({"maxRuntimeMinutes": {"gt": 1.5}}, "bd"),
    ({"priority": {"in": [1, 3]}}, "ac"),
    ({"priority": {"notin": [1, 3]}}, "bde"),
    ({"priority": {"in": []}}, ""),
    ({"description": {"set": True}}, "abde"),
    ({"description": {"set": False}}, "c"),
    ({"priority": {"unset": True}}, "e"),
    ({"inputSchema": {"unset": True}}, "abcde"),
    ({"priority": {"eqField": "MAX_RUNTIME_MINUTES"}}, "b"),
    ({"priority": {"ltField": "MAX_RUNTIME_MINUTES"}}, "ad"),
    ({"priority": {"gteField": "MAX_RUNTIME_MINUTES"}}, "b"),
    ({"createdAt": {"eqField": "CREATED_AT"}}, "abcde"),
    ({"createdAt": {"gt": "2000-01-01T00:00:00Z"}}, "abcde"),
    ({"or": [{"priority": {"eq": 1}}, {"priority": {"eq": 3}}]}, "ac"),
    ({"not": {"priority": {"eq": 2}}}, "ace"),
    ({"not": {"or": [{"priority": {"eq": 2}}, {"description": {"unset": True}}]}}, "ae"),
    ({"and": [{"priority": {"gte": 2}}, {"description": {"like": "A%"}}]}, "d"),
    ({"or": []}, ""),
    ({"not": {}}, ""),
    ({}, "abcde"),
    # Relations are joins: on the user who made the flows.
    ({"createdBy": {"name": {"eq": "admin"}}}, "abcde"),
    ({"createdBy": {"name": {"eq": "nobody"}}}, ""),
    ({"createdBy": {"isAdmin": {"eq": True}, "name": {"like": "adm%"}}}, "abcde"),
    ({"or": [{"createdBy": {"name": {"eq": "nobody"}}}, {"priority": {"eq": 3}}]}, "c"),
    ({"not": {"createdBy": {"name": {"eq": "admin"}}}}, ""),
    ({"project": {"name": {"set": True}}}, ""),
]


@pytest.mark.parametrize(("flt", "expected"), CASES)
async def test_typed_filters(gql: GraphqlClient, flows: str, flt: dict[str, Any], expected: str) -> None:
    assert await _names(gql, flows, flt) == expected


async def test_where_takes_the_rest_filter_expression(gql: GraphqlClient, flows: str) -> None:
    where = {
        "or": [
            {"field": "priority", "op": "eq", "value": 1},
            {"field": "created_by--user.id:name", "op": "eq", "value": "x"},
        ]
    }
    assert await _names(gql, flows, where=where) == "a"
    # As JSON text too, the way REST's query parameter carries it; filter and where both hold.
    assert (
        await _names(gql, flows, {"priority": {"set": True}}, '{"field": "priority", "op": "gte", "value": 2}') == "bcd"
    )


async def test_relation_filter_on_a_project(gql: GraphqlClient, unique: str) -> None:
    project = (
        await gql.run("mutation($n: String!) { createProject(input: {name: $n}) { uuid } }", {"n": f"{unique}p"})
    )["createProject"]["uuid"]
    for name, with_project in (("in", True), ("out", False)):
        fields = {"name": f"{unique}{name}", **({"projectId": project} if with_project else {})}
        await gql.run("mutation($i: TagInput!) { createTag(input: $i) { uuid } }", {"i": fields})
    data = await gql.run(
        "query($p: String!) { tags(filter: {project: {name: {eq: $p}}}) { nodes { name project { name } } } }",
        {"p": f"{unique}p"},
    )
    assert data["tags"]["nodes"] == [{"name": f"{unique}in", "project": {"name": f"{unique}p"}}]
    by_id = await gql.run("query($p: ID!) { tags(filter: {projectId: {eq: $p}}) { nodes { name } } }", {"p": project})
    assert by_id["tags"]["nodes"] == [{"name": f"{unique}in"}]


@pytest.mark.parametrize(
    ("flt", "code", "word"),
    [
        ({"createdBy": {"project": {"name": {"eq": "x"}}}}, "INVALID_FILTER", "relation"),
        ({"createdBy": {"name": {"eqField": "EMAIL"}}}, "INVALID_FILTER", "relation"),
        ({"priority": {"eqField": "NAME"}}, "INVALID_FILTER", "compare"),
        ({"priority": {"eq": "high"}}, "BAD_INPUT", "Int"),
        ({"colour": {"eq": "x"}}, "BAD_INPUT", "colour"),
        ({"createdAt": {"gt": "yesterday"}}, "BAD_INPUT", "yesterday"),
        ({"uuid": {"eq": "not-a-uuid"}}, "INVALID_FILTER", "UUID"),
        ({"priority": {"in": list(range(1001))}}, "INVALID_FILTER", "1000"),
    ],
)
async def test_bad_typed_filters(gql: GraphqlClient, flt: dict[str, Any], code: str, word: str) -> None:
    with pytest.raises(GraphqlError) as refused:
        await gql.run("query($f: FlowFilter) { flows(filter: $f) { nodes { name } } }", {"f": flt})
    assert refused.value.code == code and word in refused.value.message, refused.value


async def test_bad_where(gql: GraphqlClient) -> None:
    with pytest.raises(GraphqlError) as refused:
        await gql.run('{ flows(where: {field: "colour", op: "eq", value: 1}) { nodes { name } } }')
    assert refused.value.code == "INVALID_FILTER" and "colour" in refused.value.message
