"""The kiseki command: sync of offline runs, runs list/show/export, login."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kiseki
from tests.conftest import ServerProcess, run_script

OFFLINE = """
import kiseki
run = kiseki.init(project="cli", id="off1", mode="offline", config={"lr": 0.5})
for step in range(120):
    run.log({"loss": 1.0 / (step + 1), "nested": {"acc": step / 120}})
run.finish()
"""


def kiseki_cli(*args: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiseki", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})}, cwd=cwd)


def test_offline_run_then_sync_to_server(tmp_path: Path, server: ServerProcess) -> None:
    proc = run_script(OFFLINE, tmp_path)
    assert "kiseki sync" in proc.stderr  # the run tells the user how to upload it
    env = {"KISEKI_BASE_URL": server.url}
    out = kiseki_cli("sync", "--json", str(tmp_path / "kiseki-runs"), env=env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[0])
    assert result["status"] == "synced" and result["finished"] and result["run"] == "cli/off1"
    again = json.loads(kiseki_cli("sync", "--json", str(tmp_path), env=env).stdout.splitlines()[0])
    assert again["records"] >= 0 and again["already_synced_through"] == result["hwm"]
    run = kiseki.Api(settings={"base_url": server.url}).run("cli/off1")
    assert run.state == "finished" and run.config == {"lr": 0.5}
    assert len(list(run.scan_history())) == 120


def test_runs_list_show_export(tmp_path: Path) -> None:
    run_script(OFFLINE, tmp_path)
    assert kiseki_cli("sync", str(tmp_path)).returncode == 0
    listed = json.loads(kiseki_cli("runs", "list", "cli", "--json").stdout)
    assert [r["id"] for r in listed] == ["off1"] and listed[0]["state"] == "finished"
    shown = kiseki_cli("runs", "show", "cli/off1")
    assert "off1" in shown.stdout and "lr" in shown.stdout
    out_csv = tmp_path / "h.csv"
    assert kiseki_cli("runs", "export", "cli/off1", "-o", str(out_csv)).returncode == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 120 and rows[0]["_step"] == "0" and float(rows[1]["loss"]) == 0.5
    out_pq = tmp_path / "h.parquet"
    res = kiseki_cli("runs", "export", "cli/off1", "--format", "parquet", "-o", str(out_pq))
    assert res.returncode == 0, res.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(out_pq)
    assert table.num_rows == 120 and table.column("nested.acc")[60].as_py() == 0.5


def test_login_points_clients_at_a_server(tmp_path: Path, server: ServerProcess) -> None:
    res = kiseki_cli("login", server.url)
    assert res.returncode == 0, res.stderr
    proc = run_script("""
import kiseki
run = kiseki.init(project="via-login", id="l1")
run.log({"x": 1})
run.finish()
""", tmp_path)
    assert proc.returncode == 0
    run = kiseki.Api(settings={"base_url": server.url}).run("via-login/l1")
    assert run.state == "finished"
    bad = kiseki_cli("login", "http://127.0.0.1:9")
    assert bad.returncode != 0 and "cannot reach" in bad.stderr


def test_sdk_login_as_in_wandb(tmp_path: Path, server: ServerProcess) -> None:
    """``kiseki.login(host=..., key=...)`` saves what ``kiseki login`` saves; a server that
    cannot be reached is an error and the saved login stays as it was."""
    with pytest.raises(kiseki.UsageError, match="needs host="):
        kiseki.login()
    assert kiseki.login(host=server.url + "/") is True
    proc = run_script("""
import kiseki
with kiseki.init(project="via-sdk-login", id="s1") as run:
    run.log({"x": 1})
""", tmp_path)
    assert proc.returncode == 0
    assert kiseki.Api(settings={"base_url": server.url}).run("via-sdk-login/s1").state == "finished"
    with pytest.raises(kiseki.KisekiError, match="cannot reach http://127.0.0.1:9"):
        kiseki.login(host="http://127.0.0.1:9")
    from kiseki.sdk.settings import load_settings

    assert load_settings().base_url == server.url
    assert kiseki.login(key=None) is True  # the configured server, checked again


def test_help_everywhere() -> None:
    for args in (["--help"], ["server", "--help"], ["sync", "--help"], ["runs", "export",
                                                                         "--help"]):
        res = kiseki_cli(*args)
        assert res.returncode == 0 and "Usage" in res.stdout
