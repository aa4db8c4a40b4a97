"""The HTTP side of flow_api: one httpx client per System, errors mapped to exceptions."""

from __future__ import annotations

import json
from typing import Any

import httpx

from flow_api.errors import EngineException, error_for

API = "/api/latest"


class Client:
    """Calls Engine's REST API with a Bearer token."""

    def __init__(self, url: str, token: str, *, timeout: float = 330.0, transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.url + API,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        """The decoded JSON answer, or the exception for Engine's error."""
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            response = self.http.request(method, path, params=clean, json=body if body is not None else None)
        except httpx.TimeoutException as exc:
            raise error_for(408, "TIMEOUT", f"Engine did not answer {method} {path} in time: {exc}") from None
        except httpx.HTTPError as exc:
            raise EngineException(f"cannot reach Engine at {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                code, message = error.get("code"), error.get("message", response.text)
            except (ValueError, KeyError, TypeError, AttributeError):
                code, message = None, response.text or response.reason_phrase
            raise error_for(response.status_code, code, str(message))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, (tuple, set)):
        return ",".join(str(v) for v in value)
    return str(value)
