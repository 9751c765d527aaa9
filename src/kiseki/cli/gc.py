"""``kiseki gc``: reclaim blob files that no committed artifact version or stored media value
references any more (after deleting versions or runs)."""

from __future__ import annotations

import json

import click


def register(cli: click.Group) -> None:
    cli.add_command(gc)


@click.command("gc")
@click.option("--database", "database_url", default=None, help="Store URL of the server.")
@click.option("--dir", "data_dir", default=None, help="Data folder of the server (its blobs).")
@click.option("--min-age", default=3600.0, show_default=True,
              help="Keep blobs younger than this many seconds (uploads not committed yet).")
@click.option("--upload-max-age", default=86400.0, show_default=True,
              help="Abort multipart uploads to S3 with no part stored for this many seconds.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--blob-url", default=None, help="s3://bucket/prefix of an S3 blob store.")
@click.option("--s3-endpoint", default=None, help="Endpoint URL of a non-AWS S3 service.")
@click.option("--json", "as_json", is_flag=True)
def gc(database_url: str | None, data_dir: str | None, min_age: float, upload_max_age: float,
       dry_run: bool, blob_url: str | None, s3_endpoint: str | None, as_json: bool) -> None:
    """Remove unreferenced blobs from the store's blob folder or bucket."""
    from kiseki.server.settings import from_env
    from kiseki.store.sqlstore import SQLStore

    settings = from_env(database_url=database_url, data_dir=data_dir, blob_url=blob_url,
                        s3_endpoint=s3_endpoint)
    store = SQLStore.open(settings.store_url(), blob_dir=settings.data_dir,
                          blob_url=settings.blob_url, s3_endpoint=settings.s3_endpoint)
    try:
        result = store.collect_garbage(min_age=min_age, dry_run=dry_run,
                                       upload_max_age=upload_max_age)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(result))
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {result['blobs_removed']} blob(s), {result['bytes_freed']:,} bytes; "
               f"kept {result['blobs_kept']} referenced and {result['kept_recent']} recent")
