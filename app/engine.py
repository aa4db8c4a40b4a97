"""The long-lived parts of one Engine process, owned by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from app.auth.passwords import hash_password
from app.auth.tokens import Auth
from app.auth.users import Bootstrap, ensure_admin
from app.config import Settings
from app.records.service import Records
from app.store.base import Store

log = logging.getLogger("engine")


def open_store(settings: Settings) -> Store:
    if settings.mongodb_uri:
        from app.store.mongo import MongoStore

        return MongoStore(settings.mongodb_uri, settings.mongodb_database)
    from app.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)


@dataclass
class Engine:
    settings: Settings
    store: Store
    records: Records
    auth: Auth
    bootstrap: Bootstrap | None = None
    services: dict[str, Any] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings) -> Engine:
        store = open_store(settings)
        await store.start()
        records = Records(
            store, hash_password=hash_password, trash_retention=timedelta(days=settings.trash_retention_days)
        )
        await records.setup()
        auth = Auth(records, token_ttl=timedelta(hours=settings.token_ttl_hours))
        await auth.setup()
        engine = cls(settings, store, records, auth)
        engine.bootstrap = await ensure_admin(records, settings.admin_user, settings.admin_password)
        if engine.bootstrap and engine.bootstrap.generated_password:
            # Printed once, on the first start only: there is no other way to learn it.
            print(
                f"Engine created the admin user {engine.bootstrap.user_name!r} "
                f"with the password: {engine.bootstrap.generated_password}",
                flush=True,
            )
        engine._tasks.append(asyncio.create_task(engine._sweep()))
        return engine

    async def _sweep(self) -> None:
        while True:
            try:
                purged = await self.records.purge_trash()
                await self.auth.purge_expired()
                if purged:
                    log.info("purged %d records from the trash", purged)
            except Exception:  # the sweep must outlive a passing store error
                log.exception("trash sweep failed")
            await asyncio.sleep(self.settings.sweep_interval_seconds)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for service in reversed(list(self.services.values())):
            stop = getattr(service, "stop", None)
            if stop is not None:
                await stop()
        await self.store.close()
