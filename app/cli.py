"""The ``engine`` command."""

from __future__ import annotations

import asyncio
import getpass
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from app.config import Settings

cli = typer.Typer(help="Engine: an automation platform in which everything is a record.", no_args_is_help=True)
user_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
cli.add_typer(user_cli, name="user")


def _settings(host: str | None = None, port: int | None = None, data_dir: Path | None = None) -> Settings:
    settings = Settings()
    updates: dict[str, object] = {}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    if data_dir is not None:
        updates["data_dir"] = data_dir
    return settings.model_copy(update=updates)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 8000].")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the embedded store keeps engine.db [default: ./data].")
    ] = None,
) -> None:
    """Start Engine: on MongoDB when MONGODB_URI is set, else on the embedded store."""
    import uvicorn

    from app.main import create_app

    settings = _settings(host, port, data_dir)
    # Engine's own loggers (engine.*) log beside uvicorn's, in its format; uvicorn configures only its own.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    engine_log = logging.getLogger("engine")
    engine_log.addHandler(handler)
    engine_log.setLevel(logging.INFO)
    where = "MongoDB" if settings.mongodb_uri else f"the embedded store at {settings.sqlite_path}"
    typer.echo(f"Engine on {where}, listening on http://{settings.host}:{settings.port}")
    # uvicorn handles Ctrl+C and SIGTERM: it stops accepting, finishes requests, runs the lifespan's shutdown.
    # Then it re-raises the signal to the handler that was there before it; with Python's defaults
    # that kills the process (SIGTERM, exit 143) or raises KeyboardInterrupt (exit 1). A stop
    # that shut down cleanly is a clean exit, so that handler exits with 0.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _exit_cleanly)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info", lifespan="on")


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@user_cli.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="The new user's name.")],
    password: Annotated[str | None, typer.Option(help="The password; asked for when not given.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="The embedded store's folder [default: ./data].")] = None,
) -> None:
    """Add a user to the store Engine uses (the same settings as `engine serve`)."""
    from app.auth.passwords import hash_password
    from app.auth.users import create_user
    from app.engine import open_store
    from app.records.errors import EngineError
    from app.records.service import Records

    if password is None:
        password = getpass.getpass(f"Password for {name}: ")
    settings = _settings(data_dir=data_dir)

    async def run() -> None:
        store = open_store(settings)
        await store.start()
        try:
            records = Records(store, hash_password=hash_password)
            await records.setup()
            user = await create_user(records, name, password, is_admin=admin)
            typer.echo(f"created user {user['name']!r} ({user['id']})")
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except EngineError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    try:
        from app.runtime.cli import register  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:
        pass
    else:
        register(cli)
    cli()


if __name__ == "__main__":
    main()
