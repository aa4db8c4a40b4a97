"""Scalars: ``DateTime`` (UTC, ISO 8601 text as Engine stores it) and ``JSON``."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from app.records.errors import InvalidInputError
from app.records.values import format_time, parse_time


def _parse_datetime(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"DateTime must be ISO 8601 text, not {value!r:.80}")
    try:
        return format_time(parse_time(value.strip()))
    except ValueError:
        raise InvalidInputError(f"DateTime must be ISO 8601 text, not {value!r:.80}") from None


DateTime = NewType("DateTime", str)

# Handed to the schema's config (strawberry's scalar_map).
SCALARS: dict[object, ScalarDefinition] = {
    DateTime: strawberry.scalar(
        name="DateTime",
        description="A moment in UTC as ISO 8601 text, e.g. 2026-01-31T12:00:00.000000Z.",
        serialize=str,
        parse_value=_parse_datetime,
    )
}

__all__ = ["JSON", "SCALARS", "DateTime"]
