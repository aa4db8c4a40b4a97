"""Record proxies: ``system.setting('x')`` and friends, and their metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flow_api.errors import ResourceNotFoundError

if TYPE_CHECKING:
    from flow_api.system import System

# Activities are not unique by name: saving one by name makes a new record.
ACTIVITIES = frozenset({"execution", "message"})
METADATA_FIELDS = ("key", "data", "record_id", "created_at", "modified_at")


def _pick(data: dict[str, Any], fields: tuple[str, ...]) -> Any:
    if not fields:
        return dict(data)
    if len(fields) == 1:
        return data.get(fields[0])
    return tuple(data.get(f) for f in fields)


class Record:
    """One record, by name (``system.setting('x')``) or by id (``by='id'``).

    Nothing is sent until a method is called; every read asks Engine, so a record
    deleted meanwhile raises ``ResourceNotFoundError``.
    """

    def __init__(self, system: System, kind: str, ref: str, *, by: str = "name", allow_deleted: bool = False) -> None:
        if by not in ("name", "id"):
            raise ValueError(f"by must be 'name' or 'id', not {by!r}")
        if not isinstance(ref, str):
            raise TypeError(f"a {kind} is named by a string, not {type(ref).__name__}")
        self._system = system
        self.kind = kind
        self._id: str | None = ref if by == "id" else None
        self._name: str | None = ref.strip() if by == "name" else None
        self._allow_deleted = allow_deleted

    def __repr__(self) -> str:
        ref = f"id={self._id!r}" if self._id else f"name={self._name!r}"
        return f"<{type(self).__name__} {self.kind} {ref}>"

    # -- addressing ----------------------------------------------------------

    def _resolve_id(self) -> str:
        if self._id is None:
            assert self._name is not None
            found = self._system.client.request(
                "GET",
                f"/{self.kind}",
                params={
                    "filter": {"field": "name", "op": "eq", "value": self._name},
                    "fields": "id",
                    "limit": 1,
                    "allow_deleted": self._allow_deleted,
                },
            )
            if not found:
                raise ResourceNotFoundError(f"no {self.kind} with name {self._name!r}", status=404)
            self._id = str(found[0]["id"])
        return self._id

    def _target(self) -> tuple[str, dict[str, Any]]:
        if self._id is None and self._name is not None and "/" not in self._name:
            return f"/{self.kind}/{quote(self._name, safe='')}", {"by": "name"}
        return f"/{self.kind}/{quote(self._resolve_id(), safe='')}", {}

    def _bind(self, data: Any) -> None:
        if isinstance(data, dict) and data.get("id"):
            self._id = str(data["id"])

    @property
    def id(self) -> str:
        """The record's id (asks Engine once when the record was named)."""
        return self._resolve_id()

    # -- reading -------------------------------------------------------------

    def _read(self, fields: tuple[str, ...]) -> dict[str, Any]:
        path, params = self._target()
        if fields:
            params["fields"] = ",".join(fields)
        if self._allow_deleted:
            params["allow_deleted"] = True
        data = self._system.client.request("GET", path, params=params)
        self._bind(data)
        return dict(data)

    def get(self, *fields: str) -> Any:
        """One field's value, a tuple for several fields, or the whole record for none."""
        data = self._read(fields)
        return _pick(data, fields)

    def get_dict(self, *fields: str) -> dict[str, Any]:
        """The chosen fields (all when none are named) as a dict; unset fields are None."""
        data = self._read(fields)
        return {f: data.get(f) for f in fields} if fields else data

    def exists(self) -> bool:
        try:
            self._read(("id",))
        except ResourceNotFoundError:
            return False
        return True

    # -- writing -------------------------------------------------------------

    def save(self, **fields: Any) -> Record:
        """Create the record, or overwrite the given fields of the existing one."""
        client = self._system.client
        if self._id is None and self.kind in ACTIVITIES:
            data = client.request("POST", f"/{self.kind}", body={"name": self._name, **fields})
        elif self._id is None and self._name is not None and "/" not in self._name:
            data = client.request(
                "PUT", f"/{self.kind}/{quote(self._name, safe='')}", params={"by": "name"}, body=fields
            )
        else:
            path, params = self._target()
            data = client.request("PATCH", path, params=params, body=fields)
        self._bind(data)
        return self

    def delete(self, permanently: bool = False) -> None:
        """Move the record to the trash, or delete it for good."""
        path, params = self._target()
        if permanently:
            params["permanently"] = True
        self._bind(self._system.client.request("DELETE", path, params=params))

    def restore(self) -> Record:
        """Take the record out of the trash."""
        if self._id is None:
            self._allow_deleted = True
        path, params = self._target()
        self._bind(self._system.client.request("POST", path + "/restore", params=params))
        self._allow_deleted = False
        return self

    # -- metadata ------------------------------------------------------------

    def add_record_metadata(self, key: str, data: Any = None) -> Metadata:
        """Attach ``data`` under ``key`` to this record."""
        entry = Metadata(self._system, self.kind, self.id, key)
        return entry.save(data=data)

    def record_metadata_list(self) -> list[Metadata]:
        """This record's metadata entries, oldest first."""
        found = self._system.client.request("GET", f"/{self.kind}/{quote(self.id, safe='')}/metadata")
        return [Metadata(self._system, self.kind, self.id, str(m["key"]), entry=m) for m in found]

    def metadata(self, key: str) -> Metadata:
        """The metadata entry under ``key`` (read, changed or deleted with its methods)."""
        return Metadata(self._system, self.kind, self.id, key)


class Metadata:
    """One metadata entry of a record: ``key`` and JSON ``data``."""

    def __init__(
        self, system: System, kind: str, record_id: str, key: str, *, entry: dict[str, Any] | None = None
    ) -> None:
        self._system = system
        self.kind = kind
        self.record_id = record_id
        self.key = key
        self._entry = entry

    def __repr__(self) -> str:
        return f"<Metadata {self.kind} {self.record_id} {self.key!r}>"

    def _path(self, record_id: str | None = None) -> str:
        return f"/{self.kind}/{quote(record_id or self.record_id, safe='')}/metadata/{quote(self.key, safe='')}"

    def _data(self) -> dict[str, Any]:
        if self._entry is None:
            self._entry = dict(self._system.client.request("GET", self._path()))
        return self._entry

    def get(self, *fields: str) -> Any:
        """``get('data')``, ``get('key', 'data')``, or the whole entry."""
        return _pick(self._data(), fields)

    def get_dict(self, *fields: str) -> dict[str, Any]:
        data = self._data()
        return {f: data.get(f) for f in fields or METADATA_FIELDS}

    def save(self, data: Any = None, record_id: str | None = None) -> Metadata:
        """Set the entry's data (on ``record_id`` when given, a record of the same kind)."""
        if record_id is not None:
            self.record_id = record_id
        self._entry = dict(self._system.client.request("PUT", self._path(), body={"data": data}))
        return self

    def delete(self) -> None:
        self._system.client.request("DELETE", self._path())
        self._entry = None
