"""``kiseki server``: serve the store over HTTP."""

from __future__ import annotations

import dataclasses

import click

from kiseki.core.errors import UsageError


def register(cli: click.Group) -> None:
    cli.add_command(server_cmd)


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--database", "database_url", default=None,
              help="SQLAlchemy URL, e.g. postgresql://user@host/db (default: SQLite in --dir).")
@click.option("--dir", "data_dir", default=None, help="Data folder (default ~/.kiseki).")
@click.option("--insecure", is_flag=True,
              help="Listen on a non-loopback address without requiring API keys.")
@click.option("--heartbeat-timeout", type=float, default=None,
              help="Seconds without a heartbeat before a running run shows as crashed.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Worker processes (the server is stateless; useful with PostgreSQL).")
@click.option("--blob-url", default=None,
              help="s3://bucket/prefix: keep media and artifact files in S3-compatible storage.")
@click.option("--s3-endpoint", default=None, help="Endpoint URL of a non-AWS S3 service.")
def server_cmd(host: str, port: int, database_url: str | None, data_dir: str | None,
               insecure: bool, heartbeat_timeout: float | None, workers: int,
               blob_url: str | None, s3_endpoint: str | None) -> None:
    """Serve the kiseki API (and web app) for this store."""
    serve(host=host, port=port, database_url=database_url, data_dir=data_dir,
          insecure=insecure, heartbeat_timeout=heartbeat_timeout, workers=workers,
          blob_url=blob_url, s3_endpoint=s3_endpoint)


def serve(workers: int = 1, **options: object) -> None:
    import json
    import os

    import uvicorn

    from kiseki.server.app import create_app
    from kiseki.server.settings import from_env
    from kiseki.store.sqlstore import SQLStore

    if workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    settings = from_env(**options)
    if settings.auth_required:
        store = SQLStore.open(settings.store_url())
        try:
            if not store.valid_key_hashes():
                raise UsageError(
                    f"refusing to listen on {settings.host} without API keys: create one with "
                    "`kiseki keys create NAME` (same --dir/--database), or pass --insecure to "
                    "serve without authentication")
        finally:
            store.close()
    click.echo(f"kiseki server on http://{_display(settings.host)}:{settings.port} "
               f"(store: {settings.store_url()}, auth: "
               f"{'API keys' if settings.auth_required else 'none (loopback)'})")
    if workers == 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                    log_level="warning", timeout_graceful_shutdown=3)
        return
    # worker processes import the app themselves: hand them the settings explicitly
    SQLStore.open(settings.store_url()).close()  # migrate once, before the workers start
    os.environ["KISEKI_SERVER_SETTINGS"] = json.dumps(dataclasses.asdict(settings))
    uvicorn.run("kiseki.server.app:app_from_settings_env", factory=True, host=settings.host,
                port=settings.port, workers=workers, log_level="warning",
                timeout_graceful_shutdown=3)


def _display(host: str) -> str:
    return f"[{host}]" if ":" in host else host
