"""Domain errors, one small hierarchy.

    EngineError
    ├── InvalidInputError          400/422 BAD_INPUT
    │   └── InvalidFilterError     400 INVALID_FILTER
    ├── AuthenticationError        401 UNAUTHENTICATED
    ├── PermissionDenied           403 FORBIDDEN
    ├── ResourceNotFoundError      404 NOT_FOUND
    ├── ConflictError              409 CONFLICT
    │   └── ResourceReadOnlyError  409 READ_ONLY
    ├── PayloadTooLargeError       413 TOO_LARGE
    ├── TooManyAttemptsError       429 TOO_MANY_ATTEMPTS
    └── TimeoutExceededError       408 TIMEOUT

Each error carries its HTTP status and its error code here, the one place REST and
GraphQL read them from.
"""

from __future__ import annotations


class EngineError(Exception):
    status = 400
    code = "BAD_INPUT"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(EngineError):
    status = 422
    code = "BAD_INPUT"


class MalformedRequestError(InvalidInputError):
    """The request itself cannot be read: bad JSON, bad query parameter."""

    status = 400


class InvalidFilterError(InvalidInputError):
    status = 400
    code = "INVALID_FILTER"


class AuthenticationError(EngineError):
    status = 401
    code = "UNAUTHENTICATED"


class PermissionDenied(EngineError):
    status = 403
    code = "FORBIDDEN"


class ResourceNotFoundError(EngineError):
    status = 404
    code = "NOT_FOUND"


class ConflictError(EngineError):
    status = 409
    code = "CONFLICT"


class ResourceReadOnlyError(ConflictError):
    code = "READ_ONLY"


class PayloadTooLargeError(EngineError):
    status = 413
    code = "TOO_LARGE"


class TooManyAttemptsError(EngineError):
    status = 429
    code = "TOO_MANY_ATTEMPTS"


class TimeoutExceededError(EngineError):
    status = 408
    code = "TIMEOUT"
