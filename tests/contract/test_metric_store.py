"""The metric store on SQLite and PostgreSQL: exact buckets, spikes, x axes, paging, idempotency."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np
import pytest

from kiseki.core import records as rec
from kiseki.store.sqlstore import SQLStore

T0 = 1_700_000_000.0


@pytest.fixture
def store(store_url: str) -> Iterator[SQLStore]:
    s = SQLStore.open(store_url)
    yield s
    s.close()


def _start(store: SQLStore, run_id: str = "r") -> None:
    store.ingest("p", run_id, "s", [(1, rec.RunStart(project="p", run_id=run_id, name=run_id,
                                                     created_at=T0))])


def _log(store: SQLStore, values: np.ndarray, key: str = "loss", run_id: str = "r",
         start_seq: int = 2, batch: int = 100_000, extra: dict[str, np.ndarray] | None = None
         ) -> None:
    seq = start_seq
    for lo in range(0, len(values), batch):
        entries = []
        for i in range(lo, min(lo + batch, len(values))):
            vals = {key: float(values[i])}
            for name, col in (extra or {}).items():
                vals[name] = float(col[i])
            entries.append((seq, rec.Metrics(i, T0 + i * 0.01, vals)))
            seq += 1
        store.ingest("p", run_id, "s", entries)


def _reference(values: np.ndarray, buckets: int) -> dict[str, list[float]]:
    n = len(values)
    idx = np.arange(n) * buckets // n
    out: dict[str, list[float]] = {"min": [], "max": [], "count": []}
    for b in range(buckets):
        chunk = values[idx == b]
        if len(chunk):
            out["min"].append(float(np.nanmin(chunk)))
            out["max"].append(float(np.nanmax(chunk)))
            out["count"].append(len(chunk))
    return out


def test_small_series_returns_every_point_exactly(store: SQLStore) -> None:
    _start(store)
    values = np.array([3.0, math.nan, -0.0, math.inf, -math.inf, 1.5])
    _log(store, values)
    cols = store.series("p", "r", "loss", buckets=100)
    assert cols["x"] == [0, 1, 2, 3, 4, 5]
    got = cols["last"]
    assert got[0] == 3.0 and math.isnan(got[1]) and math.copysign(1, got[2]) == -1
    assert got[3] == math.inf and got[4] == -math.inf
    rows = store.history_page("p", "r")["rows"]
    assert math.copysign(1, rows[2]["loss"]) == -1 and math.isnan(rows[1]["loss"])


@pytest.mark.parametrize("n,buckets", [(5_000, 100), (70_000, 1000), (300_000, 500)])
def test_buckets_match_a_numpy_reference(store: SQLStore, n: int, buckets: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.normal(size=n)
    _start(store)
    _log(store, values, extra={"with_nan": np.where(np.arange(n) % 97 == 0, np.nan, values)})
    cols = store.series("p", "r", "loss", buckets=buckets)
    assert sum(cols["count"]) == n
    assert len(cols["x"]) <= buckets
    assert min(cols["min"]) == pytest.approx(float(values.min()))
    assert max(cols["max"]) == pytest.approx(float(values.max()))
    total = sum(m * c for m, c in zip(cols["mean"], cols["count"]))
    assert total == pytest.approx(float(values.sum()), rel=1e-6, abs=1e-6)
    with_nan = store.series("p", "r", "with_nan", buckets=buckets)
    assert not any(math.isnan(v) for v in with_nan["min"] + with_nan["max"])  # NaN ignored
    if n <= 5_000:  # raw level: exactly the reference buckets
        ref = _reference(values, buckets)
        assert cols["min"] == pytest.approx(ref["min"]) and cols["count"] == ref["count"]


def test_spike_at_one_step_in_a_million_is_visible(store: SQLStore) -> None:
    values = np.sin(np.arange(1_000_000) / 1000.0)
    values[777_777] = 1e9
    _start(store)
    _log(store, values, batch=250_000)
    cols = store.series("p", "r", "loss", buckets=1000)
    assert len(cols["x"]) <= 1000
    assert max(cols["max"]) == 1e9
    spike_bucket = cols["max"].index(1e9)
    assert cols["x"][spike_bucket] <= 777_777 < (cols["x"][spike_bucket + 1]
                                                   if spike_bucket + 1 < len(cols["x"]) else 10**9)
    zoom = store.series("p", "r", "loss", buckets=100, x_min=777_700, x_max=777_800)
    assert zoom["x"][zoom["max"].index(1e9)] == 777_777


def test_x_axes_time_relative_and_another_metric(store: SQLStore) -> None:
    _start(store)
    n = 2000
    values = np.arange(n, dtype=float)
    epoch = np.floor(np.arange(n) / 100.0)
    _log(store, values, extra={"epoch": epoch})
    wall = store.series("p", "r", "loss", buckets=20, x_axis="_timestamp")
    assert wall["x"][0] == pytest.approx(T0) and sum(wall["count"]) == n
    rel = store.series("p", "r", "loss", buckets=20, x_axis="_runtime")
    assert rel["x"][0] == pytest.approx(0.0, abs=1e-6)
    assert rel["x"][-1] == pytest.approx(19.0, abs=1.0)
    by_epoch = store.series("p", "r", "loss", buckets=20, x_axis="epoch")
    assert by_epoch["x"] == pytest.approx(list(range(20)))
    assert by_epoch["min"][3] == 300.0 and by_epoch["max"][3] == 399.0


def test_history_pages_cover_every_step_once(store: SQLStore) -> None:
    _start(store)
    n = 2500
    _log(store, np.arange(n, dtype=float), extra={"b": np.arange(n) * 2.0})
    steps: list[int] = []
    cursor = None
    while True:
        page = store.history_page("p", "r", keys=["loss", "b"], min_step=cursor, page_size=700)
        steps += [r["_step"] for r in page["rows"]]
        assert all(r["b"] == 2 * r["loss"] for r in page["rows"])
        if page["next_step"] is None:
            break
        cursor = page["next_step"]
    assert steps == list(range(n))


def test_ingest_is_idempotent_on_stream_and_seq(store: SQLStore) -> None:
    _start(store)
    entries = [(i + 2, rec.Metrics(i, T0 + i, {"x": float(i)})) for i in range(100)]
    first = store.ingest("p", "r", "s", entries[:60])
    assert first.hwm == 61
    again = store.ingest("p", "r", "s", entries)  # a retry overlapping what was applied
    assert again.applied == 40 and again.hwm == 101
    assert store.ingest("p", "r", "s", entries).applied == 0
    assert sum(store.series("p", "r", "x", buckets=10)["count"]) == 100
    other = store.ingest("p", "r", "s2", [(1, rec.Metrics(100, T0, {"x": 7.0}))])
    assert other.applied == 1  # another stream of the same run has its own sequence


def test_summary_follows_define_metric_and_user_values(store: SQLStore) -> None:
    _start(store)
    store.ingest("p", "r", "s", [
        (2, rec.DefineMetric("val/*", summary="max")),
        (3, rec.Metrics(0, T0, {"val/acc": 0.5, "loss": 2.0})),
        (4, rec.Metrics(1, T0 + 1, {"val/acc": 0.9, "loss": 1.0})),
        (5, rec.Metrics(2, T0 + 2, {"val/acc": 0.7, "loss": math.nan})),
        (6, rec.SummaryUpdate({"note": "x"})),
        (7, rec.Finish("finished", 0, T0 + 3)),
    ])
    run = store.get_run("p", "r")
    assert run["summary"]["val/acc"] == 0.9 and run["state"] == "finished"
    assert math.isnan(run["summary"]["loss"]) and run["summary"]["note"] == "x"
    assert run["last_step"] == 2


def test_crashed_after_heartbeat_timeout(store_url: str) -> None:
    store = SQLStore.open(store_url, heartbeat_timeout=0.5)
    try:
        _start(store)
        assert store.get_run("p", "r")["state"] == "running"
        time.sleep(0.8)
        assert store.get_run("p", "r")["state"] == "crashed"
        store.heartbeat([("p", "r")])
        assert store.get_run("p", "r")["state"] == "running"
    finally:
        store.close()


def test_head_revision_constant_matches_alembic(store_url: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from kiseki.store.engine import HEAD_REVISION, MIGRATIONS_DIR, current_revision, make_engine

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION
    SQLStore.open(store_url).close()
    engine = make_engine(store_url)
    assert current_revision(engine) == HEAD_REVISION
    engine.dispose()


def test_r20_same_batch_ingested_at_once_is_applied_once(store_url: str) -> None:
    """Two writers sending the same stream at the same moment (an orphaned sender and
    `kiseki sync`): the stream's high-water mark is read under the write lock, so the second
    applies nothing."""
    import threading

    from kiseki.core import records as rec
    from kiseki.store.sqlstore import SQLStore

    store = SQLStore.open(store_url)
    try:
        for round_ in range(12):
            run_id = f"twice{round_}"
            # the run and its stream exist already (an earlier batch): no insert to collide on
            store.ingest("p", run_id, "s1", [(1, rec.RunStart("p", run_id, run_id, 1.0))])
            entries: list[tuple[int, rec.Record | None]] = [
                (2 + i, rec.Metrics(i, 1.0, {"x": float(i)})) for i in range(3000)]
            gate = threading.Barrier(2)
            errors: list[BaseException] = []

            def send() -> None:
                try:
                    gate.wait()
                    store.ingest("p", run_id, "s1", entries)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=send) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors, errors
            series = store.series("p", run_id, "x", buckets=10)
            assert sum(series["count"]) == 3000, f"round {round_}: duplicates"
    finally:
        store.close()
