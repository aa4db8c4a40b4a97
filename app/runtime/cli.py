"""``engine run FLOW_NAME``: start an execution on a running Engine and follow it."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import httpx
import typer

EXIT_CODES = {"ENDED_SUCCESS": 0, "ENDED_ERROR": 1, "ENDED_CANCELLED": 3}
RUN_HELP = """Start an execution of FLOW_NAME on a running Engine, print its log as it runs,
and exit with its outcome: 0 ENDED_SUCCESS, 1 ENDED_ERROR, 3 ENDED_CANCELLED,
2 when it could not be started (bad input, unknown flow, no access).

Engine is reached at --url (or ENGINE_URL, default http://127.0.0.1:8000) with
--token (or ENGINE_TOKEN), or signs in with --user and --password (or ENGINE_USER
and ENGINE_PASSWORD). The execution runs as that user."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        raise _fail(f"{response.request.method} {response.request.url.path}: {message}")
    return response.json()


def run(
    flow_name: Annotated[str, typer.Argument(help="The flow to run.")],
    input_json: Annotated[
        str | None, typer.Option("--input", help="The inputs as a JSON object, e.g. '{\"n\": 3}'.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for the execution (default: the flow's name).")] = None,
    url: Annotated[str, typer.Option(envvar="ENGINE_URL", help="Engine's address.")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="ENGINE_TOKEN", help="A token to act with.")] = None,
    user: Annotated[str | None, typer.Option(envvar="ENGINE_USER", help="User to sign in as.")] = None,
    password: Annotated[str | None, typer.Option(envvar="ENGINE_PASSWORD", help="That user's password.")] = None,
    poll: Annotated[float, typer.Option(help="Seconds between looks at the log.")] = 0.2,
) -> None:
    inputs: Any = None
    if input_json is not None:
        try:
            inputs = json.loads(input_json)
        except ValueError as exc:
            raise _fail(f"--input is not valid JSON: {exc}") from None
        if not isinstance(inputs, dict):
            raise _fail("--input must be a JSON object")
    with httpx.Client(base_url=url.rstrip("/") + "/api/latest", timeout=60) as client:
        try:
            if token is None:
                if not user or password is None:
                    raise _fail(
                        "give --token, or --user and --password (or ENGINE_TOKEN / ENGINE_USER, ENGINE_PASSWORD)"
                    )
                login = _answer(client.post("/auth/login", json={"user_name": user, "password": password}))
                token = str(login["token"])
            client.headers["Authorization"] = f"Bearer {token}"
            body: dict[str, Any] = {"flow_name": flow_name}
            if inputs is not None:
                body["input_value"] = inputs
            if name is not None:
                body["name"] = name
            record = _answer(client.post("/execution", json=body))
            execution_id = record["id"]
            typer.echo(f"execution {execution_id} of {flow_name} started", err=True)
            seen = 0
            while True:
                record = _answer(client.get(f"/execution/{execution_id}/wait", params={"wait": poll}))
                lines = _answer(client.get(f"/execution/{execution_id}/log", params={"offset": seen}))
                for line in lines:
                    stream = sys.stderr if line["level"] in ("warning", "error") else sys.stdout
                    print(f"{line['at']} {line['level']:<7} {line['message']}", file=stream, flush=True)
                seen += len(lines)
                if record["status"] in EXIT_CODES:
                    break
                time.sleep(0 if poll > 0 else 0.05)
        except httpx.HTTPError as exc:
            raise _fail(f"cannot reach Engine at {url}: {exc}") from None
    status = record["status"]
    summary = f"execution {execution_id} {status}"
    if record.get("message"):
        summary += f": {record['message']}"
    typer.echo(summary, err=True)
    if (
        status == "ENDED_ERROR"
        and record.get("status_message")
        and record.get("status_message") != record.get("message")
    ):
        typer.echo(record["status_message"], err=True)
    if record.get("output_value") is not None:
        typer.echo(json.dumps(record["output_value"], indent=2))
    raise typer.Exit(EXIT_CODES[status])


def register(cli: typer.Typer) -> None:
    """Add ``engine run`` to the ``engine`` command."""
    cli.command("run", help=RUN_HELP)(run)


__all__ = ["register"]
