"""GraphQL errors, sign-in, protections and GraphiQL: codes from Engine's errors, never INTERNAL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.auth.tokens import COOKIE
from tests.doors.graphql import GraphqlClient, GraphqlError, graphql_client
from tests.servers import ADMIN_PASSWORD, RunningEngine, start_engine, store_settings


@pytest.fixture
async def gql(engine_server: RunningEngine, admin_token: str) -> AsyncIterator[GraphqlClient]:
    async with graphql_client(engine_server, admin_token) as client:
        yield client


async def _code(gql: GraphqlClient, query: str, variables: dict[str, object] | None = None) -> GraphqlError:
    with pytest.raises(GraphqlError) as refused:
        await gql.run(query, variables)
    return refused.value


async def test_domain_errors_carry_engine_codes(gql: GraphqlClient, unique: str) -> None:
    missing = await _code(gql, "query($n: String!) { flow(name: $n) { name } }", {"n": f"{unique}none"})
    assert missing.code == "NOT_FOUND" and f"{unique}none" in missing.message
    assert missing.errors[0]["path"] == ["flow"]
    made = await gql.run(
        "mutation($n: String!) { saveSetting(name: $n, input: {value: 1, isReadonly: true}) "
        "{ created record { uuid } } }",
        {"n": unique},
    )
    assert made["saveSetting"]["created"] is True
    uuid = made["saveSetting"]["record"]["uuid"]
    read_only = await _code(
        gql, "mutation($id: ID!) { updateSetting(id: $id, patch: {value: 2}) { uuid } }", {"id": uuid}
    )
    assert read_only.code == "READ_ONLY" and "read-only" in read_only.message
    taken = await _code(gql, "mutation($n: String!) { createSetting(input: {name: $n}) { uuid } }", {"n": unique})
    assert taken.code == "CONFLICT"
    bad = await _code(gql, '{ flows(where: {field: "name", op: "matches", value: "x"}) { nodes { name } } }')
    assert bad.code == "INVALID_FILTER" and "matches" in bad.message
    blank = await _code(gql, 'mutation { createTag(input: {name: "   "}) { uuid } }')
    assert blank.code == "BAD_INPUT" and "name" in blank.message
    wrong_kind = await _code(
        gql, "query($id: ID!) { tag(id: $id) { name } }", {"id": made["saveSetting"]["record"]["uuid"]}
    )
    assert wrong_kind.code == "NOT_FOUND"
    not_global = await _code(gql, 'mutation { deleteRecord(id: "not-a-global-id") { id } }')
    assert not_global.code == "BAD_INPUT" and "global id" in not_global.message


async def test_document_errors_are_bad_input_with_graphql_messages(gql: GraphqlClient) -> None:
    for query, word in (
        ("{ flows { nodes { colour } } }", "colour"),
        ('{ flows(first: "ten") { nodes { name } } }', "Int"),
        ("{ flows { nodes { name } ", "Syntax Error"),
        ("{ gadgets { nodes { name } } }", "gadgets"),
    ):
        error = await _code(gql, query)
        assert error.code == "BAD_INPUT" and word in error.message, error
    typed = await _code(
        gql,
        "mutation($i: FlowInput!) { createFlow(input: $i) { uuid } }",
        {"i": {"name": "x", "maxRuntimeMinutes": "soon"}},
    )
    assert typed.code == "BAD_INPUT" and "max_runtime_minutes" in typed.message


async def test_malformed_requests_are_4xx(engine_server: RunningEngine, admin_token: str) -> None:
    async with httpx.AsyncClient(base_url=engine_server.url, headers={"Authorization": f"Bearer {admin_token}"}) as c:
        for body in (b"{not json", b"[]", b'{"query": 5}', b"{}", b'{"query": "{ viewer { name } }", "variables": 3}'):
            response = await c.post("/graphql", content=body, headers={"content-type": "application/json"})
            assert response.status_code == 400, (body, response.text)
        # Mutations never run from a GET (a link or an image tag could send one).
        response = await c.get("/graphql", params={"query": "mutation { logout }"})
        assert response.status_code == 400 and "GET" in response.text


async def test_sign_in_out_with_token_and_cookie(engine_server: RunningEngine) -> None:
    async with graphql_client(engine_server, None) as anon:
        stranger = await _code(anon, "{ viewer { name } }")
        assert stranger.code == "UNAUTHENTICATED"
        wrong = await _code(anon, 'mutation { login(userName: "admin", password: "wrong-password") { token } }')
        assert wrong.code == "UNAUTHENTICATED"
        response = await anon.client.post(
            "/graphql",
            json={
                "query": 'mutation($p: String!) { login(userName: "admin", password: $p) '
                "{ token expiresAt user { name } } }",
                "variables": {"p": ADMIN_PASSWORD},
            },
        )
        login = response.json()["data"]["login"]
        assert login["user"] == {"name": "admin"}
        assert response.cookies.get(COOKIE) == login["token"]
        # The client now holds the cookie, as a browser would: that alone signs in.
        assert (await anon.run("{ viewer { name } }"))["viewer"] == {"name": "admin"}
        assert (await anon.run("mutation { logout }"))["logout"] is True
    async with graphql_client(engine_server, login["token"]) as revoked:
        assert (await _code(revoked, "{ viewer { name } }")).code == "UNAUTHENTICATED"
    async with graphql_client(engine_server, "made-up") as made_up:
        assert (await _code(made_up, "{ flows { nodes { name } } }")).code == "UNAUTHENTICATED"


async def test_permissions_are_the_records_service_s(
    gql: GraphqlClient, engine_server: RunningEngine, unique: str
) -> None:
    await gql.run(
        'mutation($n: String!) { createUser(input: {name: $n, password: "a-long-password", isActive: true}) { uuid } }',
        {"n": f"{unique}u"},
    )
    async with graphql_client(engine_server, None) as anon:
        token = (
            await anon.run(
                'mutation($n: String!) { login(userName: $n, password: "a-long-password") { token } }',
                {"n": f"{unique}u"},
            )
        )["login"]["token"]
    async with graphql_client(engine_server, token) as user:
        assert (await user.run("{ viewer { name } }"))["viewer"] == {"name": f"{unique}u"}
        denied = await _code(user, "{ flows { nodes { name } } }")
        assert denied.code == "FORBIDDEN"
        assert (await _code(user, 'mutation { createFlow(input: {name: "x"}) { uuid } }')).code == "FORBIDDEN"


async def test_depth_token_and_alias_limits(gql: GraphqlClient) -> None:
    deep = "{ executions { nodes { " + "parent { " * 12 + "name" + " }" * 12 + " } } }"
    error = await _code(gql, deep)
    assert error.code == "BAD_INPUT" and "depth" in error.message
    many_aliases = "{ " + " ".join(f"a{i}: viewer {{ name }}" for i in range(31)) + " }"
    error = await _code(gql, many_aliases)
    assert error.code == "BAD_INPUT" and "aliases" in error.message
    many_tokens = "{ viewer { " + " ".join(["name"] * 5001) + " } }"
    error = await _code(gql, many_tokens)
    assert error.code == "BAD_INPUT" and "token" in error.message.lower()
    # Within the limits the same shapes run.
    assert (await gql.run("{ " + " ".join(f"a{i}: viewer {{ name }}" for i in range(30)) + " }"))["a29"][
        "name"
    ] == "admin"


async def test_introspection_is_on_and_can_be_turned_off(gql: GraphqlClient, tmp_path: Path) -> None:
    data = await gql.run('{ __type(name: "Flow") { fields { name } } }')
    assert {"script", "createdBy", "metadata"} <= {f["name"] for f in data["__type"]["fields"]}
    closed = start_engine(store_settings("sqlite", None, tmp_path / "data", graphql_introspection=False))
    try:
        async with httpx.AsyncClient(base_url=closed.url) as client:
            response = await client.post("/graphql", json={"query": '{ __type(name: "Flow") { name } }'})
            assert "introspection" in response.json()["errors"][0]["message"].lower()
    finally:
        closed.stop()


async def test_graphiql_is_served_and_works_with_the_cookie(engine_server: RunningEngine, admin_token: str) -> None:
    async with httpx.AsyncClient(base_url=engine_server.url, cookies={COOKIE: admin_token}) as browser:
        page = await browser.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "graphiql" in page.text.lower()
        # Everything the page loads comes from Engine itself: no CDN, so it works offline.
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/graphql/static/") for a in assets), assets
        for asset in assets:
            served = await browser.get(asset)
            assert served.status_code == 200 and len(served.content) > 1000, asset
            kind = "css" if asset.endswith(".css") else "javascript"
            assert kind in served.headers["content-type"], (asset, served.headers["content-type"])
        # What the page's fetcher sends: a JSON POST to the same URL, with the cookie.
        answer = await browser.post("/graphql", json={"query": "{ viewer { name } }"})
        assert answer.json() == {"data": {"viewer": {"name": "admin"}}}
        via_get = await browser.get("/graphql", params={"query": "{ viewer { name } }"})
        assert via_get.json() == {"data": {"viewer": {"name": "admin"}}}


async def test_set_metadata_without_data_stores_null_and_bad_ids_are_refused(gql: GraphqlClient, unique: str) -> None:
    # Found by schemathesis: leaving out the optional data argument was an INTERNAL error.
    made = await gql.run("mutation($n: String!) { createTag(input: {name: $n}) { id } }", {"n": unique})
    tag_id = made["createTag"]["id"]
    set_ = await gql.run(
        'mutation($id: ID!) { setMetadata(recordId: $id, key: "k") { created metadata { key data } } }', {"id": tag_id}
    )
    assert set_["setMetadata"] == {"created": True, "metadata": {"key": "k", "data": None}}
    blank = await _code(gql, 'mutation { setMetadata(recordId: "", key: "") { created } }')
    assert blank.code == "BAD_INPUT"
