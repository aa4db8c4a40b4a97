"""A script acts as the user who started it, and can do no more than that user."""

from __future__ import annotations

import httpx

from tests.runtime_support import make_flow, run_flow
from tests.servers import RunningEngine, login


async def _user(api: httpx.AsyncClient, name: str, permissions: list[dict[str, str]]) -> str:
    role = await api.post("/role", json={"name": f"{name}-role", "permissions": permissions})
    assert role.status_code == 201, role.text
    user = await api.post(
        "/user",
        json={"name": name, "password": "a-long-password", "role_ids": [role.json()["id"]], "is_active": True},
    )
    assert user.status_code == 201, user.text
    user_id: str = user.json()["id"]
    return user_id


async def test_the_script_has_exactly_its_starters_permissions(
    api: httpx.AsyncClient, unique: str, engine_server: RunningEngine
) -> None:
    user_id = await _user(
        api,
        f"{unique}runner",
        [
            {"kind": "flow", "operation": "read"},
            {"kind": "flow", "operation": "execute"},
            {"kind": "execution", "operation": "*"},
            {"kind": "setting", "operation": "read"},
            {"kind": "setting", "operation": "create"},
        ],
    )
    await api.put(f"/setting/{unique}there", params={"by": "name"}, json={"value": "v"})
    await make_flow(
        api,
        f"{unique}probe",
        f"""
        import flow_api, httpx, os

        def attempt(out, what, action):
            try:
                action()
                out[what] = "ok"
            except flow_api.PermissionDenied as exc:
                out[what] = "denied"

        def handler(system, this, inputs):
            out = {{}}
            me = httpx.get(os.environ["FLOW_API_URL"] + "/api/latest/auth/me",
                           headers={{"Authorization": "Bearer " + os.environ["FLOW_API_TOKEN"]}}).json()
            out["me"] = [me["user"]["name"], me["execution_id"]]
            attempt(out, "read setting", lambda: system.setting("{unique}there").get("value"))
            attempt(out, "create setting", lambda: system.setting("{unique}mine").save(value=1))
            attempt(out, "update setting", lambda: system.setting("{unique}there").save(value="changed"))
            attempt(out, "delete setting", lambda: system.setting("{unique}there").delete())
            attempt(out, "create file", lambda: system.file("{unique}f").save(mime_type="text/plain"))
            attempt(out, "list users", lambda: system.roles())
            this.save(output_value=out)
        """,
    )
    token = await login(engine_server.url, f"{unique}runner", "a-long-password")
    async with httpx.AsyncClient(
        base_url=engine_server.url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as as_user:
        done = await run_flow(as_user, f"{unique}probe")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    assert done["created_by"] == user_id
    assert done["output_value"] == {
        "me": [f"{unique}runner", done["id"]],
        "read setting": "ok",
        "create setting": "ok",
        "update setting": "denied",
        "delete setting": "denied",
        "create file": "denied",
        "list users": "denied",
    }
    mine = (await api.get(f"/setting/{unique}mine", params={"by": "name"})).json()
    assert mine["created_by"] == user_id
    assert (await api.get(f"/setting/{unique}there", params={"by": "name"})).json()["value"] == "v"


async def test_starting_needs_permission_to_execute_the_flow(
    api: httpx.AsyncClient, unique: str, engine_server: RunningEngine
) -> None:
    await _user(
        api, f"{unique}reader", [{"kind": "flow", "operation": "read"}, {"kind": "execution", "operation": "*"}]
    )
    await make_flow(api, f"{unique}locked", "def handler(system, this, inputs):\n    pass\n")
    token = await login(engine_server.url, f"{unique}reader", "a-long-password")
    async with httpx.AsyncClient(
        base_url=engine_server.url + "/api/latest", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as as_user:
        refused = await as_user.post("/execution", json={"flow_name": f"{unique}locked"})
        assert refused.status_code == 403, refused.text
        assert "execute" in refused.json()["error"]["message"]
        started = (await api.post("/execution", params={"wait": 30}, json={"flow_name": f"{unique}locked"})).json()
        assert (await as_user.get(f"/execution/{started['id']}/log")).status_code == 200
    async with httpx.AsyncClient(base_url=engine_server.url + "/api/latest", timeout=60) as nobody:
        assert (await nobody.post("/execution", json={"flow_name": f"{unique}locked"})).status_code == 401
        assert (await nobody.get(f"/execution/{started['id']}/log")).status_code == 401
