"""What the web app needs from the server: the key catalogue, saved workspace layouts, and the
bundle served at / with deep links falling back to the app."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess, run_script

FILL = """
import kiseki
for i, lr in enumerate([0.1, 0.01]):
    with kiseki.init(project="web", name=f"lr-{lr}", id=f"r{i}",
                     config={"lr": lr, "opt": {"name": "adam", "beta": 0.9}}) as run:
        for step in range(20):
            run.log({"train/loss": lr * (20 - step), "val/acc": step / 20})
        run.summary["best/acc"] = 0.95
"""


def test_catalogue_lists_every_metric_config_and_summary_key(tmp_path: Path,
                                                             any_server: ServerProcess) -> None:
    run_script(FILL, tmp_path, env={"KISEKI_BASE_URL": any_server.url})
    cat = httpx.get(f"{any_server.url}/api/v1/projects/web/catalogue").json()
    assert cat["metrics"] == ["train/loss", "val/acc"]
    assert cat["config"] == ["lr", "opt.beta", "opt.name"]
    assert {"train/loss", "val/acc", "best/acc"} <= set(cat["summary"])
    missing = httpx.get(f"{any_server.url}/api/v1/projects/nope/catalogue")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_workspace_layout_is_saved_versioned_and_guarded(tmp_path: Path,
                                                         any_server: ServerProcess) -> None:
    run_script(FILL, tmp_path, env={"KISEKI_BASE_URL": any_server.url})
    url = f"{any_server.url}/api/v1/projects/web/workspace"
    empty = httpx.get(url).json()
    assert empty["version"] == 0 and empty["layout"] == {}
    layout = {"panels": {"train/loss": {"size": "large", "smoothing": 0.6}},
              "sections": {"val": {"collapsed": True}}}
    saved = httpx.put(url, json={"layout": layout, "base_version": 0}).json()
    assert saved["version"] == 1
    assert httpx.get(url).json()["layout"] == layout
    # A second tab that still holds version 0 gets a conflict, and nothing is overwritten.
    stale = httpx.put(url, json={"layout": {"panels": {}}, "base_version": 0})
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]
    assert httpx.get(url).json()["layout"] == layout
    # Bad input is refused with a message naming it (I-series): not an object, too large.
    assert httpx.put(url, json={"layout": [1, 2]}).status_code == 422
    huge = httpx.put(url, json={"layout": {"x": "y" * 600_000}})
    assert huge.status_code == 400 and "layout is" in huge.json()["detail"]
    assert httpx.get(url).json()["version"] == 1


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    ui = tmp_path / "ui"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text("<!doctype html><div id=root></div>APP")
    (ui / "assets" / "app-1234.js").write_text("console.log(1)")
    return ui


def test_bundle_served_with_deep_links_and_csp(tmp_path: Path, bundle: Path) -> None:
    srv = ServerProcess(tmp_path / "srv", env={"KISEKI_UI_DIR": str(bundle)}).start()
    try:
        root = httpx.get(srv.url + "/")
        assert "APP" in root.text and "script-src 'self'" in root.headers["content-security-policy"]
        deep = httpx.get(srv.url + "/p/some-project/r/abc?tab=console")
        assert deep.status_code == 200 and "APP" in deep.text
        asset = httpx.get(srv.url + "/assets/app-1234.js")
        assert asset.text == "console.log(1)" and "immutable" in asset.headers["cache-control"]
        assert httpx.get(srv.url + "/assets/missing.js").status_code == 404
        assert httpx.get(srv.url + "/api/v1/nothing-here").status_code == 404
        assert httpx.get(srv.url + "/../../etc/passwd").status_code in (200, 404)
        assert "root:" not in httpx.get(srv.url + "/%2e%2e/%2e%2e/etc/passwd").text
    finally:
        srv.stop()


def test_missing_bundle_page_names_the_build_command(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "srv", env={"KISEKI_UI_DIR": str(tmp_path / "none")}).start()
    try:
        page = httpx.get(srv.url + "/p/x")
        assert page.status_code == 200 and "make ui" in page.text
    finally:
        srv.stop()


def test_remote_clients_get_gzip_and_loopback_plain(tmp_path: Path) -> None:
    """Large answers are gzipped for browsers on other hosts; on loopback compressing costs more
    than moving the bytes, so they go plain; live updates (SSE) are never compressed."""
    import asyncio

    from kiseki.core import records as rec
    from kiseki.server.app import create_app
    from kiseki.server.settings import ServerSettings
    from kiseki.store.sqlstore import SQLStore

    store = SQLStore.open(f"sqlite:///{tmp_path}/k.db")
    store.ingest("web", "r0", "s", [(1, rec.RunStart(project="web", run_id="r0", name="r0",
                                                     created_at=1.0))])
    store.ingest("web", "r0", "s", [(i + 2, rec.Metrics(i, 1.0 + i, {"loss": 1 / (i + 1)}))
                                    for i in range(2000)])
    app = create_app(ServerSettings(data_dir=str(tmp_path)), store=store)
    body = {"runs": ["r0"], "keys": ["loss"], "buckets": 1000}

    async def ask(host: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://kiseki") as client:
            return await client.post("/api/v1/projects/web/series", json=body,
                                     headers={"Accept-Encoding": "gzip"})

    remote = asyncio.run(ask("10.1.2.3"))
    local = asyncio.run(ask("127.0.0.1"))
    try:
        assert remote.headers.get("content-encoding") == "gzip"
        assert "content-encoding" not in local.headers
        assert remote.json() == local.json() and len(local.json()["series"][0]["x"]) == 1000
    finally:
        store.close()


def test_live_stream_is_not_compressed(tmp_path: Path, server: ServerProcess) -> None:
    run_script(FILL, tmp_path, env={"KISEKI_BASE_URL": server.url})
    with httpx.stream("GET", f"{server.url}/api/v1/projects/web/live",
                      params={"max_seconds": 1}, headers={"Accept-Encoding": "gzip"}) as live:
        assert live.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in live.headers


def _decode_series(body: bytes) -> dict[str, Any]:
    """The binary query_series answer (see ``routes/metrics.py``) as lists of floats."""
    import json

    assert body[:4] == b"KSS1"
    (length,) = struct.unpack_from("<I", body, 4)
    start = 8 + length
    assert start % 8 == 0
    head = json.loads(body[8:start])
    at = start
    series = []
    for s in head["series"]:
        cols = {}
        for c in head["columns"]:
            cols[c] = list(struct.unpack_from(f"<{s['n']}d", body, at))
            at += 8 * s["n"]
        series.append({"run": s["run"], "key": s["key"], "x_axis": s["x_axis"], **cols})
    assert at == len(body)
    return {"columns": head["columns"], "series": series, "missing": head["missing"]}


def _revive(v: Any) -> float:
    if isinstance(v, dict):
        return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[v["$float"]]
    return math.nan if v is None else float(v)


def _same_float(a: float, b: float) -> bool:
    """Equal bit for bit (the sign of zero included); any NaN equals any NaN."""
    return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)


def test_binary_series_answer_holds_the_json_numbers(tmp_path: Path) -> None:
    """Charts ask for query_series as float64 columns (Accept: application/x-kiseki-series):
    the same numbers as the JSON answer, NaN, ±inf and -0.0 exact, only the columns asked for;
    clients that do not ask get JSON."""
    import asyncio

    from kiseki.core import records as rec
    from kiseki.server.app import create_app
    from kiseki.server.settings import ServerSettings
    from kiseki.store.sqlstore import SQLStore

    special = {3: math.nan, 4: math.inf, 5: -math.inf, 6: -0.0, 7: 5e-324,
               8: 1.7976931348623157e308, 9: 1 / 3}
    store = SQLStore.open(f"sqlite:///{tmp_path}/k.db")
    for run, n in (("r0", 20), ("r1", 3000)):
        store.ingest("web", run, "s", [(1, rec.RunStart(project="web", run_id=run, name=run,
                                                        created_at=1.0))])
        store.ingest("web", run, "s", [
            (i + 2, rec.Metrics(i, 1.0 + i * 0.1, {"loss": special.get(i, math.sin(i) * 1e-3)}))
            for i in range(n)])
    app = create_app(ServerSettings(data_dir=str(tmp_path)), store=store)

    async def ask(body: dict[str, Any], accept: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://kiseki") as client:
            return await client.post("/api/v1/projects/web/series", json=body,
                                     headers={"Accept": accept})

    def both(body: dict[str, Any], accept: str) -> tuple[dict[str, Any], dict[str, Any]]:
        as_json = asyncio.run(ask(body, "application/json"))
        binary = asyncio.run(ask(body, accept))
        assert as_json.headers["content-type"].startswith("application/json")
        assert binary.status_code == 200, binary.text
        assert binary.headers["content-type"] == "application/x-kiseki-series"
        return as_json.json(), _decode_series(binary.content)

    try:
        queries = [
            {"buckets": 1000},  # raw points: the special values themselves
            {"buckets": 7},  # buckets of many points: min, max, mean, last and count differ
            {"buckets": 50, "x_min": 2.5, "x_max": 1200},
            {"buckets": 1000, "x_axis": "_timestamp"},  # x not whole numbers
        ]
        for q in queries:
            body = {"runs": ["r0", "r1", "nope"], "keys": ["loss", "acc"], **q}
            js, bn = both(body, "application/x-kiseki-series")
            assert bn["columns"] == ["x", "min", "max", "mean", "last", "count"]
            assert bn["missing"] == js["missing"] and len(js["missing"]) == 4
            assert len(bn["series"]) == len(js["series"]) == 2
            for sj, sb in zip(js["series"], bn["series"]):
                assert (sb["run"], sb["key"], sb["x_axis"]) == (sj["run"], sj["key"], sj["x_axis"])
                for c in bn["columns"]:
                    want = [_revive(v) for v in sj[c]]
                    assert len(sb[c]) == len(want) > 0
                    assert all(_same_float(a, b) for a, b in zip(sb[c], want)), (q, sj["run"], c)
        # the raw answer really carries the special values (so the comparison above covers them)
        js, bn = both({"runs": ["r0"], "keys": ["loss"], "buckets": 1000},
                      'application/x-kiseki-series; columns="x last count", application/json;q=0.5')
        last = bn["series"][0]["last"]
        assert math.isnan(last[3]) and last[4] == math.inf and last[5] == -math.inf
        assert last[6] == 0.0 and math.copysign(1.0, last[6]) == -1.0
        assert last[7] == 5e-324 and last[8] == 1.7976931348623157e308 and last[9] == 1 / 3
        assert bn["columns"] == ["x", "last", "count"]  # only the columns asked for
        assert bn["series"][0]["x"] == list(range(20)) and bn["series"][0]["count"] == [1.0] * 20
        # declined (q=0) or not asked for: JSON; an unknown column: a 4xx naming it
        body = {"runs": ["r0"], "keys": ["loss"], "buckets": 10}
        declined = asyncio.run(ask(body, "application/x-kiseki-series;q=0, application/json"))
        assert declined.headers["content-type"].startswith("application/json")
        bad = asyncio.run(ask(body, 'application/x-kiseki-series; columns="x median"'))
        assert 400 <= bad.status_code < 500 and "median" in bad.text
    finally:
        store.close()
