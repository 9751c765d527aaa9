"""``kiseki sync``: upload run logs (offline runs, or what a crash left behind)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import click

from kiseki.core.errors import KisekiError
from kiseki.sdk.sender import LogShipper, writer_alive
from kiseki.sdk.settings import load_settings

LOG_NAME = "run.kiseki"


def register(cli: click.Group) -> None:
    cli.add_command(sync_cmd)


def find_logs(paths: list[str]) -> list[str]:
    """Run logs at or below each path (a run folder or any folder above run folders)."""
    found: list[str] = []
    for path in paths:
        if os.path.isfile(path):
            found.append(os.path.abspath(path))
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
            if LOG_NAME in files:
                found.append(os.path.abspath(os.path.join(root, LOG_NAME)))
    return sorted(set(found))


def sync_log(path: str, sink: Any, timeout: float, on_progress: Any = None) -> dict[str, Any]:
    """Upload one log; idempotent (the server skips what it already has). ``on_progress`` is
    called as ``(bytes_done, bytes_added)`` while media and artifact files upload."""
    shipper = LogShipper(path, sink)
    shipper.on_progress = on_progress
    if shipper.ident is None:
        return {"path": path, "status": "unreadable", "error": "no valid run-log header"}
    project, run_id, _ = shipper.ident
    result: dict[str, Any] = {"path": path, "run": f"{project}/{run_id}"}
    if writer_alive(path):
        return {**result, "status": "skipped", "error": "still being written by a live process"}
    total = 0
    try:  # with an empty backlog this only asks the server for its high-water mark
        shipper.push(deadline=time.monotonic() + timeout)
    except KisekiError as exc:
        return {**result, "status": "failed", "error": str(exc), "records": total}
    if shipper.fatal:
        return {**result, "status": "failed", "error": shipper.error, "records": total}
    result["already_synced_through"] = shipper.hwm
    while True:
        pulled = shipper.pull(final=True)
        total += pulled
        if not shipper.backlog and not pulled:
            break
        try:
            shipper.push(deadline=time.monotonic() + timeout)
        except KisekiError as exc:
            return {**result, "status": "failed", "error": str(exc), "records": total}
        if shipper.fatal:
            return {**result, "status": "failed", "error": shipper.error, "records": total}
    try:
        shipper.report_missing(deadline=time.monotonic() + timeout)
    except KisekiError as exc:
        return {**result, "status": "failed", "error": str(exc), "records": total}
    stats = shipper.reader.stats
    if shipper.finished:
        shipper.mark_synced(sink.target)
    return {**result, "status": "synced", "records": total, "hwm": shipper.hwm,
            "finished": shipper.finished, "skipped_bytes": stats.skipped_bytes,
            "corrupt_frames": stats.corrupt_frames, "unknown_records": stats.unknown_records,
            "gaps": stats.gaps, "media_missing": shipper.media_missing(),
            "media_failed": shipper.media_failed}


@click.command("sync")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per run log.")
@click.option("--timeout", default=300.0, show_default=True,
              help="Seconds to keep retrying an unavailable server per log.")
def sync_cmd(paths: tuple[str, ...], as_json: bool, timeout: float) -> None:
    """Upload run logs found at PATHS (default: ./kiseki-runs) to the configured target."""
    from rich.console import Console
    from rich.progress import DownloadColumn, Progress

    from kiseki.sdk.sinks import make_sink

    logs = find_logs(list(paths) or ["kiseki-runs"])
    settings = load_settings()
    sink = make_sink(settings)
    console = Console(stderr=True)
    results = []
    try:
        with Progress(*Progress.get_default_columns(), DownloadColumn(), console=console,
                      disable=as_json or not logs) as progress:
            task = progress.add_task("syncing runs", total=len(logs))
            files = progress.add_task("uploading files", total=0, visible=False)
            added = [0]

            def on_progress(done: int, more: int) -> None:
                added[0] += more
                progress.update(files, advance=done, total=added[0], visible=added[0] > 0)

            for log in logs:
                results.append(sync_log(log, sink, timeout, on_progress))
                progress.advance(task)
    finally:
        sink.close()
    for res in results:
        click.echo(json.dumps(res) if as_json else _line(res))
    if not logs and not as_json:
        click.echo("no run logs found")
    if any(r["status"] in ("failed", "unreadable") for r in results):
        raise SystemExit(1)


def _line(res: dict[str, Any]) -> str:
    if res["status"] != "synced":
        return f"{res.get('run', res['path'])}: {res['status']} ({res.get('error')})"
    extra = ""
    if res["skipped_bytes"] or res["gaps"]:
        extra = (f"; damaged log: skipped {res['skipped_bytes']} bytes, gaps after seq "
                 f"{[g[0] for g in res['gaps']]}")
    if res["unknown_records"]:
        extra += f"; {res['unknown_records']} record(s) of unknown type skipped"
    if res.get("media_missing"):
        extra += (f"; {res['media_missing']} media value(s) missing (the process ended before "
                  "they were stored; shown as missing)")
    if res.get("media_failed"):
        extra += f"; {res['media_failed']} media value(s) refused as bad input (see the run)"
    state = "finished" if res["finished"] else "no finish record (crashed?)"
    return f"{res['run']}: synced {res['records']} records through seq {res['hwm']}, {state}{extra}"
