"""The records contract: bad input of every kind is a clear error naming the problem."""

from __future__ import annotations

from typing import Any

import pytest

from tests.doors import Door, DoorError


async def _refused(attempt: Any, code: str, *words: str) -> None:
    with pytest.raises(DoorError) as refused:
        await attempt
    assert refused.value.code == code, refused.value
    for word in words:
        assert word in refused.value.message, refused.value


async def test_unknown_kind(door: Door) -> None:
    # A door may know kinds from its schema (BAD_INPUT) or look them up (NOT_FOUND).
    for attempt in (door.list("gadget"), door.create("gadget", {"name": "x"}), door.save("gadget", "x", {})):
        with pytest.raises(DoorError) as refused:
            await attempt
        assert refused.value.code in ("NOT_FOUND", "BAD_INPUT")
        assert "gadget" in refused.value.message


async def test_unknown_and_hidden_fields_in_records(door: Door, unique: str) -> None:
    await _refused(door.create("tag", {"name": f"{unique}x", "colour": "red"}), "BAD_INPUT", "colour")
    await _refused(door.create("user", {"name": f"{unique}u", "password_hash": "x"}), "BAD_INPUT", "password_hash")
    await _refused(door.create("tag", {"name": f"{unique}x", "alive": False}), "BAD_INPUT", "alive")
    made = await door.create("tag", {"name": f"{unique}y"})
    await _refused(door.update("tag", made["id"], {"colour": "red"}), "BAD_INPUT", "colour")
    await _refused(door.save("tag", f"{unique}y", {"colour": "red"}), "BAD_INPUT", "colour")


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"priority": "high"}, "priority"),
        ({"priority": 1.5}, "priority"),
        ({"priority": True}, "priority"),
        ({"priority": 2**70}, "priority"),
        ({"max_runtime_minutes": "soon"}, "max_runtime_minutes"),
        ({"script": 42}, "script"),
        ({"script": {"$where": "1"}}, "script"),
        ({"description": ["a"]}, "description"),
        ({"is_readonly": "maybe"}, "is_readonly"),
        ({"project_id": "not-a-uuid"}, "project_id"),
        ({"input_schema": {"$gt": 1}}, "$gt"),
        ({"input_schema": {"a": [{"$where": "1"}]}}, "$where"),
        ({"$set": {"name": "x"}}, "$set"),
        ({"name": 7}, "name"),
        ({"input_schema": {"n": 2**70}}, "64 bits"),
        ({"priority": 2**63}, "priority"),
        ({"priority": 2**31}, "priority"),
        ({"priority": -(2**31) - 1}, "priority"),
        ({"priority": 1e300}, "priority"),
    ],
)
async def test_wrong_value_types_and_operator_keys_in_records(
    door: Door, unique: str, fields: dict[str, Any], word: str
) -> None:
    await _refused(door.create("flow", {"name": f"{unique}f", **fields}), "BAD_INPUT", word)
    assert (await door.list("flow", filter={"field": "name", "op": "like", "value": f"{unique}%"})).total == 0


async def test_integers_at_the_edge_of_their_range_round_trip(door: Door, unique: str) -> None:
    # Integers are 32-bit in every door, so what REST stores GraphQL can read back.
    for edge in (2**31 - 1, -(2**31)):
        made = await door.create("flow", {"name": f"{unique}{edge}", "priority": edge})
        assert (await door.get("flow", made["id"]))["priority"] == edge


@pytest.mark.parametrize(
    ("flt", "word"),
    [
        ({"field": "colour", "op": "eq", "value": "x"}, "colour"),
        ({"field": "alive", "op": "eq", "value": True}, "alive"),
        ({"field": "name", "op": "matches", "value": "x"}, "matches"),
        ({"field": "name", "op": "$where", "value": "x"}, "$where"),
        ({"field": "$where", "op": "eq", "value": "x"}, "$where"),
        ({"field": "name.$where", "op": "eq", "value": "x"}, "name.$where"),
        ({"$where": "sleep(1000)"}, "$where"),
        ({"field": "name", "op": "eq", "value": "x", "$comment": "hi"}, "$comment"),
        ({"field": "name", "op": "eq", "value": {"$where": "1"}}, "name"),
        ({"field": "name", "op": "eq", "value": {"$ne": None}}, "name"),
        ({"field": "name", "op": "in", "value": [{"$gt": ""}]}, "name"),
        ({"field": "priority", "op": "eq", "value": "high"}, "priority"),
        ({"field": "priority", "op": "in", "value": 3}, "list"),
        ({"field": "priority", "op": "like", "value": "1%"}, "priority"),
        ({"field": "name", "op": "like", "value": 5}, "string"),
        ({"field": "name", "op": "eq", "value": None}, "null"),
        ({"field": "name", "op": "eq"}, "value"),
        ({"field": "name", "op": "eq", "value": "x", "value_field": "description"}, "exclusive"),
        ({"field": "name", "op": "eq", "value_field": "$where"}, "$where"),
        ({"field": "name", "op": "like", "value_field": "description"}, "value_field"),
        ({"field": "name", "op": "eq", "value_field": "priority"}, "compare"),
        ({"field": "created_at", "op": "lt", "value": "9999-12-31T23:59:59-05:00"}, "created_at"),
        ({"field": "created_at", "op": "gt", "value": "yesterday"}, "ISO 8601"),
        ({"field": "name", "op": "like", "value": "a\u0000%"}, "NUL"),
        ({"field": "input_schema", "op": "eq", "value": {}}, "input_schema"),
        ({"field": "created_by--user.id", "op": "eq", "value": "x"}, "created_by--user.id"),
        ({"field": "created_by--gadget.id:name", "op": "eq", "value": "x"}, "gadget"),
        ({"field": "created_by--user.id:password_hash", "op": "eq", "value": "x"}, "password_hash"),
        ({"field": "created_by--user.id:$where", "op": "eq", "value": "x"}, "$where"),
        ({"and": {"field": "name", "op": "eq", "value": "x"}}, "list"),
        ({"and": [], "or": []}, "only key"),
        ({"field": "name"}, "op"),
        (["name", "eq", "x"], "object"),
        ("name = 'x'", "object"),
        ({"or": [{"and": []}] * 1000}, "1000"),
    ],
)
async def test_bad_filters(door: Door, flt: Any, word: str) -> None:
    await _refused(door.list("flow", filter=flt), "INVALID_FILTER", word)


async def test_deeply_nested_filter(door: Door) -> None:
    flt: Any = {"field": "name", "op": "eq", "value": "x"}
    for _ in range(40):
        flt = {"and": [flt]}
    await _refused(door.list("flow", filter=flt), "INVALID_FILTER", "deeper")


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"limit": 100000}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": -5}, "offset"),
        ({"offset": 10**20}, "offset"),
        ({"fields": ["colour"]}, "colour"),
        ({"fields": ["$where"]}, "$where"),
        ({"fields": ["password_hash"]}, "password_hash"),
        ({"order": "colour"}, "colour"),
        ({"order": "$where"}, "$where"),
        ({"order": "-input_schema"}, "input_schema"),
    ],
)
async def test_bad_listing_parameters(door: Door, params: dict[str, Any], word: str) -> None:
    await _refused(door.list("flow", **params), "BAD_INPUT", word)


async def test_bad_read_fields(door: Door, unique: str) -> None:
    made = await door.create("tag", {"name": f"{unique}t"})
    await _refused(door.get("tag", made["id"], fields=["colour"]), "BAD_INPUT", "colour")
    await _refused(door.get("tag", made["id"], fields=["$where"]), "BAD_INPUT", "$where")
