"""The records contract: filters (every op, value_field, joins, and/or), order, paging."""

from __future__ import annotations

from typing import Any

import pytest

from tests.doors import Door, DoorError, Record

# name suffix -> fields; None values are left out (the field is missing).
FLOWS: dict[str, dict[str, Any]] = {
    "a": {"priority": 1, "max_runtime_minutes": 1.5, "description": "alpha"},
    "b": {"priority": 2, "max_runtime_minutes": 2.0, "description": "beta%_x"},
    "c": {"priority": 3},
    "d": {"priority": 2, "max_runtime_minutes": 10, "description": "Alpha"},
    "e": {"max_runtime_minutes": 0.5, "description": "a.b*c[1]"},
}


async def _flows(door: Door, unique: str) -> dict[str, Record]:
    return {key: await door.create("flow", {"name": f"{unique}{key}", **fields}) for key, fields in FLOWS.items()}


def _mine(unique: str, *more: Any) -> dict[str, Any]:
    return {"and": [{"field": "name", "op": "like", "value": f"{unique}%"}, *more]}


async def _names(door: Door, unique: str, flt: Any, order: str = "name") -> list[str]:
    listing = await door.list("flow", filter=_mine(unique, flt), order=order)
    names = [r["name"].removeprefix(unique) for r in listing.items]
    assert listing.total == len(names)
    return names


CASES = [
    ({"field": "priority", "op": "eq", "value": 2}, "bd"),
    ({"field": "priority", "op": "neq", "value": 2}, "ace"),
    ({"field": "description", "op": "like", "value": "alpha"}, "a"),
    ({"field": "description", "op": "like", "value": "%pha"}, "ad"),
    ({"field": "description", "op": "like", "value": "a_b%"}, "e"),
    ({"field": "description", "op": "like", "value": "a.b*c[1]"}, "e"),
    ({"field": "description", "op": "like", "value": "a.b*c[_]"}, "e"),
    ({"field": "description", "op": "like", "value": "a.%"}, "e"),
    ({"field": "description", "op": "like", "value": "beta%"}, "b"),
    ({"field": "description", "op": "like", "value": "%ALPHA"}, ""),
    ({"field": "description", "op": "notlike", "value": "%pha"}, "bce"),
    ({"field": "priority", "op": "lt", "value": 2}, "a"),
    ({"field": "priority", "op": "gt", "value": 2}, "c"),
    ({"field": "priority", "op": "lte", "value": 2}, "abd"),
    ({"field": "priority", "op": "gte", "value": 2}, "bcd"),
    ({"field": "max_runtime_minutes", "op": "gte", "value": 2}, "bd"),
    ({"field": "max_runtime_minutes", "op": "lt", "value": 1.5}, "e"),
    ({"field": "description", "op": "set", "value": True}, "abde"),
    ({"field": "description", "op": "unset", "value": True}, "c"),
    ({"field": "priority", "op": "unset", "value": None}, "e"),
    ({"field": "priority", "op": "in", "value": [1, 3]}, "ac"),
    ({"field": "priority", "op": "notin", "value": [1, 3]}, "bde"),
    ({"field": "description", "op": "in", "value": ["alpha", "Alpha", "gamma"]}, "ad"),
    ({"field": "priority", "op": "in", "value": []}, ""),
    ({"field": "priority", "op": "notin", "value": []}, "abcde"),
    ({"field": "priority", "op": "eq", "value": "2"}, "bd"),  # coerced to the field's type
    # value_field: both fields must be set; ints and floats compare as numbers.
    ({"field": "priority", "op": "eq", "value_field": "max_runtime_minutes"}, "b"),
    ({"field": "priority", "op": "lt", "value_field": "max_runtime_minutes"}, "ad"),
    ({"field": "priority", "op": "gt", "value_field": "max_runtime_minutes"}, ""),
    ({"field": "priority", "op": "gte", "value_field": "max_runtime_minutes"}, "b"),
    ({"field": "priority", "op": "lte", "value_field": "max_runtime_minutes"}, "abd"),
    ({"field": "priority", "op": "neq", "value_field": "max_runtime_minutes"}, "ad"),
    ({"field": "created_at", "op": "eq", "value_field": "created_at"}, "abcde"),
    # and / or, nested
    ({"or": [{"field": "priority", "op": "eq", "value": 1}, {"field": "priority", "op": "eq", "value": 3}]}, "ac"),
    (
        {
            "or": [
                {
                    "and": [
                        {"field": "priority", "op": "eq", "value": 2},
                        {"field": "description", "op": "like", "value": "A%"},
                    ]
                },
                {
                    "and": [
                        {"field": "priority", "op": "unset", "value": 0},
                        {"or": [{"field": "description", "op": "set", "value": 0}]},
                    ]
                },
            ]
        },
        "de",
    ),
    ({"and": []}, "abcde"),
    ({"or": []}, ""),
    # joins: <own field>--<other kind>.<join field>:<filter field>
    ({"field": "created_by--user.id:name", "op": "eq", "value": "admin"}, "abcde"),
    ({"field": "created_by--user.id:name", "op": "neq", "value": "admin"}, ""),
    ({"field": "created_by--user.id:name", "op": "in", "value": ["nobody", "admin"]}, "abcde"),
    ({"field": "modified_by--user.id:name", "op": "like", "value": "adm%"}, "abcde"),
    ({"field": "created_by--user.id:is_admin", "op": "eq", "value": True}, "abcde"),
    ({"field": "created_by--user.id:name", "op": "eq", "value": "nobody"}, ""),
    (
        {
            "or": [
                {"field": "created_by--user.id:name", "op": "eq", "value": "nobody"},
                {"field": "priority", "op": "eq", "value": 3},
            ]
        },
        "c",
    ),
]


@pytest.fixture
async def flows(door: Door, unique: str) -> dict[str, Record]:
    return await _flows(door, unique)


async def test_every_filter_op(door: Door, unique: str, flows: dict[str, Record]) -> None:
    failures = []
    for flt, expected in CASES:
        got = "".join(await _names(door, unique, flt))
        if got != expected:
            failures.append(f"{flt}: got {got!r}, expected {expected!r}")
    assert not failures, "\n".join(failures)


async def test_join_through_a_reference_field(door: Door, unique: str, flows: dict[str, Record]) -> None:
    await door.create("schedule", {"name": f"{unique}s1", "flow_id": flows["a"]["id"], "cron": "* * * * *"})
    await door.create("schedule", {"name": f"{unique}s2", "flow_id": flows["b"]["id"]})
    await door.create("schedule", {"name": f"{unique}s3"})
    listing = await door.list(
        "schedule",
        filter=_mine(unique, {"field": "flow_id--flow.id:priority", "op": "lte", "value": 2}),
        order="name",
    )
    assert [r["name"] for r in listing.items] == [f"{unique}s1", f"{unique}s2"]
    by_name = await door.list(
        "schedule", filter=_mine(unique, {"field": "flow_id--flow.id:name", "op": "eq", "value": f"{unique}b"})
    )
    assert [r["name"] for r in by_name.items] == [f"{unique}s2"]
    assert by_name.total == 1


async def test_order_multi_field_descending_and_stable_by_id(door: Door, unique: str, flows: dict[str, Record]) -> None:
    b, d = sorted(["b", "d"], key=lambda k: flows[k]["id"])  # tie on priority: id breaks it
    # MongoDB order: a missing field sorts before every number.
    assert await _names(door, unique, {"and": []}, "priority") == ["e", "a", b, d, "c"]
    assert await _names(door, unique, {"and": []}, "-priority") == ["c", b, d, "a", "e"]
    assert await _names(door, unique, {"and": []}, "priority,-max_runtime_minutes") == ["e", "a", "d", "b", "c"]
    assert await _names(door, unique, {"and": []}, "-max_runtime_minutes, name") == ["d", "b", "a", "e", "c"]
    assert await _names(door, unique, {"and": []}, "-name") == ["e", "d", "c", "b", "a"]
    by_id = sorted(FLOWS, key=lambda k: flows[k]["id"])
    assert await _names(door, unique, {"and": []}, "id") == by_id
    assert await _names(door, unique, {"and": []}, "-id") == by_id[::-1]


async def test_paging_with_limit_and_offset_keeps_the_total(door: Door, unique: str, flows: dict[str, Record]) -> None:
    pages = []
    for offset in range(0, 6, 2):
        listing = await door.list("flow", filter=_mine(unique), order="-name", limit=2, offset=offset)
        assert listing.total == 5
        pages.append([r["name"].removeprefix(unique) for r in listing.items])
    assert pages == [["e", "d"], ["c", "b"], ["a"]]
    empty = await door.list("flow", filter=_mine(unique), limit=0)
    assert empty.items == [] and empty.total == 5
    past = await door.list("flow", filter=_mine(unique), offset=50)
    assert past.items == [] and past.total == 5


async def test_list_with_chosen_fields(door: Door, unique: str, flows: dict[str, Record]) -> None:
    listing = await door.list("flow", filter=_mine(unique), fields=["name", "priority"], order="name")
    assert listing.items[0] == {"id": flows["a"]["id"], "name": f"{unique}a", "priority": 1}
    assert listing.items[4] == {"id": flows["e"]["id"], "name": f"{unique}e"}


async def test_allow_normal_and_allow_deleted(door: Door, unique: str, flows: dict[str, Record]) -> None:
    await door.delete("flow", flows["c"]["id"])

    async def names(**flags: bool) -> str:
        listing = await door.list("flow", filter=_mine(unique), order="name", **flags)
        assert listing.total == len(listing.items)
        return "".join(r["name"].removeprefix(unique) for r in listing.items)

    assert await names() == "abde"
    assert await names(allow_deleted=True) == "abcde"
    assert await names(allow_normal=False, allow_deleted=True) == "c"
    assert await names(allow_normal=False) == ""
    assert await names(allow_normal=True, allow_deleted=False) == "abde"


async def test_default_and_maximum_limit(door: Door, unique: str) -> None:
    listing = await door.list("flow", limit=1000, fields=["id"])
    assert len(listing.items) <= 1000
    with pytest.raises(DoorError) as too_many:
        await door.list("flow", limit=1001)
    assert too_many.value.code == "BAD_INPUT" and "1000" in too_many.value.message
