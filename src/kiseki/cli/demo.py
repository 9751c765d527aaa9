"""``kiseki demo``: fill a store with a realistic project and serve it."""

from __future__ import annotations

import os

import click


def register(cli: click.Group) -> None:
    cli.add_command(demo_cmd)


@click.command("demo")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--dir", "data_dir", default=None,
              help="Store folder (default: ~/.kiseki, the embedded default).")
@click.option("--serve/--no-serve", default=True, help="Start the server when done.")
@click.option("--runs", "n_runs", default=6, show_default=True, help="Trainings to run.")
def demo_cmd(port: int, data_dir: str | None, serve: bool, n_runs: int) -> None:
    """Train a tiny numpy segmenter several times, log it all, and serve the result."""
    from rich.console import Console

    from kiseki.demo.project import populate, start_live_run
    from kiseki.sdk.settings import load_settings

    settings = load_settings({"root_dir": data_dir} if data_dir else None)
    if not settings.embedded:
        settings.base_url = None  # the demo always fills the embedded store it serves
    console = Console(stderr=True)
    opts = {"root_dir": settings.root_dir, "base_url": None}
    run_dir = os.path.join(settings.root_dir, "demo-runs")
    os.makedirs(run_dir, exist_ok=True)
    with console.status("training the demo models...") as status:
        ids = populate(settings=opts, runs=n_runs, dir=run_dir,
                       on_progress=lambda done, total, msg: status.update(
                           f"[{done}/{total}] {msg}"), echo=False)
    console.print(f"logged {len(ids)} runs to project shapes-segmentation in {settings.root_dir}")
    if not serve:
        return
    live = start_live_run(settings=opts, dir=run_dir, echo=False)
    url = f"http://127.0.0.1:{port}/"
    click.echo(f"kiseki demo is ready: {url}  (API: {url}api/v1/docs; Ctrl-C to stop)")
    from kiseki.cli.server import serve as serve_store

    try:
        serve_store(port=port, data_dir=settings.root_dir)
    finally:
        live.stop()
