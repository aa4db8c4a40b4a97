"""Settings, from ENGINE_* environment variables (and plain MONGODB_URI)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENGINE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    mongodb_uri: str | None = Field(default=None, validation_alias=AliasChoices("MONGODB_URI", "ENGINE_MONGODB_URI"))
    mongodb_database: str = "engine"
    admin_user: str | None = None
    admin_password: str | None = None
    token_ttl_hours: float = 12.0
    trash_retention_days: float = 30.0
    sweep_interval_seconds: float = 3600.0
    max_body_bytes: int = 16 * 1024 * 1024
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1)
    graphql_introspection: bool = True
    graphql_max_depth: int = 12
    graphql_max_tokens: int = 5000
    graphql_max_aliases: int = 30
    graphql_compiled: bool = True  # plain fields completed by schema.execution's compiled steps
    public_url: str | None = None  # how flow scripts reach this Engine; defaults to host:port

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "engine.db"
