"""``kiseki login``: point clients at a server."""

from __future__ import annotations

import json
import os

import click

from kiseki.sdk.settings import load_settings, login_file


def register(cli: click.Group) -> None:
    cli.add_command(login_cmd)


@click.command("login")
@click.argument("url")
@click.option("--key", default=None, help="API key (or set KISEKI_API_KEY).")
@click.option("--verify/--no-verify", default=True, help="Check that the server answers.")
def login_cmd(url: str, key: str | None, verify: bool) -> None:
    """Save URL (and key) so SDK and CLI send runs to that server."""
    if not url.startswith(("http://", "https://")):
        raise click.UsageError(f"URL must start with http:// or https://, got {url!r}")
    settings = load_settings()
    path = login_file(settings.root_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    base_url = url.rstrip("/")
    api_key = key or os.environ.get("KISEKI_API_KEY")
    data = {"base_url": base_url, "api_key": api_key}
    if verify:
        _verify(base_url, api_key)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    click.echo(f"logged in to {data['base_url']} (saved in {path})")


def _verify(url: str, key: str | None) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        resp = httpx.get(f"{url}/api/v1/projects", headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc} (use --no-verify to save anyway)")
    if resp.status_code == 401:
        raise click.ClickException(f"{url} refused the API key; pass --key KEY")
    if resp.status_code != 200:
        raise click.ClickException(f"{url} answered HTTP {resp.status_code}")
