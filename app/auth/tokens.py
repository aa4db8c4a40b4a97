"""Login, logout and tokens: random, stored as SHA-256 hashes, revocable."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.auth.passwords import verify_password
from app.records.errors import AuthenticationError, TooManyAttemptsError
from app.records.kinds import KINDS
from app.records.permissions import Permission, Principal
from app.records.service import LIVE, Records, render
from app.records.values import format_time, new_id, now, parse_time
from app.store.base import Change, Doc
from app.store.tree import And, Compare, IndexSpec, Op, Query

TOKENS = "token"
COOKIE = "engine_token"
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=5)
# How long a resolved token is trusted without asking the store again: it saves two
# round trips on every request. Changes made through this process (logout, a user
# deactivated, a role edited) drop the cache at once; other Engine processes sharing
# the store see them within this time.
PRINCIPAL_CACHE_SECONDS = 2.0
_MAX_CACHED = 10_000
_AUTH_COLLECTIONS = frozenset({TOKENS, "user", "role"})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Login:
    token: str
    user: Doc
    expires_at: str


class Auth:
    def __init__(self, records: Records, *, token_ttl: timedelta = timedelta(hours=12)) -> None:
        self.records = records
        self.store = records.store
        self.token_ttl = token_ttl
        # token hash -> (monotonic deadline, token expiry, principal)
        self._cache: dict[str, tuple[float, str, Principal]] = {}
        self._generation = 0
        self.store.changes.listen(self._forget)

    def _forget(self, change: Change) -> None:
        if change.collection in _AUTH_COLLECTIONS:
            self._generation += 1
            self._cache.clear()

    async def setup(self) -> None:
        await self.store.ensure_collection(
            TOKENS,
            [
                IndexSpec("hash", (("token_hash", False),), unique=True),
                IndexSpec("execution", (("execution_id", False),)),
                IndexSpec("expires_at", (("expires_at", False),)),
            ],
        )

    async def _user_by_name(self, name: str) -> Doc | None:
        docs = await self.store.find("user", Query(And((Compare("name", Op.EQ, name.strip()), LIVE)), None, (), 0, 1))
        return docs[0] if docs else None

    async def login(self, user_name: Any, password: Any) -> Login:
        if not isinstance(user_name, str) or not isinstance(password, str) or not user_name.strip():
            raise AuthenticationError("user_name and password must be non-empty strings")
        user = await self._user_by_name(user_name)
        if user is None:
            raise AuthenticationError("wrong user name or password")
        locked = user.get("locked_until")
        if locked and parse_time(locked) > datetime.now(UTC):
            raise TooManyAttemptsError(f"too many failed logins; try again after {locked}")
        if user.get("is_active") is False or not user.get("password_hash"):
            raise AuthenticationError("wrong user name or password")
        if not await verify_password(user["password_hash"], password):
            failed = int(user.get("failed_logins", 0)) + 1
            update: Doc = {"failed_logins": failed}
            if failed >= MAX_FAILED_LOGINS:
                update = {"failed_logins": 0, "locked_until": format_time(datetime.now(UTC) + LOCKOUT)}
            await self.store.find_one_and_update("user", Compare("id", Op.EQ, user["id"]), update)
            raise AuthenticationError("wrong user name or password")
        if user.get("failed_logins") or user.get("locked_until"):
            await self.store.find_one_and_update(
                "user", Compare("id", Op.EQ, user["id"]), None, ["failed_logins", "locked_until"]
            )
        token, expires = await self.issue(user["id"])
        return Login(token, render(KINDS["user"], user), expires)

    async def issue(
        self, user_id: str, *, execution_id: str | None = None, ttl: timedelta | None = None
    ) -> tuple[str, str]:
        """A new token for the user (scoped to an execution when ``execution_id`` is set)."""
        token = secrets.token_urlsafe(32)
        expires = format_time(datetime.now(UTC) + (ttl or self.token_ttl))
        doc: Doc = {
            "id": new_id(),
            "token_hash": token_hash(token),
            "user_id": user_id,
            "created_at": now(),
            "expires_at": expires,
        }
        if execution_id:
            doc["execution_id"] = execution_id
        await self.store.insert(TOKENS, doc)
        return token, expires

    async def revoke(self, token: str) -> None:
        await self.store.delete_many(TOKENS, Compare("token_hash", Op.EQ, token_hash(token)))

    async def revoke_execution(self, execution_id: str) -> None:
        await self.store.delete_many(TOKENS, Compare("execution_id", Op.EQ, execution_id))

    async def purge_expired(self) -> int:
        return await self.store.delete_many(TOKENS, Compare("expires_at", Op.LT, now()))

    async def principal(self, token: str | None) -> Principal:
        """The principal a token stands for, or AuthenticationError."""
        if not token:
            raise AuthenticationError("sign in first: send Authorization: Bearer <token> or the login cookie")
        hashed = token_hash(token)
        cached = self._cache.get(hashed)
        if cached is not None and cached[0] > time.monotonic() and cached[1] > now():
            return cached[2]
        generation = self._generation
        found = await self.store.find(TOKENS, Query(Compare("token_hash", Op.EQ, hashed), None, (), 0, 1))
        if not found or found[0]["expires_at"] <= now():
            raise AuthenticationError("the token is unknown, revoked or expired; sign in again")
        entry = found[0]
        users = await self.store.find(
            "user", Query(And((Compare("id", Op.EQ, entry["user_id"]), LIVE)), None, (), 0, 1)
        )
        if not users or users[0].get("is_active") is False:
            raise AuthenticationError("the token's user no longer exists or is inactive")
        principal = await self.principal_for(users[0], execution_id=entry.get("execution_id"), token_id=entry["id"])
        # Not if a change came in meanwhile: what was read may be stale already.
        if generation == self._generation:
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[hashed] = (time.monotonic() + PRINCIPAL_CACHE_SECONDS, entry["expires_at"], principal)
        return principal

    async def principal_for(
        self, user: Doc, *, execution_id: str | None = None, token_id: str | None = None
    ) -> Principal:
        permissions: list[Permission] = []
        role_ids = [r for r in user.get("role_ids") or [] if isinstance(r, str)]
        if role_ids and not user.get("is_admin"):
            roles = await self.store.find("role", Query(And((Compare("id", Op.IN, tuple(role_ids)), LIVE))))
            for role in roles:
                for perm in role.get("permissions") or []:
                    if isinstance(perm, dict):
                        permissions.append(
                            Permission(
                                str(perm.get("kind", "*")),
                                str(perm.get("operation", "*")),
                                str(perm["project_id"]) if perm.get("project_id") else None,
                            )
                        )
        return Principal(
            user_id=user["id"],
            user_name=user.get("name", ""),
            is_admin=bool(user.get("is_admin")),
            permissions=tuple(permissions),
            execution_id=execution_id,
            token_id=token_id,
        )
