"""Checking and normalising field values against their declared types."""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from app.records.errors import InvalidInputError
from app.records.kinds import Field, FieldType

MAX_JSON_DEPTH = 64
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def now() -> str:
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def check_text(value: str, where: str) -> str:
    """``value``, if it can be stored and sent back: JSON's \\ud800-style escapes can
    smuggle in lone surrogates, which no UTF-8 encoder (SQLite, BSON, a response) takes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{where} is not valid Unicode text (it holds a lone surrogate)") from None
    return value


def check_json(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what is not plain JSON, and keys that MongoDB would read as operators."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidInputError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise InvalidInputError(f"{where}: integers must fit in 64 bits")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{where}: object keys must be strings")
            check_text(key, where)
            if key.startswith("$"):
                raise InvalidInputError(f"{where}: keys starting with '$' are not allowed ({key!r})")
            if "\x00" in key:
                raise InvalidInputError(f"{where}: keys must not contain NUL characters")
            check_json(item, where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, where, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"{where}: numbers must be finite")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise InvalidInputError(f"{where}: not a JSON value")


def coerce(field: Field, value: Any, where: str | None = None) -> Any:
    """``value`` as stored for ``field``, or InvalidInputError naming the problem."""
    where = where or f"field {field.name!r}"
    t = field.type
    if t is FieldType.JSON:
        check_json(value, where)
        return value
    if t is FieldType.STRING:
        if isinstance(value, str):
            return check_text(value, where)
        raise InvalidInputError(f"{where} must be a string, not {_name(value)}")
    if t is FieldType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidInputError(f"{where} must be true or false, not {_name(value)}")
    if t is FieldType.INT:
        whole: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            whole = value
        elif isinstance(value, float) and value.is_integer():
            whole = int(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                whole = int(value.strip())
        if whole is None:
            raise InvalidInputError(f"{where} must be an integer, not {_name(value)}")
        # Integers are 32-bit, as GraphQL's Int is, so every door can read back what any door wrote.
        if not INT_MIN <= whole <= INT_MAX:
            raise InvalidInputError(f"{where} is out of range: integers lie between {INT_MIN} and {INT_MAX}")
        return whole
    if t is FieldType.FLOAT:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidInputError(f"{where} must be a finite number")
            if isinstance(value, int) and abs(value) >= 2**63:
                raise InvalidInputError(f"{where} is out of range")
            return value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return number
        raise InvalidInputError(f"{where} must be a number, not {_name(value)}")
    if t is FieldType.DATETIME:
        if isinstance(value, datetime):
            return format_time(value)
        if isinstance(value, str):
            try:
                return format_time(parse_time(value.strip()))
            except (ValueError, OverflowError):  # OverflowError: out of range once in UTC
                pass
        raise InvalidInputError(f"{where} must be an ISO 8601 date and time, not {value!r:.80}")
    if t is FieldType.ID:
        if isinstance(value, str):
            try:
                return str(uuid.UUID(value.strip()))
            except ValueError:
                pass
        raise InvalidInputError(f"{where} must be a UUID, not {value!r:.80}")
    if t is FieldType.BYTES:
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode()
        if isinstance(value, str):
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidInputError(f"{where} must be base64-encoded bytes") from None
            return value
        raise InvalidInputError(f"{where} must be base64-encoded bytes, not {_name(value)}")
    raise AssertionError(t)


def _name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )
