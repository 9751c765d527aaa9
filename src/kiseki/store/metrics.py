"""The metric store: raw points plus multi-resolution bucket summaries.

Ingest appends raw points in blocks (kept for history export) and folds every batch into bucket
rows at levels FIRST_LEVEL..LEVELS, where a level-L bucket covers ``BUCKET_BASE**L`` consecutive steps and keeps
count, sum, min, max, last and the wall-time span. A chart query picks the coarsest level
whose buckets are still narrower than one output bucket, so it reads at most about
``BUCKET_BASE * buckets`` rows whatever the number of points logged, and every output bucket
carries its min and max: a spike at one step in ten million stays visible.

Raw blocks hold float64 arrays, so NaN and -0.0 survive exactly. In SQL columns (summaries,
key aggregates) SQLite keeps NaN as NULL and loses the sign of -0.0: ``special`` = 1 (NaN) or
2 (-0.0) marks those. Bucket stats ignore NaN.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, case, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from kiseki.store.tables import metric_blocks, metric_buckets, metric_keys

BUCKET_SHIFT = 4
BUCKET_BASE = 1 << BUCKET_SHIFT
LEVELS = 6  # 16 ** 6 = 16.7M steps per top bucket
FIRST_LEVEL = 2  # views finer than 256 steps per bucket read raw blocks (<= 256 x buckets points)
NAN, NEG_ZERO = 1, 2
SMALL_BLOCK = 256
COMPACT_AFTER = 32


@dataclass
class KeyBatch:
    """Points of one key within one ingest batch, in arrival order."""

    steps: list[int]
    ts: list[float]
    values: list[float]


def _none_if_nan(x: float) -> float | None:
    return None if x != x else x


def decode_value(value: float | None, special: int | None) -> float:
    if special == NAN or (value is None and special is None):
        return math.nan
    if special == NEG_ZERO:
        return -0.0
    return float(value)  # type: ignore[arg-type]


def pack(steps: np.ndarray, ts: np.ndarray, values: np.ndarray) -> bytes:
    return (steps.astype("<i8").tobytes() + ts.astype("<f8").tobytes()
            + values.astype("<f8").tobytes())


def unpack(data: bytes, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    buf = np.frombuffer(data, dtype=np.uint8)
    steps = buf[: 8 * n].view("<i8")
    ts = buf[8 * n: 16 * n].view("<f8")
    values = buf[16 * n: 24 * n].view("<f8")
    return steps, ts, values


def _block(key_id: int, steps: np.ndarray, ts: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    return {"key_id": key_id, "n": len(steps), "step_min": int(steps.min()),
            "step_max": int(steps.max()), "ts_min": float(ts.min()), "ts_max": float(ts.max()),
            "data": pack(steps, ts, values)}


def block_row(key_id: int, batch: KeyBatch) -> dict[str, Any]:
    """The ``metric_blocks`` row holding one key's points of one batch."""
    return _block(key_id, np.asarray(batch.steps, dtype=np.int64),
                  np.asarray(batch.ts, dtype=np.float64),
                  np.asarray(batch.values, dtype=np.float64))


def insert_block(conn: Connection, key_id: int, steps: np.ndarray, ts: np.ndarray,
                 values: np.ndarray, block_id: int | None = None) -> None:
    row = _block(key_id, steps, ts, values)
    if block_id is not None:
        row["id"] = block_id
    conn.execute(insert(metric_blocks).values(**row))


def compact_small_blocks(conn: Connection, key_id: int) -> None:
    """Merge the small blocks of a key into one, keeping arrival order (first id)."""
    t = metric_blocks.c
    rows = conn.execute(select(t.id, t.n, t.data).where(t.key_id == key_id, t.n < SMALL_BLOCK)
                        .order_by(t.id)).all()
    if len(rows) < 2:
        return
    parts = [unpack(r.data, r.n) for r in rows]
    conn.execute(delete(metric_blocks).where(t.id.in_([r.id for r in rows])))
    insert_block(conn, key_id, np.concatenate([p[0] for p in parts]),
                 np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]),
                 block_id=rows[0].id)


def load_points(conn: Connection, key_id: int, step_lo: int | None = None,
                step_hi: int | None = None, ts_lo: float | None = None,
                ts_hi: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw points of a key in a step or time window, sorted by step (then arrival)."""
    parts = select_blocks(conn, [key_id], step_lo, step_hi, ts_lo, ts_hi).get(key_id, [])
    steps, ts, values = points_of(parts, step_lo, step_hi, ts_lo, ts_hi)
    assert ts is not None
    return steps, ts, values


def select_blocks(conn: Connection, key_ids: list[int], step_lo: int | None = None,
                  step_hi: int | None = None, ts_lo: float | None = None,
                  ts_hi: float | None = None) -> dict[int, list[Any]]:
    """``(id, n, data)`` of the blocks of some keys that may hold points in a window, per key in
    arrival (id) order."""
    t = metric_blocks.c
    cond = [t.key_id == key_ids[0] if len(key_ids) == 1 else t.key_id.in_(key_ids)]
    if step_lo is not None:
        cond.append(t.step_max >= step_lo)
    if step_hi is not None:
        cond.append(t.step_min <= step_hi)
    if ts_lo is not None:
        cond.append(t.ts_max >= ts_lo)
    if ts_hi is not None:
        cond.append(t.ts_min <= ts_hi)
    # No ORDER BY: sorting rows that carry blobs makes SQLite copy every blob through a
    # temporary b-tree (several times slower than reading them); the few rows are sorted here.
    out: dict[int, list[Any]] = {}
    for r in conn.execute(select(t.key_id, t.id, t.n, t.data).where(*cond)):
        out.setdefault(r[0], []).append(r[1:])
    for parts in out.values():
        parts.sort(key=lambda r: r[0])
    return out


def points_of(parts: list[Any], step_lo: int | None = None, step_hi: int | None = None,
              ts_lo: float | None = None, ts_hi: float | None = None, with_ts: bool = True
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The points of ``select_blocks`` rows inside the window, sorted by step (then arrival).
    ``with_ts=False`` leaves the wall times out (None) when the caller has no use for them."""
    if not parts:
        empty = np.zeros(0)
        return empty.astype(np.int64), (empty if with_ts else None), empty
    steps = np.concatenate([np.frombuffer(d, "<i8", n, 0) for _, n, d in parts])
    values = np.concatenate([np.frombuffer(d, "<f8", n, 16 * n) for _, n, d in parts])
    ts = (np.concatenate([np.frombuffer(d, "<f8", n, 8 * n) for _, n, d in parts])
          if with_ts or ts_lo is not None or ts_hi is not None else None)
    if len(steps) > 1 and not bool(np.all(steps[:-1] <= steps[1:])):
        keep = np.ones(len(steps), dtype=bool)
        if step_lo is not None:
            keep &= steps >= step_lo
        if step_hi is not None:
            keep &= steps <= step_hi
        if ts is not None:
            if ts_lo is not None:
                keep &= ts >= ts_lo
            if ts_hi is not None:
                keep &= ts <= ts_hi
        order = np.flatnonzero(keep)[np.argsort(steps[keep], kind="stable")]
        return steps[order], (ts[order] if ts is not None and with_ts else None), values[order]
    # already in step order (the usual case): the step window is a slice, nothing to sort
    a = 0 if step_lo is None else int(np.searchsorted(steps, step_lo, "left"))
    b = len(steps) if step_hi is None else int(np.searchsorted(steps, step_hi, "right"))
    steps, values = steps[a:b], values[a:b]
    if ts is not None:
        ts = ts[a:b]
        if ts_lo is not None or ts_hi is not None:
            in_window = np.ones(len(ts), dtype=bool)
            if ts_lo is not None:
                in_window &= ts >= ts_lo
            if ts_hi is not None:
                in_window &= ts <= ts_hi
            steps, ts, values = steps[in_window], ts[in_window], values[in_window]
    return steps, (ts if with_ts else None), values


def delete_from_step(conn: Connection, key_id: int, step: int) -> None:
    """Remove every point at ``step`` or later (an explicit rewind)."""
    t = metric_blocks.c
    rows = conn.execute(select(t.id, t.n, t.data).where(t.key_id == key_id, t.step_max >= step)
                        .order_by(t.id)).all()
    for r in rows:
        steps, ts, values = unpack(r.data, r.n)
        keep = steps < step
        conn.execute(delete(metric_blocks).where(t.id == r.id))
        if keep.any():
            insert_block(conn, key_id, steps[keep], ts[keep], values[keep], block_id=r.id)


def bucket_rows(key_id: int, batch: KeyBatch) -> list[dict[str, Any]]:
    """Aggregate a batch into bucket rows for every level (vectorised when it pays off)."""
    if len(batch.steps) <= 32:
        return _bucket_rows_small(key_id, batch)
    steps = np.asarray(batch.steps, dtype=np.int64)
    values = np.asarray(batch.values, dtype=np.float64)
    ts = np.asarray(batch.ts, dtype=np.float64)
    arrival = np.arange(len(steps))
    valid = ~np.isnan(values)
    zeroed = np.where(valid, values, 0.0)
    rows: list[dict[str, Any]] = []
    for level in range(FIRST_LEVEL, LEVELS + 1):
        buckets = steps >> (BUCKET_SHIFT * level)
        order = np.lexsort((arrival, steps, buckets))
        b = buckets[order]
        starts, ends = _runs(b)
        v = values[order]
        with np.errstate(invalid="ignore"):
            sums = np.add.reduceat(zeroed[order], starts)
        counts = ends - starts + 1
        finite = np.add.reduceat(valid[order].astype(np.int64), starts)
        mins = np.fmin.reduceat(v, starts)
        maxs = np.fmax.reduceat(v, starts)
        tsv = ts[order]
        ts_min = np.minimum.reduceat(tsv, starts)
        ts_max = np.maximum.reduceat(tsv, starts)
        lasts = v[ends]
        last_steps = steps[order][ends]
        for i in range(len(starts)):
            rows.append({
                "key_id": key_id, "level": level, "bucket": int(b[starts[i]]),
                "count": int(counts[i]), "finite_count": int(finite[i]),
                "sum": _none_if_nan(float(sums[i])), "min": _none_if_nan(float(mins[i])),
                "max": _none_if_nan(float(maxs[i])), "last": _none_if_nan(float(lasts[i])),
                "last_step": int(last_steps[i]), "ts_min": float(ts_min[i]),
                "ts_max": float(ts_max[i]),
            })
    return rows


def _bucket_rows_small(key_id: int, batch: KeyBatch) -> list[dict[str, Any]]:
    # numpy's per-call overhead dominates for the handful of points of a live batch
    rows: list[dict[str, Any]] = []
    points = sorted(zip(batch.steps, range(len(batch.steps)), batch.ts, batch.values))
    for level in range(FIRST_LEVEL, LEVELS + 1):
        shift = BUCKET_SHIFT * level
        current: dict[str, Any] | None = None
        for step, _, ts, value in points:
            bucket = int(step) >> shift
            if current is None or current["bucket"] != bucket:
                current = {"key_id": key_id, "level": level, "bucket": bucket, "count": 0,
                           "finite_count": 0, "sum": 0.0, "min": None, "max": None,
                           "last": None, "last_step": int(step), "ts_min": ts, "ts_max": ts}
                rows.append(current)
            value = float(value)
            current["count"] += 1
            if value == value:
                current["finite_count"] += 1
                current["sum"] += value
                if current["min"] is None or value < current["min"]:
                    current["min"] = value
                if current["max"] is None or value > current["max"]:
                    current["max"] = value
            current["last"] = _none_if_nan(value)
            current["last_step"] = int(step)
            current["ts_min"] = min(current["ts_min"], ts)
            current["ts_max"] = max(current["ts_max"], ts)
    for row in rows:
        row["sum"] = _none_if_nan(row["sum"])
    return rows


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index of each run of equal values (``np.r_`` is slow for this)."""
    change = np.empty(len(sorted_keys), dtype=bool)
    change[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:] - 1
    ends[-1:] = len(sorted_keys) - 1
    return starts, ends


def _least(a: Any, b: Any) -> Any:
    return case((a.is_(None), b), (b.is_(None), a), (b < a, b), else_=a)


def _greatest(a: Any, b: Any) -> Any:
    return case((a.is_(None), b), (b.is_(None), a), (b > a, b), else_=a)


def upsert_buckets(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Merge bucket rows into stored ones (count/sum add, min/max widen, last by step)."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(metric_buckets)
    ex = stmt.excluded
    t = metric_buckets.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.key_id, t.level, t.bucket],
        set_={
            "count": t.count + ex.count,
            "finite_count": t.finite_count + ex.finite_count,
            "sum": t.sum + ex.sum,
            "min": _least(t.min, ex.min),
            "max": _greatest(t.max, ex.max),
            "last": case((ex.last_step >= t.last_step, ex.last), else_=t.last),
            "last_step": _greatest(t.last_step, ex.last_step),
            "ts_min": _least(t.ts_min, ex.ts_min),
            "ts_max": _greatest(t.ts_max, ex.ts_max),
        },
    )
    conn.execute(stmt, rows)


def batch_aggregates(batch: KeyBatch) -> dict[str, Any]:
    """Aggregates of one batch, merged into ``metric_keys`` for the computed summary."""
    values = np.asarray(batch.values, dtype=np.float64)
    steps = np.asarray(batch.steps, dtype=np.int64)
    valid = ~np.isnan(values)
    order = np.lexsort((np.arange(len(steps)), steps))
    first_i, last_i = int(order[0]), int(order[-1])
    with np.errstate(invalid="ignore"):
        total = float(values[valid].sum()) if valid.any() else 0.0
    return {
        "count": len(values), "finite_count": int(valid.sum()), "sum": total,
        "min": float(np.nanmin(values)) if valid.any() else None,
        "max": float(np.nanmax(values)) if valid.any() else None,
        "first": float(values[first_i]), "first_step": int(steps[first_i]),
        "last": float(values[last_i]), "last_step": int(steps[last_i]),
        "first_ts": float(batch.ts[first_i]), "last_ts": float(batch.ts[last_i]),
    }


# ----------------------------------------------------------------------------------------------
# queries
# ----------------------------------------------------------------------------------------------

COLUMNS = ("x", "min", "max", "mean", "last", "count")


def empty_series() -> dict[str, list[Any]]:
    return {c: [] for c in COLUMNS}


def series_by_step(conn: Connection, key: dict[str, Any], buckets: int,
                   x_min: float | None, x_max: float | None) -> dict[str, list[Any]]:
    """Downsample one key over a step range to at most ``buckets`` buckets."""
    return series_by_step_many(conn, [key], buckets, x_min, x_max)[0]


class SeriesCache:
    """Chart columns already computed, by key and query, LRU-bounded by points held.

    An entry's identity includes the key's count, step range, sum, min, max and last, so a key
    that gains, loses or rewrites points (live runs, resumes) is simply a new identity: entries
    never go stale, whichever process wrote the store. Thread-safe; one per store.
    """

    def __init__(self, max_points: int = 2_000_000) -> None:
        self.max_points = max_points
        self._entries: OrderedDict[tuple[Any, ...], dict[str, list[Any]]] = OrderedDict()
        self._points = 0
        self._lock = threading.Lock()

    @staticmethod
    def ident(key: dict[str, Any], buckets: int, x_min: float | None,
              x_max: float | None) -> tuple[Any, ...]:
        return (key["id"], key["count"], key["first_step"], key["last_step"], key["sum"],
                key["min"], key["max"], key["last"], key["last_special"], buckets, x_min, x_max)

    def get(self, ident: tuple[Any, ...]) -> dict[str, list[Any]] | None:
        with self._lock:
            cols = self._entries.get(ident)
            if cols is not None:
                self._entries.move_to_end(ident)
            return cols

    def put(self, ident: tuple[Any, ...], cols: dict[str, list[Any]]) -> None:
        size = len(cols["x"]) + 1
        if size > self.max_points:
            return
        with self._lock:
            old = self._entries.pop(ident, None)
            if old is not None:
                self._points -= len(old["x"]) + 1
            self._entries[ident] = cols
            self._points += size
            while self._points > self.max_points:
                _, dropped = self._entries.popitem(last=False)
                self._points -= len(dropped["x"]) + 1


def series_by_step_many(conn: Connection, keys: list[dict[str, Any]], buckets: int,
                        x_min: float | None, x_max: float | None,
                        cache: SeriesCache | None = None) -> list[dict[str, list[Any]]]:
    """``series_by_step`` of many keys (of any runs) with one query per bucket level used.

    With ``cache``, keys whose columns were computed before for the same query are not read
    again. The returned column lists may be shared with the cache: do not modify them."""
    plans = [_step_plan(k, buckets, x_min, x_max) for k in keys]
    out: list[dict[str, list[Any]]] = [empty_series() for _ in keys]
    idents = [SeriesCache.ident(k, buckets, x_min, x_max) for k in keys] if cache else []
    by_level: dict[int, list[int]] = {}
    for i, plan in enumerate(plans):
        if plan is None:
            continue
        hit = cache.get(idents[i]) if cache else None
        if hit is not None:
            out[i] = hit
        else:
            by_level.setdefault(plan[0], []).append(i)
    for level, idx in by_level.items():
        lo = min(plans[i][1] for i in idx)  # type: ignore[index]
        hi = max(plans[i][2] for i in idx)  # type: ignore[index]
        ids = sorted({keys[i]["id"] for i in idx})
        if level == 0:
            blocks = select_blocks(conn, ids, step_lo=lo, step_hi=hi)
            for i in idx:
                _, klo, khi = plans[i]  # type: ignore[misc]
                out[i] = _raw_series(blocks.get(keys[i]["id"], []), klo, khi, buckets)
        else:
            rows = _bucket_rows_of(conn, ids, level, lo, hi)
            for i in idx:
                _, klo, khi = plans[i]  # type: ignore[misc]
                out[i] = _bucket_series(rows.get(keys[i]["id"]), level, klo, khi, buckets)
        if cache:
            for i in idx:
                cache.put(idents[i], out[i])
    return out


def _step_plan(key: dict[str, Any], buckets: int, x_min: float | None,
               x_max: float | None) -> tuple[int, int, int] | None:
    """(level, lo, hi) of a step-axis query of one key; None when nothing can be in it."""
    if key["count"] == 0 or key["first_step"] is None:
        return None
    lo = int(math.ceil(x_min)) if x_min is not None else int(key["first_step"])
    hi = int(math.floor(x_max)) if x_max is not None else int(key["last_step"])
    lo, hi = max(lo, 0), max(hi, 0)
    if hi < lo:
        return None
    span = hi - lo + 1
    width = span / buckets
    return choose_level(width), lo, hi


def choose_level(width: float) -> int:
    """Coarsest bucket level narrower than one output bucket; 0 means raw points."""
    level = 0
    while level < LEVELS and BUCKET_BASE ** (level + 1) <= width:
        level += 1
    return level if level >= FIRST_LEVEL else 0


def _raw_series(parts: list[Any], lo: int, hi: int, buckets: int) -> dict[str, list[Any]]:
    steps, _, values = points_of(parts, step_lo=lo, step_hi=hi, with_ts=False)
    if len(steps) == 0:
        return empty_series()
    if len(steps) <= buckets:
        out = empty_series()
        vals = values.tolist()
        out.update(x=steps.tolist(), min=vals, max=vals, mean=vals, last=vals,
                   count=[1] * len(steps))
        return out
    span = hi - lo + 1
    if span * buckets < 2**62 and hi < 2**62:  # no int64 overflow on the way
        return _group_sorted(steps, values, lo, span, buckets)
    idx = ((steps - lo) * buckets // span).astype(np.int64)
    return _group(idx, steps.astype(np.float64), values, values, values, values,
                  np.ones(len(values), dtype=np.int64), np.where(np.isnan(values), 0, 1))


def _group_sorted(steps: np.ndarray, values: np.ndarray, lo: int, span: int,
                  buckets: int) -> dict[str, list[Any]]:
    """``_group`` of raw points sorted by step (the same numbers): bucket ``i`` holds the steps
    with ``(step - lo) * buckets // span == i``, i.e. from ``lo + ceil(i * span / buckets)``
    on, so binary searches find the bucket edges without a pass over every point."""
    i = np.arange(buckets + 1, dtype=np.int64)
    edges = lo + (-((-i * span) // buckets))
    at = np.searchsorted(steps, edges, "left")
    at[-1] = len(steps)
    nonempty = at[:-1] < at[1:]
    starts = at[:-1][nonempty]
    ends = at[1:][nonempty] - 1
    nan = np.isnan(values)
    counts = ends - starts + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        if nan.any():
            total = np.add.reduceat(np.where(nan, 0.0, values), starts)
            nfinite = counts - np.add.reduceat(nan.astype(np.int64), starts)
        else:
            total = np.add.reduceat(values, starts)
            nfinite = counts
        mean = np.where(nfinite > 0, total / np.maximum(nfinite, 1), np.nan)
    return {
        "x": _num_list(steps[starts].astype(np.float64)),
        "min": np.fmin.reduceat(values, starts).tolist(),
        "max": np.fmax.reduceat(values, starts).tolist(),
        "mean": mean.tolist(),
        "last": values[ends].tolist(),
        "count": counts.tolist(),
    }


def _bucket_rows_of(conn: Connection, key_ids: list[int], level: int, lo: int,
                    hi: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Bucket rows of some keys at one level over a step range, per key, by bucket: the
    bucket numbers and a float64 array of ``bucket, count, finite_count, sum, min, max, last``
    (NULL as NaN)."""
    t = metric_buckets.c
    shift = BUCKET_SHIFT * level
    result = conn.execute(
        select(t.key_id, t.bucket, t.count, t.finite_count, t.sum, t.min, t.max, t.last)
        .where(t.key_id == key_ids[0] if len(key_ids) == 1 else t.key_id.in_(key_ids),
               t.level == level, t.bucket >= lo >> shift, t.bucket <= hi >> shift)
        .order_by(t.key_id, t.bucket)
    )
    # the driver's plain tuples (numeric columns need no conversion): a chart of 100 runs
    # reads some 40,000 rows, and a Row object each doubles the time
    rows = result.cursor.fetchall() if result.cursor is not None else result.all()
    result.close()
    if not rows:
        return {}
    table = np.array(rows, dtype=np.float64)  # NULL becomes NaN
    kid = table[:, 0].astype(np.int64)
    arr = table[:, 1:]
    if np.abs(arr[:, 0]).max() < 2**53:  # bucket numbers exact in float64
        bucket = arr[:, 0].astype(np.int64)
    else:
        bucket = np.array([r[1] for r in rows], dtype=np.int64)
    starts, ends = _runs(kid)
    return {int(kid[a]): (bucket[a: b + 1], arr[a: b + 1]) for a, b in zip(starts, ends)}


def _bucket_series(rows: tuple[np.ndarray, np.ndarray] | None, level: int, lo: int, hi: int,
                   buckets: int) -> dict[str, list[Any]]:
    if rows is None:
        return empty_series()
    shift = BUCKET_SHIFT * level
    bucket, arr = rows  # read for a range that may be wider (several keys at once): this key's
    arr = arr[(bucket >= lo >> shift) & (bucket <= hi >> shift)]
    if len(arr) == 0:
        return empty_series()
    start = np.maximum(arr[:, 0] * (1 << shift), lo)
    idx = ((start - lo) * buckets // (hi - lo + 1)).astype(np.int64)
    return _group(idx, start, arr[:, 4], arr[:, 5], arr[:, 3], arr[:, 6],
                  arr[:, 1].astype(np.int64), arr[:, 2].astype(np.int64))


def _f(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _group(idx: np.ndarray, x: np.ndarray, mins: np.ndarray, maxs: np.ndarray,
           sums: np.ndarray, lasts: np.ndarray, counts: np.ndarray,
           finite: np.ndarray) -> dict[str, list[Any]]:
    """Merge sorted partial buckets that fall in the same output bucket."""
    starts, ends = _runs(idx)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.add.reduceat(np.where(np.isnan(sums), 0.0, sums), starts)
        nfinite = np.add.reduceat(finite, starts)
        mean = np.where(nfinite > 0, total / np.maximum(nfinite, 1), np.nan)
    return {
        "x": _num_list(x[starts]),
        "min": np.fmin.reduceat(mins, starts).tolist(),
        "max": np.fmax.reduceat(maxs, starts).tolist(),
        "mean": mean.tolist(),
        "last": lasts[ends].tolist(),
        "count": np.add.reduceat(counts, starts).tolist(),
    }


def _num_list(x: np.ndarray) -> list[Any]:
    if np.all(np.mod(x, 1) == 0):
        return x.astype(np.int64).tolist()
    return x.tolist()


def series_by_time(conn: Connection, key: dict[str, Any], buckets: int,
                   x_min: float | None, x_max: float | None,
                   offset: float = 0.0) -> dict[str, list[Any]]:
    """Downsample by wall time (``offset`` = run start gives relative time)."""
    if key["count"] == 0:
        return empty_series()
    # the client clock may jump or run backwards (R19): the default window is the whole span
    # of the key's timestamps, not the times of its first and last steps
    span_lo, span_hi = _ts_span(conn, key)
    t0 = (x_min + offset) if x_min is not None else span_lo
    t1 = (x_max + offset) if x_max is not None else span_hi
    if t1 < t0:
        return empty_series()
    # choose a level from the share of points inside the time window
    total_span = max(span_hi - span_lo, 1e-9)
    steps_span = max(key["last_step"] - key["first_step"] + 1, 1)
    est_steps = steps_span * min(1.0, (t1 - t0) / total_span)
    width = est_steps / buckets
    level = choose_level(width)
    if level == 0:
        _, xs, vals = load_points(conn, key["id"], ts_lo=t0, ts_hi=t1)
        if len(xs) == 0:
            return empty_series()
        ones = np.ones(len(vals), dtype=np.int64)
        data = (vals, vals, vals, vals, ones, np.where(np.isnan(vals), 0, 1))
    else:
        t = metric_buckets.c
        rows = conn.execute(
            select(t.ts_min, t.ts_max, t.count, t.finite_count, t.sum, t.min, t.max, t.last)
            .where(t.key_id == key["id"], t.level == level, t.ts_max >= t0, t.ts_min <= t1)
            .order_by(t.bucket)).all()
        if not rows:
            return empty_series()
        arr = np.array([[r[0], r[1], r[2], r[3], _f(r[4]), _f(r[5]), _f(r[6]), _f(r[7])]
                        for r in rows], dtype=np.float64)
        xs = np.maximum(arr[:, 0], t0)
        data = (arr[:, 5], arr[:, 6], arr[:, 4], arr[:, 7], arr[:, 2].astype(np.int64),
                arr[:, 3].astype(np.int64))
    idx = np.minimum(((xs - t0) / max(t1 - t0, 1e-9) * buckets).astype(np.int64), buckets - 1)
    order = np.argsort(idx, kind="stable")
    out = _group(idx[order], xs[order] - offset, *(d[order] for d in data))
    return out


def _ts_span(conn: Connection, key: dict[str, Any]) -> tuple[float, float]:
    """Earliest and latest timestamp of a key, from its few top-level buckets."""
    t = metric_buckets.c
    lo, hi = conn.execute(select(func.min(t.ts_min), func.max(t.ts_max))
                          .where(t.key_id == key["id"], t.level == LEVELS)).one()
    first, last = key["first_ts"], key["last_ts"]
    return (min(lo, first, last) if lo is not None else min(first, last),
            max(hi, first, last) if hi is not None else max(first, last))


def series_by_metric(conn: Connection, key: dict[str, Any], x_key: dict[str, Any],
                     buckets: int, x_min: float | None,
                     x_max: float | None) -> dict[str, list[Any]]:
    """Plot ``key`` against another metric logged at the same steps (reads raw points)."""
    steps, _, vals = load_points(conn, key["id"])
    x_steps, _, x_vals = load_points(conn, x_key["id"])
    # the last x logged at each step, matched to each y step
    last_of_step = np.r_[x_steps[1:] != x_steps[:-1], True] if len(x_steps) else x_steps
    x_steps, x_vals = x_steps[last_of_step], x_vals[last_of_step]
    pos = np.searchsorted(x_steps, steps)
    found = (pos < len(x_steps)) & (x_steps[np.minimum(pos, max(len(x_steps) - 1, 0))] == steps)
    xs = x_vals[pos[found]] if len(x_steps) else np.zeros(0)
    vals = vals[found]
    keep = ~np.isnan(xs)
    if x_min is not None:
        keep &= xs >= x_min
    if x_max is not None:
        keep &= xs <= x_max
    xs, vals = xs[keep], vals[keep]
    if len(xs) == 0:
        return empty_series()
    lo, hi = float(xs.min()), float(xs.max())
    idx = np.minimum(((xs - lo) / max(hi - lo, 1e-12) * buckets).astype(np.int64), buckets - 1)
    order = np.argsort(idx, kind="stable")
    ones = np.ones(len(vals), dtype=np.int64)
    return _group(idx[order], xs[order], vals[order], vals[order], vals[order], vals[order],
                  ones, np.where(np.isnan(vals[order]), 0, 1))


def key_rows(conn: Connection, run_pk: int, kind: str | None = None) -> list[dict[str, Any]]:
    t = metric_keys.c
    stmt = select(metric_keys).where(t.run_pk == run_pk).order_by(t.key)
    if kind:
        stmt = stmt.where(t.kind == kind)
    return [dict(r._mapping) for r in conn.execute(stmt)]
