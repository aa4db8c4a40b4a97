"""The records contract: the trash round trip and record metadata."""

from __future__ import annotations

import pytest

from tests.doors import Door, DoorError


async def _refused(code: str, attempt: object) -> DoorError:
    with pytest.raises(DoorError) as refused:
        await attempt  # type: ignore[misc]
    assert refused.value.code == code, refused.value
    return refused.value


async def test_trash_round_trip(door: Door, unique: str) -> None:
    name = f"{unique}trash"
    made = await door.create("setting", {"name": name, "value": 1})
    trashed = await door.delete("setting", made["id"])
    assert trashed["deleted_at"] >= made["created_at"]
    assert trashed["deleted_by"] == made["created_by"]
    # Hidden from reads and listings...
    await _refused("NOT_FOUND", door.get("setting", made["id"]))
    await _refused("NOT_FOUND", door.get("setting", name, by="name"))
    assert (await door.list("setting", filter={"field": "name", "op": "eq", "value": name})).items == []
    # ...but there when asked for.
    assert (await door.get("setting", made["id"], allow_deleted=True))["deleted_at"] == trashed["deleted_at"]
    restored = await door.restore("setting", made["id"])
    assert restored["id"] == made["id"] and restored["value"] == 1
    assert "deleted_at" not in restored and "deleted_by" not in restored
    assert (await door.get("setting", name, by="name"))["id"] == made["id"]
    await _refused("CONFLICT", door.restore("setting", made["id"]))


async def test_trashed_records_are_read_only(door: Door, unique: str) -> None:
    made = await door.create("tag", {"name": f"{unique}t", "color": "red"})
    await door.delete("tag", made["id"])
    await _refused("READ_ONLY", door.update("tag", made["id"], {"color": "blue"}))
    await _refused("READ_ONLY", door.metadata_set("tag", made["id"], "k", 1))
    await _refused("CONFLICT", door.delete("tag", made["id"]))
    # Saving the name makes a new live record; the trashed one is untouched.
    fresh, created = await door.save("tag", f"{unique}t", {"color": "green"})
    assert created is True and fresh["id"] != made["id"]
    assert (await door.get("tag", made["id"], allow_deleted=True))["color"] == "red"


async def test_restore_is_refused_when_a_live_record_took_the_name(door: Door, unique: str) -> None:
    name = f"{unique}taken"
    old = await door.create("setting", {"name": name, "value": "old"})
    await door.delete("setting", old["id"])
    new = await door.create("setting", {"name": name, "value": "new"})
    error = await _refused("CONFLICT", door.restore("setting", old["id"]))
    assert name in error.message
    assert (await door.get("setting", name, by="name"))["id"] == new["id"]
    await door.delete("setting", new["id"], permanently=True)
    assert (await door.restore("setting", old["id"]))["value"] == "old"


async def test_delete_permanently(door: Door, unique: str) -> None:
    live = await door.create("setting", {"name": f"{unique}live"})
    trashed = await door.create("setting", {"name": f"{unique}trashed"})
    await door.delete("setting", trashed["id"])
    for made in (live, trashed):
        gone = await door.delete("setting", made["id"], permanently=True)
        assert gone["id"] == made["id"]
        await _refused("NOT_FOUND", door.get("setting", made["id"], allow_deleted=True))
        await _refused("NOT_FOUND", door.restore("setting", made["id"]))
        await _refused("NOT_FOUND", door.delete("setting", made["id"], permanently=True))


async def test_delete_by_name(door: Door, unique: str) -> None:
    made = await door.create("tag", {"name": f"{unique}n"})
    assert (await door.delete("tag", f"{unique}n", by="name"))["id"] == made["id"]
    await _refused("NOT_FOUND", door.get("tag", f"{unique}n", by="name"))


async def test_metadata_add_list_change_delete(door: Door, unique: str) -> None:
    record = await door.create("execution", {"name": f"{unique}e"})
    assert await door.metadata_list("execution", record["id"]) == []
    entry, created = await door.metadata_set("execution", record["id"], "environment", "test")
    assert created is True and entry["key"] == "environment" and entry["data"] == "test"
    about = {"author": "my-user", "initial_created_at": "2000-01-01T12:00:00", "n": [1, 2.5, None, True]}
    await door.metadata_set("execution", record["id"], "about", about)
    listed = await door.metadata_list("execution", record["id"])
    assert [(m["key"], m["data"]) for m in listed] == [("environment", "test"), ("about", about)]
    changed, created = await door.metadata_set("execution", record["id"], "environment", "prod")
    assert created is False and changed["data"] == "prod"
    listed = await door.metadata_list("execution", record["id"])
    assert [(m["key"], m["data"]) for m in listed] == [("environment", "prod"), ("about", about)]
    await door.metadata_delete("execution", record["id"], "environment")
    assert [m["key"] for m in await door.metadata_list("execution", record["id"])] == ["about"]
    await _refused("NOT_FOUND", door.metadata_delete("execution", record["id"], "environment"))


async def test_metadata_is_per_record_and_goes_with_permanent_deletion(door: Door, unique: str) -> None:
    one = await door.create("setting", {"name": f"{unique}one"})
    two = await door.create("setting", {"name": f"{unique}two"})
    await door.metadata_set("setting", one["id"], "k", {"of": "one"})
    await door.metadata_set("setting", two["id"], "k", {"of": "two"})
    assert [m["data"] for m in await door.metadata_list("setting", one["id"])] == [{"of": "one"}]
    await door.delete("setting", one["id"])
    # Still readable in the trash, gone for good after permanent deletion.
    assert [m["data"] for m in await door.metadata_list("setting", one["id"])] == [{"of": "one"}]
    await door.delete("setting", one["id"], permanently=True)
    await _refused("NOT_FOUND", door.metadata_list("setting", one["id"]))
    assert [m["data"] for m in await door.metadata_list("setting", two["id"])] == [{"of": "two"}]


async def test_metadata_bad_input(door: Door, unique: str) -> None:
    record = await door.create("setting", {"name": f"{unique}m"})
    await _refused("BAD_INPUT", door.metadata_set("setting", record["id"], "k", {"$where": "1"}))
    await _refused("BAD_INPUT", door.metadata_set("setting", record["id"], "k", {"a": {"$gt": 1}}))
    await _refused("BAD_INPUT", door.metadata_set("setting", record["id"], "$k", 1))
    await _refused("BAD_INPUT", door.metadata_set("setting", record["id"], "k" * 300, 1))
    await _refused("NOT_FOUND", door.metadata_set("setting", "00000000-0000-4000-8000-000000000000", "k", 1))
    assert await door.metadata_list("setting", record["id"]) == []
