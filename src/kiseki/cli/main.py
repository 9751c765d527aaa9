"""Entry point of the ``kiseki`` command."""

from __future__ import annotations

import sys

import click

from kiseki.cli import demo, gc, keys, login, runs, server, sync
from kiseki.core.errors import KisekiError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kiseki")
def cli() -> None:
    """kiseki: self-hosted experiment tracking shaped like wandb."""


for module in (server, login, sync, runs, keys, demo, gc):
    module.register(cli)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KisekiError as exc:
        click.echo(f"kiseki: error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
