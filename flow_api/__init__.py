"""flow_api: the SDK flow scripts import, and a client for Engine from anywhere.

Inside Engine a flow script is ``def handler(system, this, inputs)``; outside,
``flow_api.connect(url, token)`` returns the same ``System``. See README.md.
"""

from __future__ import annotations

from flow_api.client import Client
from flow_api.errors import (
    AuthenticationError,
    ConflictError,
    DependencyFailedError,
    EngineException,
    InvalidFilterError,
    InvalidInputError,
    PayloadTooLargeError,
    PermissionDenied,
    ResourceNotFoundError,
    ResourceReadOnlyError,
    TimeoutExceededError,
    TooManyAttemptsError,
)
from flow_api.execution import Execution, Outcome
from flow_api.records import Metadata, Record
from flow_api.system import System, connect

__all__ = [
    "AuthenticationError",
    "Client",
    "ConflictError",
    "DependencyFailedError",
    "EngineException",
    "Execution",
    "InvalidFilterError",
    "InvalidInputError",
    "Metadata",
    "Outcome",
    "PayloadTooLargeError",
    "PermissionDenied",
    "Record",
    "ResourceNotFoundError",
    "ResourceReadOnlyError",
    "System",
    "TimeoutExceededError",
    "TooManyAttemptsError",
    "connect",
]
