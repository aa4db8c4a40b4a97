"""Who may do what: the one authorization function of Engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.records.errors import PermissionDenied
from app.store.tree import Compare, Node, Op


class Operation(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXECUTE = "execute"


@dataclass(frozen=True)
class Permission:
    kind: str = "*"
    operation: str = "*"
    project_id: str | None = None

    def covers(self, kind: str, operation: Operation) -> bool:
        return self.kind in ("*", kind) and self.operation in ("*", operation.value)


@dataclass(frozen=True)
class Principal:
    """The identity an operation runs as."""

    user_id: str | None
    user_name: str
    is_admin: bool = False
    permissions: tuple[Permission, ...] = ()
    execution_id: str | None = None  # set for a flow script's scoped token
    token_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


SYSTEM = Principal(user_id=None, user_name="engine", is_admin=True)


def authorize(principal: Principal, kind: str, operation: Operation, record: dict[str, Any] | None = None) -> None:
    """Allow or raise PermissionDenied for ``operation`` on ``kind`` (and ``record``)."""
    if principal.is_admin:
        return
    if kind == "user" and operation is Operation.READ and record is not None and record.get("id") == principal.user_id:
        return
    project = record.get("project_id") if record is not None else None
    for perm in principal.permissions:
        if perm.covers(kind, operation) and (perm.project_id is None or record is None or perm.project_id == project):
            return
    raise PermissionDenied(f"{principal.user_name} may not {operation.value} {kind} records")


def read_scope(principal: Principal, kind: str) -> Node | None:
    """A filter limiting listings to what ``principal`` may read; None for everything."""
    if principal.is_admin:
        return None
    projects: list[str] = []
    for perm in principal.permissions:
        if perm.covers(kind, Operation.READ):
            if perm.project_id is None:
                return None
            projects.append(perm.project_id)
    if kind == "user" and principal.user_id and not projects:
        return Compare("id", Op.EQ, principal.user_id)
    if not projects:
        raise PermissionDenied(f"{principal.user_name} may not read {kind} records")
    return Compare("project_id", Op.IN, tuple(projects))
