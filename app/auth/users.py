"""Creating users, and the first admin at first start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from app.records.permissions import SYSTEM
from app.records.service import Records
from app.store.tree import Compare, Op


@dataclass(frozen=True)
class Bootstrap:
    user_name: str
    generated_password: str | None  # set when Engine made the password up


async def create_user(records: Records, name: str, password: str, *, is_admin: bool = False) -> dict[str, object]:
    return await records.create(
        SYSTEM, "user", {"name": name, "password": password, "is_admin": is_admin, "is_active": True}
    )


async def ensure_admin(records: Records, user_name: str | None, password: str | None) -> Bootstrap | None:
    """With no users at all, create the admin; returns what was done, or None."""
    if await records.store.count("user", Compare("id", Op.SET)):
        return None
    name = (user_name or "admin").strip() or "admin"
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(18)
    await create_user(records, name, password, is_admin=True)
    return Bootstrap(name, generated)
