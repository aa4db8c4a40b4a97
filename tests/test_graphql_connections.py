"""GraphQL connections: keyset cursors across pages, order, totalCount, page limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.doors.graphql import GraphqlClient, GraphqlError, graphql_client
from tests.servers import RunningEngine


@pytest.fixture
async def gql(engine_server: RunningEngine, admin_token: str) -> AsyncIterator[GraphqlClient]:
    async with graphql_client(engine_server, admin_token) as client:
        yield client


PAGE = """query($prefix: String!, $first: Int, $after: String, $order: [TagOrder!]) {
  tags(filter: {name: {like: $prefix}}, first: $first, after: $after, order: $order) {
    edges { cursor node { name color } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


async def _tag(gql: GraphqlClient, name: str, color: str | None = None) -> None:
    await gql.run(
        "mutation($n: String!, $c: String) { createTag(input: {name: $n, color: $c}) { uuid } }",
        {"n": name, "c": color},
    )


async def _walk(gql: GraphqlClient, variables: dict[str, Any], between: Any = None) -> list[str]:
    """Every name, page by page; ``between(page_number)`` runs between pages."""
    names: list[str] = []
    after = None
    pages = 0
    while True:
        data = (await gql.run(PAGE, {**variables, "after": after}))["tags"]
        names += [e["node"]["name"] for e in data["edges"]]
        info = data["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        if data["edges"]:
            assert info["endCursor"] == data["edges"][-1]["cursor"]
        pages += 1
        if not info["hasNextPage"]:
            return names
        after = info["endCursor"]
        if between is not None:
            await between(pages)


async def test_cursor_pages_cover_everything_once_in_order(gql: GraphqlClient, unique: str) -> None:
    for i in range(7):
        await _tag(gql, f"{unique}{i}", color=["red", "blue"][i % 2] if i != 3 else None)
    names = await _walk(gql, {"prefix": f"{unique}%", "first": 3, "order": [{"field": "NAME"}]})
    assert names == [f"{unique}{i}" for i in range(7)]
    # Descending on a field some records lack: missing values sort last descending.
    by_color = await _walk(
        gql,
        {"prefix": f"{unique}%", "first": 2, "order": [{"field": "COLOR", "direction": "DESC"}, {"field": "NAME"}]},
    )
    assert by_color == [f"{unique}{i}" for i in (0, 2, 4, 6, 1, 5, 3)]
    ascending = await _walk(gql, {"prefix": f"{unique}%", "first": 2, "order": [{"field": "COLOR"}, {"field": "NAME"}]})
    assert ascending == [f"{unique}{i}" for i in (3, 1, 5, 0, 2, 4, 6)]


async def test_pages_are_stable_when_records_are_inserted_between_them(gql: GraphqlClient, unique: str) -> None:
    for i in (10, 20, 30, 40, 50):
        await _tag(gql, f"{unique}{i}")

    async def insert(page: int) -> None:
        # Before the current position and after it: an offset would repeat or skip.
        await _tag(gql, f"{unique}0{page}")
        await _tag(gql, f"{unique}9{page}")

    names = await _walk(gql, {"prefix": f"{unique}%", "first": 2, "order": [{"field": "NAME"}]}, insert)
    seen = [n.removeprefix(unique) for n in names]
    assert seen[:2] == ["10", "20"]
    assert [n for n in seen if n in {"10", "20", "30", "40", "50"}] == ["10", "20", "30", "40", "50"]
    assert len(seen) == len(set(seen))  # nothing twice
    assert all(not n.startswith("0") for n in seen)  # inserted before the position: not shown
    assert "91" in seen and "92" in seen  # inserted ahead: shown


async def test_total_count_only_when_selected(engine_server: RunningEngine, gql: GraphqlClient, unique: str) -> None:
    for i in range(3):
        await _tag(gql, f"{unique}{i}")
    query = "query($p: String!) { tags(filter: {name: {like: $p}}, first: 1) { %s edges { node { name } } } }"
    counted = await gql.run(query % "totalCount", {"p": f"{unique}%"})
    assert counted["tags"]["totalCount"] == 3
    after = counted["tags"]["edges"]
    assert len(after) == 1
    store = engine_server.engine.store
    costs = {}
    for fields in ("", "totalCount"):
        seen = []
        for _ in range(3):
            before = store.round_trips
            await gql.run(query % fields, {"p": f"{unique}%"})
            seen.append(store.round_trips - before)
        costs[fields] = min(seen)
    assert costs["totalCount"] == costs[""] + 1
    # After a cursor the total still counts the whole listing.
    cursor = (await gql.run(PAGE, {"prefix": f"{unique}%", "first": 1}))["tags"]["pageInfo"]["endCursor"]
    later = await gql.run(
        "query($p: String!, $a: String) { tags(filter: {name: {like: $p}}, first: 1, after: $a) "
        "{ totalCount nodes { name } } }",
        {"p": f"{unique}%", "a": cursor},
    )
    assert later["tags"]["totalCount"] == 3 and later["tags"]["nodes"] == [{"name": f"{unique}1"}]


async def test_offset_and_first_zero(gql: GraphqlClient, unique: str) -> None:
    for i in range(4):
        await _tag(gql, f"{unique}{i}")
    query = "query($p: String!, $f: Int, $o: Int!) { tags(filter: {name: {like: $p}}, first: $f, offset: $o, "
    query += 'sort: "-name") { totalCount nodes { name } pageInfo { hasNextPage hasPreviousPage } } }'
    data = (await gql.run(query, {"p": f"{unique}%", "f": 2, "o": 1}))["tags"]
    assert [n["name"] for n in data["nodes"]] == [f"{unique}2", f"{unique}1"]
    assert data["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True}
    empty = (await gql.run(query, {"p": f"{unique}%", "f": 0, "o": 0}))["tags"]
    assert empty["nodes"] == [] and empty["totalCount"] == 4


@pytest.mark.parametrize(
    ("arguments", "code", "word"),
    [
        ("first: 1001", "BAD_INPUT", "1000"),
        ("first: -1", "BAD_INPUT", "first"),
        ("offset: -1", "BAD_INPUT", "offset"),
        ('after: "garbage"', "BAD_INPUT", "cursor"),
        ('after: "W10="', "BAD_INPUT", "cursor"),
        ('sort: "colour"', "BAD_INPUT", "colour"),
        ('sort: "name", order: [{field: NAME}]', "BAD_INPUT", "not both"),
        ("first: 99999999999", "BAD_INPUT", "Int"),
    ],
)
async def test_bad_paging_arguments(gql: GraphqlClient, arguments: str, code: str, word: str) -> None:
    with pytest.raises(GraphqlError) as refused:
        await gql.run(f"{{ tags({arguments}) {{ nodes {{ name }} }} }}")
    assert refused.value.code == code and word in refused.value.message, refused.value


async def test_a_cursor_of_another_order_is_refused(gql: GraphqlClient, unique: str) -> None:
    for i in range(2):
        await _tag(gql, f"{unique}{i}")
    cursor = (await gql.run(PAGE, {"prefix": f"{unique}%", "first": 1}))["tags"]["pageInfo"]["endCursor"]
    with pytest.raises(GraphqlError) as refused:
        await gql.run(PAGE, {"prefix": f"{unique}%", "first": 1, "after": cursor, "order": [{"field": "NAME"}]})
    assert refused.value.code == "BAD_INPUT" and "order" in refused.value.message


async def test_a_full_page_of_a_thousand_knows_whether_more_follow(gql: GraphqlClient) -> None:
    # Fewer than 1000 tags exist in a test session: the page is not full, nothing follows.
    data = await gql.run("{ tags(first: 1000) { pageInfo { hasNextPage } } }")
    assert data["tags"]["pageInfo"]["hasNextPage"] is False


async def test_trashed_records_in_listings(gql: GraphqlClient, unique: str) -> None:
    await _tag(gql, f"{unique}live")
    await _tag(gql, f"{unique}gone")
    gid = (await gql.run("query($n: String!) { tag(name: $n) { id } }", {"n": f"{unique}gone"}))["tag"]["id"]
    await gql.run("mutation($id: ID!) { deleteRecord(id: $id) { id } }", {"id": gid})
    query = 'query($p: String!) { tags(filter: {name: {like: $p}}, sort: "name", %s) { nodes { name deletedAt } } }'

    async def names(flags: str) -> list[str]:
        data = await gql.run(query % flags, {"p": f"{unique}%"})
        return [n["name"].removeprefix(unique) for n in data["tags"]["nodes"]]

    assert await names("includeDeleted: false") == ["live"]
    assert await names("includeDeleted: true") == ["gone", "live"]
    assert await names("onlyDeleted: true") == ["gone"]
    assert await names("includeNormal: false") == []
    restored = await gql.run(
        "mutation($id: ID!) { restoreRecord(id: $id) { ... on Tag { name deletedAt } } }", {"id": gid}
    )
    assert restored["restoreRecord"] == {"name": f"{unique}gone", "deletedAt": None}
