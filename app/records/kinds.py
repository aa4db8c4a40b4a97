"""The record kinds and their fields, declared once.

REST, GraphQL and the Flow-API all read this registry; nothing else lists fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FieldType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATETIME = "datetime"
    ID = "id"
    JSON = "json"
    BYTES = "bytes"  # base64 text on the wire and in the store


# Types a filter may compare and an order may sort by.
SCALAR = frozenset({FieldType.STRING, FieldType.INT, FieldType.FLOAT, FieldType.BOOL, FieldType.DATETIME, FieldType.ID})


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    description: str = ""
    writable: bool = True  # users may set it; otherwise only Engine does
    ref: str | None = None  # the kind an ID field points at
    hidden: bool = False  # stored, never shown or filtered (password hashes, flags)

    @property
    def scalar(self) -> bool:
        return self.type in SCALAR


@dataclass(frozen=True)
class Kind:
    name: str
    fields: dict[str, Field]
    activity: bool = False
    description: str = ""

    @property
    def plural(self) -> str:
        return self.name + "s"

    @property
    def collection(self) -> str:
        return self.name

    def visible(self) -> list[Field]:
        return [f for f in self.fields.values() if not f.hidden]


S, INT, F, B, D, ID, J, BY = (
    FieldType.STRING,
    FieldType.INT,
    FieldType.FLOAT,
    FieldType.BOOL,
    FieldType.DATETIME,
    FieldType.ID,
    FieldType.JSON,
    FieldType.BYTES,
)

# Marks a record that is not in the trash; partial unique indexes key on it.
ALIVE = "alive"


def _common(readonly: bool) -> list[Field]:
    fields = [
        Field("id", ID, "The record's UUID.", writable=False),
        Field("name", S, "The record's name; blanks at either end are removed."),
        Field("description", S, "Free text about the record."),
        Field("created_by", ID, "The user who created the record.", writable=False, ref="user"),
        Field("created_at", D, "When the record was created (UTC).", writable=False),
        Field("modified_by", ID, "The user who last changed the record.", writable=False, ref="user"),
        Field("modified_at", D, "When the record was last changed (UTC).", writable=False),
        Field("deleted_by", ID, "The user who moved the record to the trash.", writable=False, ref="user"),
        Field("deleted_at", D, "When the record was moved to the trash (UTC).", writable=False),
        Field("project_id", ID, "The project the record belongs to.", ref="project"),
        Field(ALIVE, B, writable=False, hidden=True),
    ]
    if readonly:
        fields.append(Field("is_readonly", B, "A read-only record refuses changes."))
    return fields


def _kind(name: str, description: str, *own: Field, activity: bool = False, readonly: bool = True) -> Kind:
    fields = _common(readonly and not activity) + list(own)
    return Kind(name, {f.name: f for f in fields}, activity=activity, description=description)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        _kind(
            "flow",
            "A Python script Engine runs as executions.",
            Field("script", S, "The flow's Python source, with a handler(system, this, inputs)."),
            Field("input_schema", J, "JSON schema of the inputs."),
            Field("output_schema", J, "JSON schema of the output value."),
            Field("max_runtime_minutes", F, "Wall-clock limit of one execution, in minutes."),
            Field("priority", INT, "Higher runs first among pending executions."),
        ),
        _kind(
            "file",
            "Content stored in Engine.",
            Field("content", BY, "The file's bytes, base64-encoded."),
            Field("mime_type", S, "The content's media type."),
            Field("content_size_bytes", INT, "Size of the content in bytes.", writable=False),
        ),
        _kind("setting", "A named JSON value.", Field("value", J, "Any JSON value.")),
        _kind(
            "user",
            "Someone who signs in to Engine.",
            Field("email", S, "The user's e-mail address."),
            Field("is_admin", B, "Admins may do anything."),
            Field("is_active", B, "Inactive users cannot sign in."),
            Field("role_ids", J, "Ids of the roles whose permissions the user holds."),
            Field("password_hash", S, writable=False, hidden=True),
            Field("failed_logins", INT, writable=False, hidden=True),
            Field("locked_until", D, writable=False, hidden=True),
            readonly=False,
        ),
        _kind(
            "role",
            "A set of permissions.",
            Field("permissions", J, 'List of {"kind", "operation", "project_id"?}; "*" matches all.'),
        ),
        _kind("project", "A group of records."),
        _kind(
            "connector",
            "Connection details of an outside system.",
            Field("connector_type", S, "What the connector talks to."),
            Field("value", J, "The connection's settings."),
        ),
        _kind(
            "schedule",
            "Runs a flow at set times.",
            Field("flow_id", ID, "The flow to run.", ref="flow"),
            Field("cron", S, "A cron expression."),
            Field("is_enabled", B, "Disabled schedules do not run."),
            Field("input_value", J, "The inputs of each execution."),
        ),
        _kind(
            "webhook",
            "Runs a flow when called over HTTP.",
            Field("flow_id", ID, "The flow to run.", ref="flow"),
            Field("is_enabled", B, "Disabled webhooks refuse calls."),
        ),
        _kind("tag", "A label for records.", Field("color", S, "Display colour.")),
        _kind("object_template", "The shape of custom objects.", Field("schema", J, "JSON schema of the objects.")),
        _kind(
            "custom_object",
            "A record of a user-defined shape.",
            Field("template_id", ID, "The object template.", ref="object_template"),
            Field("value", J, "The object's data."),
        ),
        _kind(
            "execution",
            "One run of a flow.",
            Field("flow_id", ID, "The flow that runs.", writable=False, ref="flow"),
            Field("parent_execution_id", ID, "The execution that started this one.", writable=False, ref="execution"),
            Field(
                "status",
                S,
                "PENDING, RUNNING, WAITING, PAUSED, ENDED_SUCCESS, ENDED_ERROR, ENDED_CANCELLED.",
                writable=False,
            ),
            Field("input_value", J, "The inputs given to the flow.", writable=False),
            Field("output_value", J, "What the flow produced."),
            Field("message", S, "The flow's closing message."),
            Field("status_message", S, "Why the execution ended as it did (a traceback on error).", writable=False),
            Field("started_at", D, "When the script started.", writable=False),
            Field("ended_at", D, "When the execution ended.", writable=False),
            Field("lease_owner", S, writable=False, hidden=True),
            Field("lease_expires_at", D, writable=False, hidden=True),
            Field("priority", INT, writable=False, hidden=True),  # the flow's, copied for the queue's order
            activity=True,
        ),
        _kind(
            "message",
            "A message, e.g. one an execution sent.",
            Field("execution_id", ID, "The execution the message belongs to.", ref="execution"),
            Field("text", S, "The message's text."),
            Field("level", S, "info, warning or error."),
            activity=True,
        ),
    ]
}


def get_kind(name: str) -> Kind:
    from app.records.errors import ResourceNotFoundError

    kind = KINDS.get(name)
    if kind is None:
        raise ResourceNotFoundError(f"unknown record kind {name!r}; known kinds: {', '.join(KINDS)}")
    return kind
