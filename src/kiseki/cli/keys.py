"""``kiseki keys``: manage the server's API keys (directly in its store)."""

from __future__ import annotations

import json
import time

import click


def register(cli: click.Group) -> None:
    cli.add_command(keys)


def _store(database_url: str | None, data_dir: str | None):  # type: ignore[no-untyped-def]
    from kiseki.server.settings import from_env
    from kiseki.store.sqlstore import SQLStore

    settings = from_env(database_url=database_url, data_dir=data_dir)
    return SQLStore.open(settings.store_url())


_db = click.option("--database", "database_url", default=None, help="Store URL of the server.")
_dir = click.option("--dir", "data_dir", default=None, help="Data folder of the server.")


@click.group("keys")
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["member", "maintainer"]), default="member",
              show_default=True, help="Maintainers may move protected registry aliases.")
@_db
@_dir
def create(name: str, role: str, database_url: str | None, data_dir: str | None) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    store = _store(database_url, data_dir)
    try:
        click.echo(store.create_api_key(name, role))
    finally:
        store.close()


@keys.command("list")
@_db
@_dir
@click.option("--json", "as_json", is_flag=True)
def list_keys(database_url: str | None, data_dir: str | None, as_json: bool) -> None:
    """List keys (name, prefix, created, revoked)."""
    store = _store(database_url, data_dir)
    try:
        rows = store.list_api_keys()
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        state = "revoked" if r["revoked_at"] else "active"
        click.echo(f"{r['prefix']}…  {r['name']}  {state}  "
                   f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(r['created_at']))}")


@keys.command("revoke")
@click.argument("prefix")
@_db
@_dir
def revoke(prefix: str, database_url: str | None, data_dir: str | None) -> None:
    """Revoke the key starting with PREFIX (as shown by `kiseki keys list`)."""
    store = _store(database_url, data_dir)
    try:
        store.revoke_api_key(prefix)
    finally:
        store.close()
    click.echo(f"revoked {prefix}")
