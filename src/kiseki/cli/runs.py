"""``kiseki runs``: list, show and export runs."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from kiseki.core.values import to_json_safe


def register(cli: click.Group) -> None:
    cli.add_command(runs)


@click.group("runs")
def runs() -> None:
    """List, show and export runs."""


def _api():  # type: ignore[no-untyped-def]
    from kiseki.sdk.api import Api

    return Api()


@runs.command("list")
@click.argument("project")
@click.option("--filter", "filter_expr", default=None,
              help='Filter expression, e.g. \'config.lr > 0.01 and state = "finished"\'.')
@click.option("--order", default="-created_at", show_default=True)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_runs(project: str, filter_expr: str | None, order: str, limit: int,
              as_json: bool) -> None:
    """List the runs of PROJECT."""
    api = _api()
    try:
        items = []
        for i, run in enumerate(api.runs(project, filters=filter_expr, order=order)):
            if i >= limit:
                break
            items.append(run._data)
    finally:
        api.close()
    if as_json:
        click.echo(json.dumps(to_json_safe(items)))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "state", "created", "runtime", "summary")
    for r in items:
        summary = ", ".join(f"{k}={_fmt(v)}" for k, v in list(r["summary"].items())[:4])
        table.add_row(r["id"], r["name"], r["state"],
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"])),
                      f"{r['runtime']:.0f}s", summary)
    Console().print(table)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)[:30]


@runs.command("show")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True)
def show(path: str, as_json: bool) -> None:
    """Show one run (PROJECT/RUN_ID): state, config, summary, environment."""
    api = _api()
    try:
        data = api.run(path).refresh()._data
    finally:
        api.close()
    if as_json:
        click.echo(json.dumps(to_json_safe(data)))
        return
    from rich.console import Console
    from rich.pretty import Pretty

    console = Console()
    console.print(f"[bold]{data['project']}/{data['id']}[/] {data['name']}  state={data['state']}"
                  f"  last_step={data['last_step']}")
    console.print("config:", Pretty(data["config"]))
    console.print("summary:", Pretty(data["summary"]))
    git = (data.get("metadata") or {}).get("git") or {}
    if git.get("commit"):
        console.print(f"git: {git.get('commit')} on {git.get('branch')} "
                      f"({'dirty' if git.get('dirty') else 'clean'})")
    if data.get("error"):
        console.print("[red]error:[/]", data["error"][-2000:])


@runs.command("export")
@click.argument("path")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--keys", default=None, help="Comma-separated metric keys (default: all).")
def export(path: str, fmt: str, output: str, keys: str | None) -> None:
    """Export every logged point of a run (PROJECT/RUN_ID) as CSV or Parquet."""
    from rich.progress import Progress

    api = _api()
    rows: list[dict[str, Any]] = []
    try:
        run = api.run(path)
        key_list = [k for k in keys.split(",") if k] if keys else None
        with Progress(transient=True) as progress:
            task = progress.add_task("exporting", total=None)
            for row in run.scan_history(keys=key_list, page_size=5000):
                rows.append(row)
                if len(rows) % 5000 == 0:
                    progress.update(task, completed=len(rows))
    finally:
        api.close()
    columns = ["_step", "_timestamp"] + sorted({k for r in rows for k in r} - {"_step",
                                                                                "_timestamp"})
    if fmt == "csv":
        _write_csv(output, columns, rows)
    else:
        _write_parquet(output, columns, rows)
    click.echo(f"wrote {len(rows)} rows x {len(columns)} columns to {output}")


def _write_csv(output: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    import csv

    with open(output, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: repr(v) if isinstance(v, float) and v != v else v
                             for k, v in row.items()})


def _write_parquet(output: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data: dict[str, list[Any]] = {c: [r.get(c) for r in rows] for c in columns}
    types = {c: pa.float64() for c in columns}
    types["_step"] = pa.int64()
    table = pa.table({c: pa.array(data[c], type=types[c]) for c in columns})
    pq.write_table(table, output)
