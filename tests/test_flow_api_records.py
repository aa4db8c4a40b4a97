"""flow_api record proxies, inside a flow and from outside with connect()."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import flow_api
from tests.runtime_support import make_flow, run_flow
from tests.servers import RunningEngine


async def test_save_get_exists_delete_restore_inside_a_flow(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(
        api,
        f"{unique}crud",
        f"""
        import flow_api

        def handler(system, this, inputs):
            out = {{}}
            s = system.setting("  {unique}s  ")
            out["exists_before"] = s.exists()
            s.save(value={{"a": 1}}, description="first")
            s.save(value=[1, 2])
            out["value"] = s.get("value")
            out["pair"] = list(s.get("value", "description"))
            out["dict"] = s.get_dict("name", "value", "project_id")
            out["by_id"] = system.setting(s.id, by="id").get("name")
            s.delete()
            out["exists_deleted"] = s.exists()
            try:
                system.setting("{unique}s").get("value")
            except flow_api.ResourceNotFoundError as exc:
                out["not_found"] = type(exc).__name__
            s.restore()
            out["restored"] = system.setting("{unique}s").get("value")
            system.setting("{unique}s").save(is_readonly=True)
            try:
                system.setting("{unique}s").save(value=3)
            except flow_api.ResourceReadOnlyError as exc:
                out["read_only"] = exc.code
            s.save(is_readonly=False)  # by id: a PATCH, which may clear the flag
            s.delete(permanently=True)
            out["exists_purged"] = system.setting("{unique}s").exists()
            m1 = system.message("{unique}note").save(text="one")
            m2 = system.message("{unique}note").save(text="two")
            out["messages_differ"] = m1.id != m2.id
            try:
                system.setting("{unique}bad").save(colour="red")
            except flow_api.InvalidInputError as exc:
                out["invalid"] = exc.message
            try:
                system.settings(filter_={{"field": "nope", "op": "eq", "value": 1}})
            except flow_api.InvalidFilterError as exc:
                out["bad_filter"] = exc.code
            this.save(output_value=out)
        """,
    )
    done = await run_flow(api, f"{unique}crud")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    out = done["output_value"]
    assert out["exists_before"] is False
    assert out["value"] == [1, 2]
    assert out["pair"] == [[1, 2], "first"]
    assert out["dict"] == {"name": f"{unique}s", "value": [1, 2], "project_id": None}
    assert out["by_id"] == f"{unique}s"
    assert out["exists_deleted"] is False
    assert out["not_found"] == "ResourceNotFoundError"
    assert out["restored"] == [1, 2]
    assert out["read_only"] == "READ_ONLY"
    assert out["exists_purged"] is False
    assert out["messages_differ"] is True
    assert "colour" in out["invalid"]
    assert out["bad_filter"] == "INVALID_FILTER"


async def test_reading_fields_as_in_the_spec(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}my-flow", "def handler(system, this, inputs):\n    pass\n", description="about me")
    await make_flow(
        api,
        f"{unique}reader",
        f"""
        import flow_api

        def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
            description = system.flow('{unique}my-flow').get('description')
            # you can read several fields at once:
            created_at, modified_at = system.flow('{unique}my-flow').get('created_at', 'modified_at')
            this.save(output_value=[description, created_at, modified_at])
        """,
    )
    done = await run_flow(api, f"{unique}reader")
    flow = (await api.get(f"/flow/{unique}my-flow", params={"by": "name"})).json()
    assert done["output_value"] == ["about me", flow["created_at"], flow["modified_at"]], done


async def test_listing_is_a_snapshot_while_records_are_deleted(api: httpx.AsyncClient, unique: str) -> None:
    for i in range(5):
        await api.put(f"/setting/{unique}{i}", params={"by": "name"}, json={"value": i})
    await make_flow(
        api,
        f"{unique}snapshot",
        f"""
        import flow_api

        def handler(system, this, inputs):
            listing = system.settings(filter_={{"field": "name", "op": "like", "value": "{unique}_"}}, order="name")
            system.setting("{unique}1").delete()
            system.setting("{unique}3").delete(permanently=True)
            system.setting("{unique}9").save(value=9)
            read, missing = [], 0
            for record in listing:
                try:
                    read.append(record.get("value"))
                except flow_api.ResourceNotFoundError:
                    missing += 1
            page = [r.get("value") for r in system.settings(
                filter_={{"field": "name", "op": "like", "value": "{unique}%"}}, order="-name", limit=2, offset=1
            )]
            this.save(output_value={{"listed": len(listing), "read": read, "missing": missing, "page": page}})
        """,
    )
    done = await run_flow(api, f"{unique}snapshot")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    assert done["output_value"] == {"listed": 5, "read": [0, 2, 4], "missing": 2, "page": [4, 2]}


async def test_metadata_on_another_record(api: httpx.AsyncClient, unique: str) -> None:
    await api.put(f"/setting/{unique}m", params={"by": "name"}, json={"value": 1})
    await make_flow(
        api,
        f"{unique}meta",
        f"""
        def handler(system, this, inputs):
            s = system.setting("{unique}m")
            s.add_record_metadata(key="k", data={{"x": 1}})
            s.metadata("k").save(data={{"x": 2}})
            s.metadata("j").save(data=[1])
            first = [m.get("key", "data") for m in s.record_metadata_list()]
            s.metadata("j").delete()
            this.save(output_value={{"first": [list(p) for p in first], "k": s.metadata("k").get("data"),
                                      "after": [m.get_dict("key") for m in s.record_metadata_list()]}})
        """,
    )
    done = await run_flow(api, f"{unique}meta")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    assert done["output_value"] == {
        "first": [["k", {"x": 2}], ["j", [1]]],
        "k": {"x": 2},
        "after": [{"key": "k"}],
    }


def _outside(url: str, token: str, unique: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with flow_api.connect(url, token) as system:
        system.setting(f"{unique}outside").save(value="from afar")
        out["value"] = system.setting(f"{unique}outside").get("value")
        out["listed"] = [
            r.get("name") for r in system.settings(filter_={"field": "name", "op": "like", "value": f"{unique}%"})
        ]
        try:
            system.setting(f"{unique}absent").get("value")
        except flow_api.ResourceNotFoundError as exc:
            out["missing"] = (exc.code, exc.status)
        execution = system.run(f"{unique}outside-flow", {"n": 2})
        out["output"] = execution.get("output_value")
        try:
            system.run(f"{unique}outside-fails")
        except flow_api.DependencyFailedError as exc:
            out["failed"] = exc.execution["status"]
    with flow_api.connect(url, "not-a-token") as system, pytest.raises(flow_api.AuthenticationError):
        system.setting("x").get("value")
    return out


async def test_connect_from_outside_engine(
    api: httpx.AsyncClient, unique: str, engine_server: RunningEngine, admin_token: str
) -> None:
    await make_flow(
        api, f"{unique}outside-flow", "def handler(system, this, inputs):\n    this.save(output_value=inputs)\n"
    )
    await make_flow(api, f"{unique}outside-fails", "def handler(system, this, inputs):\n    1 / 0\n")
    out = await asyncio.to_thread(_outside, engine_server.url, admin_token, unique)
    assert out == {
        "value": "from afar",
        "listed": [f"{unique}outside"],
        "missing": ("NOT_FOUND", 404),
        "output": {"n": 2},
        "failed": "ENDED_ERROR",
    }


def test_flow_api_stands_alone() -> None:
    """flow_api runs in the sandbox and on users' machines: it must not need Engine's own package."""
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(flow_api.__file__).resolve().parent.parent)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import flow_api, flow_api._runner, flow_api._zygote; "
        "print(sorted(m for m in sys.modules if m == 'app' or m.startswith('app.')))"
    )
    out = subprocess.run([sys.executable, "-I", "-c", probe, root], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
