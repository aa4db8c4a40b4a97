"""Domain errors as GraphQL errors: ``extensions.code`` from ``EngineError.code``.

Errors of the document itself (syntax, unknown fields, wrong variable types, limits)
keep graphql-core's message and get Engine's code for bad input, ``BAD_INPUT``;
anything unexpected is logged and shown as ``INTERNAL`` without its details.
"""

from __future__ import annotations

import logging
import re

import strawberry
from graphql import GraphQLError
from strawberry.types.execution import ExecutionContext

from app.records.errors import EngineError

log = logging.getLogger("engine.graphql")
_FIELD = re.compile(r"field '(\w+)'")
_AT_PATH = re.compile(r" at '?([\w.\[\]]+)'?[:;]")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _name_fields(message: str) -> str:
    """Variable errors name input fields in camelCase; add each as Engine names it
    everywhere else (``maxRuntimeMinutes`` is the flow field ``max_runtime_minutes``)."""
    names = _FIELD.findall(message)
    match = _AT_PATH.search(message)
    if match:
        names += [p for p in re.split(r"[.\[\]]", match.group(1)) if p and not p.isdigit()][-1:]
    snakes = [_snake(n) for n in dict.fromkeys(names) if _snake(n) != n]
    return f"{message} (Engine field {', '.join(snakes)})" if snakes else message


class RuntimeMissingError(EngineError):
    """The flow runtime is not running in this Engine (executions need it)."""

    status = 503
    code = "UNAVAILABLE"


def classify(error: GraphQLError) -> None:
    """Give ``error`` its Engine error code, in place."""
    original = error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, EngineError):
        extensions["code"] = original.code
        error.message = original.message
    elif original is None or isinstance(original, GraphQLError):
        extensions.setdefault("code", "BAD_INPUT")
        error.message = _name_fields(error.message)
    else:
        log.error("internal error in GraphQL %s", error.path, exc_info=original)
        extensions["code"] = "INTERNAL"
        error.message = "Engine failed to handle this request; the error is in its log"
    error.extensions = extensions


class EngineSchema(strawberry.Schema):
    """The schema, with errors classified before they are sent."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            classify(error)
