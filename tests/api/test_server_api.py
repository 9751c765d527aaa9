"""REST API of a real server: OpenAPI, run lists with filters and pages, multi-run series, SSE."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

import kiseki
from tests.conftest import ServerProcess, run_script

FILL = """
import kiseki
for i, lr in enumerate([0.1, 0.01, 0.001, 0.0001]):
    run = kiseki.init(project="api", name=f"lr-{lr}", id=f"run{i}", config={"lr": lr, "opt": {"name": "adam" if i % 2 else "sgd"}},
                      tags=["best"] if i == 2 else [], group="sweep")
    for step in range(50):
        run.log({"loss": lr * (50 - step), "acc": step / 50})
    run.finish(exit_code=1 if i == 3 else 0)
"""


def _fill(tmp_path: Path, server: ServerProcess) -> None:
    run_script(FILL, tmp_path, env={"KISEKI_BASE_URL": server.url})


def test_openapi_and_security_headers(server: ServerProcess) -> None:
    resp = httpx.get(f"{server.url}/api/v1/openapi.json")
    spec = resp.json()
    assert "/api/v1/projects/{project}/runs" in spec["paths"]
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"list_runs", "get_run", "get_series", "query_series", "get_history", "ingest"} <= ops
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in resp.headers


def test_filters_sort_and_pages_over_http(tmp_path: Path, any_server: ServerProcess) -> None:
    _fill(tmp_path, any_server)
    api = kiseki.Api(settings={"base_url": any_server.url})
    names = [r.name for r in api.runs("api", filters="config.lr >= 0.001 and not tags contains 'best'",
                                     order="-config.lr")]
    assert names == ["lr-0.1", "lr-0.01"]
    failed = [r.id for r in api.runs("api", filters='state = "failed" or config.opt.name = "adam"')]
    assert sorted(failed) == ["run1", "run3"]
    mongo = [r.id for r in api.runs("api", filters={"$or": [{"config.lr": {"$gt": 0.05}},
                                                             {"tags": "best"}]})]
    assert sorted(mongo) == ["run0", "run2"]
    ordered = [r.id for r in api.runs("api", order="+summary.loss", per_page=1)]
    assert ordered == ["run3", "run2", "run1", "run0"]  # paged one at a time
    runs = api.runs("api", order="+summary.loss", per_page=3)
    assert (len(runs), runs[0].id, runs[-1].id, runs[-4].id) == (4, "run3", "run0", "run3")
    assert [r.id for r in runs[1:]] == ["run2", "run1", "run0"]  # two pages of at most 3
    assert [r.id for r in runs[::-2]] == ["run0", "run2"] and runs[5:] == []
    for bad in (4, -5):
        with pytest.raises(IndexError, match="out of range"):
            runs[bad]

    # Editing a stored run as in wandb: set or append, then update(); or pass the values.
    run = api.run("api/run2")
    run.name = "kept"
    run.tags.append("reviewed")
    run.update()
    again = api.run("api/run2")
    assert (again.name, again.tags) == ("kept", ["best", "reviewed"])
    listed = next(iter(api.runs("api", filters='tags contains "reviewed"')))
    listed.tags.remove("best")
    listed.update(notes="checked by hand")
    again = api.run("api/run2")
    assert (again.tags, again.notes, again.name) == (["reviewed"], "checked by hand", "kept")
    with pytest.raises(kiseki.UsageError, match="name, notes or tags only"):
        again.update(state="crashed")
    # history(): a pandas DataFrame by default, as in wandb; sampled evenly
    frame = again.history(keys=["loss"], samples=10)
    assert {"_step", "loss"} <= set(frame.columns)
    assert frame["_step"].tolist() == list(range(0, 50, 5))
    assert len(again.history(pandas=False)) == 50
    resp = httpx.get(f"{any_server.url}/api/v1/projects/api/runs", params={"filter": "config.lr >"})
    assert resp.status_code == 400 and "column" in resp.json()["detail"]
    projects = httpx.get(f"{any_server.url}/api/v1/projects").json()
    assert projects[0]["name"] == "api" and projects[0]["run_count"] == 4


def test_many_runs_series_in_one_request(tmp_path: Path, server: ServerProcess) -> None:
    _fill(tmp_path, server)
    body = {"runs": ["run0", "run1", "nope"], "keys": ["loss", "acc"], "buckets": 10}
    resp = httpx.post(f"{server.url}/api/v1/projects/api/series", json=body)
    data = resp.json()
    assert resp.status_code == 200
    assert len(data["series"]) == 4 and {"run": "nope", "key": "loss"} in data["missing"]
    loss0 = next(s for s in data["series"] if s["run"] == "run0" and s["key"] == "loss")
    assert sum(loss0["count"]) == 50 and loss0["max"][0] == 0.1 * 50


def test_live_stream_reports_a_growing_run(tmp_path: Path, server: ServerProcess) -> None:
    script = tmp_path / "live.py"
    script.write_text("""
import kiseki, time
run = kiseki.init(project="live", id="grow")
for step in range(40):
    run.log({"x": step})
    time.sleep(0.1)
run.finish()
""")
    import subprocess
    import sys
    import os

    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                            env={**os.environ, "KISEKI_BASE_URL": server.url})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if httpx.get(f"{server.url}/api/v1/projects").json():
                break
            time.sleep(0.1)
        steps: list[int] = []
        with httpx.stream("GET", f"{server.url}/api/v1/projects/live/live",
                          params={"interval": 0.2, "max_seconds": 15}, timeout=20) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    assert event["project"] == "live" and "summary" in event
                    if event["last_step"] is not None:
                        steps.append(event["last_step"])
                    if len(set(steps)) >= 3 or event["state"] != "running":
                        break
        assert len(set(steps)) >= 2 and steps == sorted(steps)
    finally:
        proc.wait(timeout=60)


def test_update_run_notes_and_tags(tmp_path: Path, server: ServerProcess) -> None:
    _fill(tmp_path, server)
    resp = httpx.patch(f"{server.url}/api/v1/projects/api/runs/run0",
                       json={"notes": "<b>keep</b>", "tags": ["a", "b"]})
    assert resp.status_code == 200
    run = kiseki.Api(settings={"base_url": server.url}).run("api/run0")
    assert run.notes == "<b>keep</b>" and run.tags == ["a", "b"]
    missing = httpx.get(f"{server.url}/api/v1/projects/api/runs/zzz")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
