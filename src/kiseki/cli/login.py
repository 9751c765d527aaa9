"""``kiseki login``: point clients at a server."""

from __future__ import annotations

import click

from kiseki.core.errors import KisekiError, UsageError
from kiseki.sdk.login import save_login


def register(cli: click.Group) -> None:
    cli.add_command(login_cmd)


@click.command("login")
@click.argument("url")
@click.option("--key", default=None, help="API key (or set KISEKI_API_KEY).")
@click.option("--verify/--no-verify", default=True, help="Check that the server answers.")
def login_cmd(url: str, key: str | None, verify: bool) -> None:
    """Save URL (and key) so SDK and CLI send runs to that server."""
    try:
        path = save_login(url, key, verify)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    except KisekiError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"logged in to {url.rstrip('/')} (saved in {path})")
