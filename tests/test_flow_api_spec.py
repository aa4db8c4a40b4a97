"""The spec's three Flow-API examples, run as flows (unchanged but for indentation)."""

from __future__ import annotations

import httpx

from tests.runtime_support import make_flow, run_flow

CREATE_SETTING = """
import flow_api

def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    # for example:
    # you can set fields of the new record:
    system.setting('my-new-setting').save(value=42, description='some number')
"""

# The spec shows the filter's parts only; this is the listing they belong to.
LIST_WITH_FILTER = """
import flow_api

def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    # for record in system.<record-type>s():
    # # do something with "record"

    # for example:
    # you can use filter expressions
    found = []
    for record in system.schedules(filter_={
        'field': 'is_enabled',
        'op': 'eq',
        'value': 'True',
    }):
        found.append(record.get('name'))
    this.save(output_value=sorted(found))
"""

METADATA = """
import flow_api

def handler(system: flow_api.System, this: flow_api.Execution, inputs: dict):
    # add metadata with key 'environment' and data='test' to this execution
    # get metadata of this this execution and write it into output value
    this.add_record_metadata(key='environment', data='test')
    output_value1 = [metadata.get_dict('key', 'data') for metadata in this.record_metadata_list()]

    # change metadata with key 'environment' and set data to 'prod'
    # add metadata with key 'about' and a json object as data to this execution
    # get metadata of this this execution and write it into output value
    this.metadata('environment').save(data='prod', record_id=this.get('id'))
    this.add_record_metadata(key='about', data={'author': 'my-user', 'initial_created_at': '2000-01-01T12:00:00'})
    output_value2 = [metadata.get_dict('key', 'data') for metadata in this.record_metadata_list()]

    # delete metadata with key 'environment'
    # get metadata of this this execution and write it into output value
    output_value3 = [metadata.get_dict('key', 'data') for metadata in this.record_metadata_list()]

    return this.success('all done')
"""

# The same example with the two lines the spec's text lost: the delete, and writing the output value.
METADATA_COMPLETE = METADATA.replace(
    "    # get metadata of this this execution and write it into output value\n    output_value3",
    "    this.metadata('environment').delete()\n    output_value3",
).replace(
    "    return this.success('all done')",
    "    this.save(output_value=[output_value1, output_value2, output_value3])\n    return this.success('all done')",
)

ABOUT = {"author": "my-user", "initial_created_at": "2000-01-01T12:00:00"}


async def test_creating_a_setting(api: httpx.AsyncClient, unique: str) -> None:
    await api.delete("/setting/my-new-setting", params={"by": "name", "permanently": "true"})
    await make_flow(api, f"{unique}create-setting", CREATE_SETTING)
    done = await run_flow(api, f"{unique}create-setting")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    setting = (await api.get("/setting/my-new-setting", params={"by": "name"})).json()
    assert setting["value"] == 42 and setting["description"] == "some number"
    # save() again overwrites rather than failing
    again = await run_flow(api, f"{unique}create-setting")
    assert again["status"] == "ENDED_SUCCESS"
    listed = await api.get("/setting", params={"filter": '{"field": "name", "op": "eq", "value": "my-new-setting"}'})
    assert len(listed.json()) == 1


async def test_listing_with_a_filter(api: httpx.AsyncClient, unique: str) -> None:
    for name, enabled in (("a", True), ("b", False), ("c", True)):
        response = await api.put(f"/schedule/{unique}{name}", params={"by": "name"}, json={"is_enabled": enabled})
        assert response.status_code == 201
    await make_flow(api, f"{unique}list", LIST_WITH_FILTER)
    done = await run_flow(api, f"{unique}list")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    mine = [n for n in done["output_value"] if n.startswith(unique)]
    assert mine == [f"{unique}a", f"{unique}c"]


async def test_record_metadata_round_trip_as_written(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}meta", METADATA)
    done = await run_flow(api, f"{unique}meta")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    assert done["message"] == "all done"
    meta = (await api.get(f"/execution/{done['id']}/metadata")).json()
    assert [(m["key"], m["data"]) for m in meta] == [("environment", "prod"), ("about", ABOUT)]


async def test_record_metadata_round_trip_output(api: httpx.AsyncClient, unique: str) -> None:
    await make_flow(api, f"{unique}meta-full", METADATA_COMPLETE)
    done = await run_flow(api, f"{unique}meta-full")
    assert done["status"] == "ENDED_SUCCESS", done.get("status_message") or done
    assert done["output_value"] == [
        [{"key": "environment", "data": "test"}],
        [{"key": "environment", "data": "prod"}, {"key": "about", "data": ABOUT}],
        [{"key": "about", "data": ABOUT}],
    ]
