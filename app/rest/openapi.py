"""The OpenAPI document of the REST API, generated from the kinds registry."""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Route

from app.records.kinds import KINDS, Field, FieldType, Kind

_TYPES: dict[FieldType, dict[str, Any]] = {
    FieldType.STRING: {"type": "string"},
    FieldType.INT: {"type": "integer"},
    FieldType.FLOAT: {"type": "number"},
    FieldType.BOOL: {"type": "boolean"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    FieldType.ID: {"type": "string", "format": "uuid"},
    FieldType.JSON: {},
    FieldType.BYTES: {"type": "string", "format": "byte"},
}


def _schema(kind: Kind, *, writable: bool) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in kind.visible():
        if writable and not f.writable:
            continue
        props[f.name] = {**_TYPES[f.type], "description": f.description}
        if not writable and not f.writable:
            props[f.name]["readOnly"] = True
    if writable and kind.name == "user":
        props["password"] = {
            "type": "string",
            "minLength": 8,
            "writeOnly": True,
            "description": "Set the user's password.",
        }
    return (
        {"type": "object", "properties": props, "additionalProperties": False}
        if writable
        else {"type": "object", "properties": props, "description": kind.description}
    )


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


ERROR = {"$ref": "#/components/responses/Error"}


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): ERROR for c in codes}


def _extension_paths(routes: Sequence[BaseRoute], prefix: str) -> dict[str, Any]:
    """Plain descriptions of routes that extensions (the runtime, ...) add under the API:
    summary and description from the handler's docstring, path parameters from the path."""
    paths: dict[str, Any] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        doc = inspect.getdoc(route.endpoint) or route.name.replace("_", " ").capitalize()
        summary, _, details = doc.partition("\n")
        item = paths.setdefault(prefix + route.path, {})
        names = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        if names:
            item["parameters"] = [_param(n, "path", {"type": "string"}, f"The {n}.", True) for n in names]
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            operation: dict[str, Any] = {
                "summary": summary.strip(),
                "tags": [route.path.strip("/").split("/")[0] or "api"],
                "responses": {"200": _resp("OK", {}), **_errors(400, 401, 403, 404)},
            }
            if details.strip():
                operation["description"] = details.strip()
            if method in ("POST", "PUT", "PATCH"):
                operation["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
            item[method.lower()] = operation
    return paths


def document(extra_routes: Sequence[BaseRoute] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document: the record routes of every kind, auth, health, and
    the ``extra_routes`` extensions add under /api/latest."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}
            },
        },
        "Metadata": {
            "type": "object",
            "properties": {k: {} for k in ("key", "data", "record_id", "created_at", "modified_at")},
        },
    }
    ref_params = [
        _param("ref", "path", {"type": "string"}, "The record's id, or its name with by=name.", True),
        _param("by", "query", {"enum": ["id", "name"], "default": "id"}, "How ref names the record."),
    ]
    list_params = [
        _param(
            "filter",
            "query",
            {"type": "string"},
            'Filter expression, JSON: {"field","op","value"} or {"and"|"or":[...]}.',
        ),
        _param("fields", "query", {"type": "string"}, "Comma-separated fields to return."),
        _param("limit", "query", {"type": "integer", "default": 1000, "maximum": 1000, "minimum": 0}, "Page size."),
        _param("offset", "query", {"type": "integer", "default": 0, "minimum": 0}, "Records to skip."),
        _param("order", "query", {"type": "string"}, "Comma-separated fields, -field for descending."),
        _param("allow_normal", "query", {"type": "boolean", "default": True}, "Include records not in the trash."),
        _param("allow_deleted", "query", {"type": "boolean", "default": False}, "Include records in the trash."),
    ]
    for kind in KINDS.values():
        title = kind.name.title().replace("_", "")
        schemas[title] = _schema(kind, writable=False)
        schemas[f"{title}Input"] = _schema(kind, writable=True)
        rec = {"$ref": f"#/components/schemas/{title}"}
        body = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{title}Input"}}},
        }
        base = f"/api/latest/{kind.name}"
        paths[base] = {
            "get": {
                "summary": f"List {kind.plural}",
                "tags": [kind.name],
                "parameters": list_params,
                "responses": {
                    "200": {
                        **_resp("The records; X-Total-Count holds the total.", {"type": "array", "items": rec}),
                        "headers": {"X-Total-Count": {"schema": {"type": "integer"}}},
                    },
                    **_errors(400, 401, 403),
                },
            },
            "post": {
                "summary": f"Create a {kind.name}",
                "tags": [kind.name],
                "requestBody": body,
                "responses": {"201": _resp("Created.", rec), **_errors(400, 401, 403, 409, 413, 422)},
            },
        }
        paths[base + "/{ref}"] = {
            "parameters": ref_params,
            "get": {
                "summary": f"Read a {kind.name}",
                "tags": [kind.name],
                "parameters": [list_params[1], list_params[6]],
                "responses": {"200": _resp("The record.", rec), **_errors(400, 401, 403, 404)},
            },
            "put": {
                "summary": f"Save a {kind.name} by name (create or overwrite; needs by=name)",
                "tags": [kind.name],
                "requestBody": body,
                "responses": {
                    "200": _resp("Overwritten.", rec),
                    "201": _resp("Created.", rec),
                    **_errors(400, 401, 403, 409, 413, 422),
                },
            },
            "patch": {
                "summary": f"Update fields of a {kind.name}",
                "tags": [kind.name],
                "requestBody": body,
                "responses": {"200": _resp("Updated.", rec), **_errors(400, 401, 403, 404, 409, 413, 422)},
            },
            "delete": {
                "summary": f"Move a {kind.name} to the trash, or delete it for good",
                "tags": [kind.name],
                "parameters": [
                    _param("permanently", "query", {"type": "boolean", "default": False}, "Delete for good.")
                ],
                "responses": {"200": _resp("The deleted record.", rec), **_errors(400, 401, 403, 404, 409)},
            },
        }
        paths[base + "/{ref}/restore"] = {
            "parameters": ref_params,
            "post": {
                "summary": f"Restore a {kind.name} from the trash",
                "tags": [kind.name],
                "responses": {"200": _resp("Restored.", rec), **_errors(401, 403, 404, 409)},
            },
        }
        meta = {"$ref": "#/components/schemas/Metadata"}
        paths[base + "/{ref}/metadata"] = {
            "parameters": ref_params,
            "get": {
                "summary": f"List a {kind.name}'s metadata",
                "tags": [kind.name],
                "responses": {
                    "200": _resp("Metadata entries.", {"type": "array", "items": meta}),
                    **_errors(401, 403, 404),
                },
            },
        }
        key = _param("key", "path", {"type": "string"}, "The metadata key.", True)
        paths[base + "/{ref}/metadata/{key}"] = {
            "parameters": [*ref_params, key],
            "get": {
                "summary": "Read one metadata entry",
                "tags": [kind.name],
                "responses": {"200": _resp("The entry.", meta), **_errors(401, 403, 404)},
            },
            "put": {
                "summary": "Set a metadata entry",
                "tags": [kind.name],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"data": {}}, "required": ["data"]}
                        }
                    },
                },
                "responses": {
                    "200": _resp("Changed.", meta),
                    "201": _resp("Added.", meta),
                    **_errors(400, 401, 403, 404, 409, 422),
                },
            },
            "delete": {
                "summary": "Delete a metadata entry",
                "tags": [kind.name],
                "responses": {"204": _resp("Deleted."), **_errors(401, 403, 404, 409)},
            },
        }
    user = {"$ref": "#/components/schemas/User"}
    paths["/api/latest/auth/login"] = {
        "post": {
            "summary": "Sign in",
            "tags": ["auth"],
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["user_name", "password"],
                            "properties": {"user_name": {"type": "string"}, "password": {"type": "string"}},
                        }
                    }
                },
            },
            "responses": {
                "200": _resp(
                    "A token (also set as an HttpOnly cookie).",
                    {
                        "type": "object",
                        "properties": {"token": {"type": "string"}, "user": user, "expires_at": {"type": "string"}},
                    },
                ),
                **_errors(400, 401, 429),
            },
        }
    }
    paths["/api/latest/auth/logout"] = {
        "post": {
            "summary": "Revoke the token",
            "tags": ["auth"],
            "responses": {"200": _resp("Signed out."), **_errors(401)},
        }
    }
    paths["/api/latest/auth/me"] = {
        "get": {
            "summary": "The signed-in user",
            "tags": ["auth"],
            "responses": {"200": _resp("The user."), **_errors(401)},
        }
    }
    paths["/health"] = {
        "get": {
            "summary": "Liveness and store",
            "tags": ["health"],
            "security": [],
            "responses": {"200": _resp("OK", {"type": "object"}), "503": _resp("Store unavailable")},
        }
    }
    paths["/api/latest/openapi.json"] = {
        "get": {
            "summary": "This document",
            "tags": ["health"],
            "security": [],
            "responses": {"200": _resp("OpenAPI 3.1")},
        }
    }
    for path, item in _extension_paths(extra_routes, "/api/latest").items():
        described = paths.setdefault(path, {})
        for method, operation in item.items():
            described.setdefault(method, operation)  # the records' own description wins
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Engine REST API",
            "version": "latest",
            "description": "Every record of Engine, through one records service.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {"Error": _resp("An error.", {"$ref": "#/components/schemas/Error"})},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "engine_token"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }


def field_schema(field: Field) -> dict[str, Any]:
    return dict(_TYPES[field.type])
