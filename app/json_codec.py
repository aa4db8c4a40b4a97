"""JSON text in and out: orjson where it gives what the standard library gives, which is
everything Engine stores and sends (``app.records.values.check_json`` admits only
64-bit integers, finite numbers and valid Unicode); the standard library for the rest.

orjson reads and writes JSON some 4-10x faster than the ``json`` module, and both the
embedded store (a document per row) and the answers (a page of records) are JSON
throughout.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(text: str | bytes) -> Any:
    """``json.loads``; what orjson refuses (NaN, lone surrogates, huge numbers) goes to the standard library."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; what orjson will not write (integers beyond 64 bits, keys that are not
    text, lone surrogates) goes to the standard library, in the same compact form."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def dumps_text(value: Any) -> str:
    return dumps(value).decode("utf-8")


__all__ = ["dumps", "dumps_text", "loads"]
