"""The records contract: create, save, read, update, names, read-only, files."""

from __future__ import annotations

import base64

import pytest

from tests.doors import Door, DoorError


async def test_create_returns_the_record_with_engine_fields(door: Door, unique: str) -> None:
    record = await door.create("setting", {"name": f"{unique}s", "value": {"a": [1, 2]}, "description": "d"})
    assert record["name"] == f"{unique}s"
    assert record["value"] == {"a": [1, 2]}
    assert len(record["id"]) == 36
    assert record["created_at"].endswith("Z") and record["modified_at"] >= record["created_at"]
    assert record["created_by"] == record["modified_by"]
    assert "alive" not in record and "deleted_at" not in record
    assert await door.get("setting", record["id"]) == record


async def test_save_creates_then_overwrites_given_fields(door: Door, unique: str) -> None:
    first, created = await door.save("setting", f"{unique}s", {"value": 1, "description": "one"})
    assert created is True
    second, created = await door.save("setting", f"{unique}s", {"value": 2})
    assert created is False
    assert second["id"] == first["id"]
    assert second["value"] == 2
    assert second["description"] == "one"  # fields not given are kept
    assert second["modified_at"] >= first["modified_at"]
    listing = await door.list("setting", filter={"field": "name", "op": "eq", "value": f"{unique}s"})
    assert [r["id"] for r in listing.items] == [first["id"]]


async def test_read_by_id_and_by_name_with_chosen_fields(door: Door, unique: str) -> None:
    made = await door.create("tag", {"name": f"{unique}t", "color": "red", "description": "x"})
    assert await door.get("tag", f"{unique}t", by="name") == made
    assert await door.get("tag", made["id"], fields=["color"]) == {"id": made["id"], "color": "red"}
    assert await door.get("tag", f"{unique}t", by="name", fields=["name", "description"]) == {
        "id": made["id"],
        "name": f"{unique}t",
        "description": "x",
    }


async def test_read_missing_record_is_not_found(door: Door, unique: str) -> None:
    with pytest.raises(DoorError) as by_name:
        await door.get("tag", f"{unique}nothing", by="name")
    assert by_name.value.code == "NOT_FOUND"
    assert f"{unique}nothing" in by_name.value.message
    with pytest.raises(DoorError) as by_id:
        await door.get("tag", "00000000-0000-4000-8000-000000000000")
    assert by_id.value.code == "NOT_FOUND"
    with pytest.raises(DoorError) as not_an_id:
        await door.get("tag", "not-a-uuid")
    assert not_an_id.value.code == "NOT_FOUND"


async def test_update_patches_only_given_fields_and_unsets_null(door: Door, unique: str) -> None:
    made = await door.create("flow", {"name": f"{unique}f", "script": "pass", "priority": 3, "description": "d"})
    updated = await door.update("flow", made["id"], {"priority": 5, "description": None})
    assert updated["priority"] == 5
    assert updated["script"] == "pass"
    assert "description" not in updated
    by_name = await door.update("flow", f"{unique}f", {"script": "x = 1"}, by="name")
    assert by_name["id"] == made["id"] and by_name["script"] == "x = 1" and by_name["priority"] == 5
    assert await door.get("flow", made["id"]) == by_name


async def test_update_can_rename_but_not_onto_a_taken_name(door: Door, unique: str) -> None:
    a = await door.create("tag", {"name": f"{unique}a"})
    await door.create("tag", {"name": f"{unique}b"})
    renamed = await door.update("tag", a["id"], {"name": f"  {unique}c "})
    assert renamed["name"] == f"{unique}c"
    with pytest.raises(DoorError) as taken:
        await door.update("tag", a["id"], {"name": f"{unique}b"})
    assert taken.value.code == "CONFLICT"


async def test_names_are_trimmed_everywhere(door: Door, unique: str) -> None:
    made = await door.create("setting", {"name": f"  {unique}padded\t ", "value": 1})
    assert made["name"] == f"{unique}padded"
    assert (await door.get("setting", f"{unique}padded", by="name"))["id"] == made["id"]
    assert (await door.get("setting", f" {unique}padded  ", by="name"))["id"] == made["id"]
    saved, created = await door.save("setting", f" {unique}padded ", {"value": 2})
    assert created is False and saved["id"] == made["id"] and saved["name"] == f"{unique}padded"
    with pytest.raises(DoorError) as blank:
        await door.create("setting", {"name": "   "})
    assert blank.value.code == "BAD_INPUT"


async def test_names_are_unique_per_kind_among_live_records(door: Door, unique: str) -> None:
    first = await door.create("setting", {"name": f"{unique}same"})
    with pytest.raises(DoorError) as again:
        await door.create("setting", {"name": f"{unique}same"})
    assert again.value.code == "CONFLICT"
    assert f"{unique}same" in again.value.message
    with pytest.raises(DoorError) as padded:
        await door.create("setting", {"name": f" {unique}same "})
    assert padded.value.code == "CONFLICT"
    # Another kind may use the name; a trashed record does not hold it.
    assert (await door.create("tag", {"name": f"{unique}same"}))["name"] == f"{unique}same"
    await door.delete("setting", first["id"])
    second = await door.create("setting", {"name": f"{unique}same"})
    assert second["id"] != first["id"]


async def test_activities_may_share_names(door: Door, unique: str) -> None:
    one = await door.create("message", {"name": f"{unique}m", "text": "first"})
    two = await door.create("message", {"name": f"{unique}m", "text": "second"})
    assert one["id"] != two["id"]
    listing = await door.list("message", filter={"field": "name", "op": "eq", "value": f"{unique}m"}, order="text")
    assert [r["text"] for r in listing.items] == ["first", "second"]
    assert listing.total == 2
    runs = [await door.create("execution", {"name": f"{unique}e"}) for _ in range(2)]
    assert runs[0]["id"] != runs[1]["id"]


async def test_read_only_records_refuse_changes_until_cleared(door: Door, unique: str) -> None:
    made, _ = await door.save("setting", f"{unique}ro", {"value": 1, "is_readonly": True})
    assert made["is_readonly"] is True
    for attempt in (
        door.save("setting", f"{unique}ro", {"value": 2}),
        door.update("setting", made["id"], {"value": 2}),
        door.update("setting", made["id"], {"value": 2, "is_readonly": False}),
        door.delete("setting", made["id"]),
        door.delete("setting", made["id"], permanently=True),
    ):
        with pytest.raises(DoorError) as refused:
            await attempt
        assert refused.value.code == "READ_ONLY"
        assert "read-only" in refused.value.message
    assert (await door.get("setting", made["id"]))["value"] == 1
    cleared = await door.update("setting", made["id"], {"is_readonly": False})
    assert cleared["is_readonly"] is False
    saved, created = await door.save("setting", f"{unique}ro", {"value": 3})
    assert created is False and saved["value"] == 3
    await door.delete("setting", made["id"])


async def test_engine_set_fields_cannot_be_written(door: Door, unique: str) -> None:
    for fields in ({"created_at": "2020-01-01T00:00:00Z"}, {"modified_by": "00000000-0000-4000-8000-000000000000"}):
        with pytest.raises(DoorError) as refused:
            await door.create("tag", {"name": f"{unique}x", **fields})
        assert refused.value.code == "BAD_INPUT"
        assert next(iter(fields)) in refused.value.message


async def test_files_hold_base64_content_and_its_size(door: Door, unique: str) -> None:
    content = bytes(range(256)) + "ünïcode".encode()
    encoded = base64.b64encode(content).decode()
    made = await door.create("file", {"name": f"{unique}f.bin", "content": encoded, "mime_type": "application/x"})
    assert made["content_size_bytes"] == len(content)
    got = await door.get("file", made["id"])
    assert base64.b64decode(got["content"]) == content
    smaller = await door.update("file", made["id"], {"content": base64.b64encode(b"abc").decode()})
    assert smaller["content_size_bytes"] == 3
    with pytest.raises(DoorError) as refused:
        await door.update("file", made["id"], {"content_size_bytes": 1})
    assert refused.value.code == "BAD_INPUT"
    with pytest.raises(DoorError) as bad:
        await door.create("file", {"name": f"{unique}g", "content": "not base64!"})
    assert bad.value.code == "BAD_INPUT" and "base64" in bad.value.message


async def test_names_with_slashes_work_everywhere(door: Door, unique: str) -> None:
    # Ops teams name things like paths; a "/" in a name must not lose the record.
    name = f"{unique}team/a/b"
    made, created = await door.save("setting", name, {"value": 1})
    assert created and made["name"] == name
    await door.save("setting", name, {"value": 2})
    assert (await door.get("setting", name, by="name"))["value"] == 2
    await door.metadata_set("setting", made["id"], "k/1", {"x": 1})
    assert [m["key"] for m in await door.metadata_list("setting", made["id"])] == ["k/1"]
    await door.delete("setting", made["id"])
    await door.restore("setting", made["id"])
    assert (await door.get("setting", made["id"]))["name"] == name
