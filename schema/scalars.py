"""Scalars: ``DateTime`` (UTC, ISO 8601 text as Engine stores it) and ``JSON``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NewType

import strawberry
from strawberry.scalars import JSON

from app.records.errors import InvalidInputError
from app.records.values import format_time, parse_time


def _parse_datetime(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"DateTime must be ISO 8601 text, not {value!r:.80}")
    try:
        return format_time(parse_time(value.strip()))
    except ValueError:
        raise InvalidInputError(f"DateTime must be ISO 8601 text, not {value!r:.80}") from None


if TYPE_CHECKING:
    DateTime = str
else:
    DateTime = strawberry.scalar(
        NewType("DateTime", str),
        description="A moment in UTC as ISO 8601 text, e.g. 2026-01-31T12:00:00.000000Z.",
        serialize=str,
        parse_value=_parse_datetime,
    )

__all__ = ["JSON", "DateTime"]
