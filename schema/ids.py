"""Global ids: ``base64("<Type>:<uuid>")``, e.g. ``Flow:6f1c...``, as Relay's ``Node.id``.

Every record also shows its plain UUID as ``uuid``; arguments that name one kind
(``flow(id:)``, ``updateFlow(id:)``) take either form, arguments that may name any
kind (``node``, ``deleteRecord``, ``setMetadata``) need the global id.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from app.records.errors import InvalidInputError, ResourceNotFoundError
from app.records.kinds import KINDS


def type_name(kind: str) -> str:
    """``custom_object`` -> ``CustomObject``."""
    return "".join(part.capitalize() for part in kind.split("_"))


KIND_OF_TYPE = {type_name(k): k for k in KINDS}


def to_global(kind: str, record_id: str) -> str:
    return base64.b64encode(f"{type_name(kind)}:{record_id}".encode()).decode()


def from_global(value: str) -> tuple[str, str]:
    """The (kind, uuid) a global id stands for; BAD_INPUT when it is none."""
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInputError(f"{value!r:.80} is not a global id (base64 of '<Type>:<uuid>')") from None
    type_, _, raw = text.partition(":")
    kind = KIND_OF_TYPE.get(type_)
    if kind is None:
        raise InvalidInputError(f"global id {value!r:.80} names no record type ({type_!r:.40})")
    try:
        return kind, str(uuid.UUID(raw))
    except ValueError:
        raise ResourceNotFoundError(f"no {kind} with id {raw!r:.80}") from None


def record_id(kind: str, value: str) -> str:
    """The UUID of a record of ``kind`` given its UUID or its global id."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        pass
    try:
        found, raw = from_global(value)
    except InvalidInputError:
        raise ResourceNotFoundError(f"no {kind} with id {value!r:.80}") from None
    if found != kind:
        raise ResourceNotFoundError(f"id {value!r:.80} is a {found}, not a {kind}")
    return raw
