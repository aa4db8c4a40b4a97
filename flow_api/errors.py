"""The exceptions flow_api raises, the same inside Engine and on a user's machine.

    EngineException
    ├── InvalidInputError          bad fields, values or parameters (400/422)
    │   └── InvalidFilterError     a filter expression Engine cannot read
    ├── AuthenticationError        the token is missing, revoked or expired
    ├── PermissionDenied           the identity may not do this
    ├── ResourceNotFoundError      no such record (or it went to the trash)
    ├── ConflictError              the name is taken, the record changed meanwhile
    │   └── ResourceReadOnlyError  the record is read-only or in the trash
    ├── PayloadTooLargeError       the request is too large
    ├── TooManyAttemptsError       too many failed logins
    ├── TimeoutExceededError       a wait or a limit ran out
    └── DependencyFailedError      a child execution did not end in success

Each REST error code maps to one class here (``error_for``).
"""

from __future__ import annotations

from typing import Any


class EngineException(Exception):
    """Base of every error flow_api raises; ``code`` is Engine's error code, ``status`` the HTTP status."""

    code = "ERROR"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class InvalidInputError(EngineException):
    code = "BAD_INPUT"


class InvalidFilterError(InvalidInputError):
    code = "INVALID_FILTER"


class AuthenticationError(EngineException):
    code = "UNAUTHENTICATED"


class PermissionDenied(EngineException):
    code = "FORBIDDEN"


class ResourceNotFoundError(EngineException):
    code = "NOT_FOUND"


class ConflictError(EngineException):
    code = "CONFLICT"


class ResourceReadOnlyError(ConflictError):
    code = "READ_ONLY"


class PayloadTooLargeError(EngineException):
    code = "TOO_LARGE"


class TooManyAttemptsError(EngineException):
    code = "TOO_MANY_ATTEMPTS"


class TimeoutExceededError(EngineException):
    code = "TIMEOUT"


class DependencyFailedError(EngineException):
    """A child execution ended in error or was cancelled; ``execution`` is its record."""

    code = "DEPENDENCY_FAILED"

    def __init__(self, message: str, *, execution: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.execution = execution or {}


_BY_CODE: dict[str, type[EngineException]] = {
    cls.code: cls
    for cls in (
        InvalidInputError,
        InvalidFilterError,
        AuthenticationError,
        PermissionDenied,
        ResourceNotFoundError,
        ConflictError,
        ResourceReadOnlyError,
        PayloadTooLargeError,
        TooManyAttemptsError,
        TimeoutExceededError,
    )
}
_BY_STATUS: dict[int, type[EngineException]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: ResourceNotFoundError,
    408: TimeoutExceededError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: InvalidInputError,
    429: TooManyAttemptsError,
}


def error_for(status: int, code: str | None, message: str) -> EngineException:
    """The exception for an error answer of Engine's REST API."""
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status) or EngineException
    return cls(message, status=status)
