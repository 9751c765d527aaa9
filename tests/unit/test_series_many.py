"""Many series in one read (``SQLStore.series_many``, behind ``POST .../series``) give exactly
what one ``series`` call per run and key gives: raw and bucket levels, zoomed windows, gaps,
steps logged out of order, NaN/±inf/-0.0, missing runs and keys."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from kiseki.core import records as rec
from kiseki.core.errors import NotFoundError, ValidationError
from kiseki.server.respond import json_response
from kiseki.server.routes.metrics import _series_response
from kiseki.store.sqlstore import SQLStore

T0 = 1_700_000_000.0
RUNS = ["long", "sparse", "shuffled", "nometrics", "ghost"]
KEYS = ["loss", "acc", "nope"]


def _ingest(store: SQLStore, run_id: str, points: list[tuple[int, dict[str, float]]],
            batch: int) -> None:
    store.ingest("p", run_id, "s", [(1, rec.RunStart(project="p", run_id=run_id, name=run_id,
                                                     created_at=T0))])
    seq = 1
    for lo in range(0, len(points), batch):
        entries = []
        for step, values in points[lo: lo + batch]:
            seq += 1
            entries.append((seq, rec.Metrics(step, T0 + seq * 0.01, values)))
        store.ingest("p", run_id, "s", entries)


@pytest.fixture
def store(store_url: str) -> Iterator[SQLStore]:
    s = SQLStore.open(store_url)
    rng = np.random.default_rng(3)
    loss = rng.normal(size=20_000)
    loss[12_345] = 1e9  # a spike
    loss[100:110] = math.nan
    loss[777] = math.inf
    loss[778] = -0.0
    _ingest(s, "long", [(i, {"loss": float(v), **({"acc": i / 20_000} if i % 3 else {})})
                        for i, v in enumerate(loss)], batch=1_000)
    _ingest(s, "sparse", [(i * 7, {"loss": float(np.sin(i))}) for i in range(3_000)], batch=400)
    # two passes over the same steps: blocks overlap and arrive out of step order
    shuffled = [(i, {"loss": float(i)}) for i in range(1_000, 1_500)]
    shuffled += [(i, {"loss": -float(i), "acc": 0.5}) for i in range(0, 1_200)]
    shuffled += [(i, {"loss": 0.25}) for i in range(600, 650)]
    _ingest(s, "shuffled", shuffled, batch=137)
    s.ingest("p", "nometrics", "s", [(1, rec.RunStart(project="p", run_id="nometrics",
                                                      name="n", created_at=T0))])
    yield s
    s.close()


def _one_by_one(store: SQLStore, runs: list[str], keys: list[str], **kw: Any
                ) -> dict[str, Any]:
    series, missing = [], []
    for run in runs:
        for key in keys:
            try:
                series.append(store.series("p", run, key, **kw))
            except NotFoundError:
                missing.append({"run": run, "key": key})
    return {"series": series, "missing": missing}


def _same(a: Any, b: Any) -> None:
    # JSON text tells NaN, inf and -0.0 apart and compares them as equal to themselves
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


VIEWS = [
    {},  # whole runs: 20,000 steps in 1,000 buckets reads raw points
    {"buckets": 50},  # 400 steps per bucket: level-2 summaries
    {"buckets": 3},  # coarse levels
    {"buckets": 1},
    {"buckets": 10_000},
    {"x_min": 1_000, "x_max": 1_500},  # zoomed into raw points, fewer than the buckets
    {"x_min": 12_000.5, "x_max": 12_999.2, "buckets": 100},  # fractional edges, the spike
    {"x_min": 0, "x_max": 19_999, "buckets": 20},
    {"x_min": 5_000},
    {"x_max": 700, "buckets": 64},
    {"x_min": -50, "x_max": 30_000, "buckets": 333},
    {"x_min": 18_000, "x_max": 1_000},  # empty window
    {"x_min": 50_000},  # beyond every run
]


def test_many_equals_one_by_one(store: SQLStore) -> None:
    for view in VIEWS:
        got = store.series_many("p", RUNS, KEYS, **view)
        _same(got, _one_by_one(store, RUNS, KEYS, **view))
        assert [s["run"] for s in got["series"]][:2] == ["long", "long"]  # run-major order
        assert {"run": "ghost", "key": "loss"} in got["missing"]
        assert {"run": "nometrics", "key": "loss"} in got["missing"]
    # the first and the sixth view: the long run in 1,000 raw buckets, the zoom as raw points
    whole = store.series_many("p", ["long"], ["loss"])["series"][0]
    assert len(whole["x"]) == 1_000 and whole["count"][0] == 20
    zoom = store.series_many("p", ["long"], ["loss"], x_min=1_000, x_max=1_500)["series"][0]
    assert zoom["x"] == list(range(1_000, 1_501))


def test_values_that_matter(store: SQLStore) -> None:
    got = store.series_many("p", ["long", "shuffled"], ["loss"], buckets=100)
    long, shuffled = got["series"]
    assert 1e9 in long["max"] and math.inf in long["max"]  # spikes survive downsampling
    assert sum(long["count"]) == 20_000
    assert sum(shuffled["count"]) == 500 + 1_200 + 50  # every point, duplicates included
    assert shuffled["x"][0] == 0


def test_other_axes_and_duplicates(store: SQLStore) -> None:
    for kw in ({"x_axis": "_timestamp", "buckets": 40}, {"x_axis": "_runtime"},
               {"x_axis": "acc", "buckets": 25}):
        _same(store.series_many("p", RUNS, KEYS, **kw), _one_by_one(store, RUNS, KEYS, **kw))
    runs = ["long", "sparse", "long"]
    _same(store.series_many("p", runs, ["loss", "loss"], x_min=10, x_max=4_000),
          _one_by_one(store, runs, ["loss", "loss"], x_min=10, x_max=4_000))
    assert store.series_many("other", ["long"], ["loss"])["missing"] == [
        {"run": "long", "key": "loss"}]
    assert store.series_many("p", [], ["loss"]) == {"series": [], "missing": []}


def test_bad_arguments_rejected(store: SQLStore) -> None:
    with pytest.raises(ValidationError):
        store.series_many("p", ["long"], ["loss"], buckets=0)
    with pytest.raises(ValidationError):
        store.series_many("p", ["long"], ["loss"], x_min=math.inf)


def test_route_encoding_matches_json_response(store: SQLStore) -> None:
    """The route's fast JSON path writes the same bytes as ``json_response`` (NaN/inf tagged)."""
    for view in ({}, {"x_min": 90, "x_max": 800}, {"buckets": 7}):
        result = store.series_many("p", RUNS, KEYS, **view)
        fast = _series_response(result)
        assert fast.body == json_response(result).body
    assert b'{"$float":"nan"}' in _series_response(
        store.series_many("p", ["long"], ["loss"], x_min=100, x_max=109)).body


def test_raw_buckets_match_a_plain_reference(store: SQLStore) -> None:
    """Views finer than the stored summaries bucket raw points: each output bucket ``i`` holds
    the steps with ``(step - lo) * buckets // (hi - lo + 1) == i`` (checked against numpy)."""
    from kiseki.store import metrics as m
    from kiseki.store.queries import _key, run_pk

    cases = [("long", 0, 19_999, 1_000), ("long", 12_001, 12_999, 100), ("long", 3, 2_000, 17),
             ("sparse", 0, 20_993, 999), ("sparse", 10, 1_000, 13), ("shuffled", 0, 1_499, 300),
             ("shuffled", 599, 1_201, 61)]
    with store.engine.connect() as conn:
        for run, lo, hi, buckets in cases:
            steps, _, values = m.load_points(conn, _key(conn, run_pk(conn, "p", run), "loss")["id"],
                                             step_lo=lo, step_hi=hi)
            assert len(steps) > buckets and m.choose_level((hi - lo + 1) / buckets) == 0
            idx = (steps - lo) * buckets // (hi - lo + 1)
            expected: dict[str, list[Any]] = {c: [] for c in m.COLUMNS}
            for i in np.unique(idx):
                v = values[idx == i]
                finite = v[~np.isnan(v)]
                expected["x"].append(int(steps[idx == i][0]))
                expected["min"].append(float(finite.min()) if len(finite) else math.nan)
                expected["max"].append(float(finite.max()) if len(finite) else math.nan)
                expected["mean"].append(float(finite.sum() / len(finite)) if len(finite)
                                        else math.nan)
                expected["last"].append(float(v[-1]))
                expected["count"].append(len(v))
            got = store.series_many("p", [run], ["loss"], buckets=buckets, x_min=lo,
                                    x_max=hi)["series"][0]
            for col in ("x", "min", "max", "last", "count"):
                _same(got[col], expected[col])
            np.testing.assert_allclose(got["mean"], expected["mean"], rtol=1e-12)


def test_cached_answers_match_and_follow_new_points(store: SQLStore) -> None:
    """The second identical query is served from the store's cache (no bucket read) and equals
    the first; points logged afterwards (a live run) show up at once, never a stale chart."""
    query = {"buckets": 100}
    first = store.series_many("p", ["long", "sparse"], ["loss"], **query)
    assert len(store.series_cache._entries) == 2
    from kiseki.store import metrics as m

    calls = []
    original = m._bucket_rows_of
    m._bucket_rows_of = lambda *a, **k: calls.append(a) or original(*a, **k)  # type: ignore
    try:
        again = store.series_many("p", ["long", "sparse"], ["loss"], **query)
    finally:
        m._bucket_rows_of = original  # type: ignore[assignment]
    _same(again, first)
    assert calls == []  # served from the cache
    _ingest_more = [(2, rec.Metrics(20_000, T0 + 999.0, {"loss": 5e9}))]
    store.ingest("p", "long", "s2", _ingest_more)
    fresh = store.series_many("p", ["long"], ["loss"], **query)
    _same(fresh, _one_by_one(store, ["long"], ["loss"], **query))
    assert fresh["series"][0]["max"][-1] == 5e9 and fresh["series"][0]["x"][-1] <= 20_000
