"""Read side of the store: projects, runs (filter, sort, pages), history, console, series."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select, update

from kiseki.core.errors import NotFoundError, ValidationError
from kiseki.core.values import from_json_safe
from kiseki.store import metrics as m
from kiseki.store.tables import alerts, console_lines, metric_keys, projects, runs

MAX_PAGE = 1000
MAX_BUCKETS = 10_000
X_AXES = ("step", "_step", "_timestamp", "_runtime", "wall", "relative")


def mark_crashed(conn: Connection, timeout: float, grace_until: float = 0.0) -> int:
    """Runs whose heartbeat stopped more than ``timeout`` seconds ago become ``crashed``."""
    now = time.time()
    if now < grace_until:
        return 0
    result = conn.execute(update(runs).where(runs.c.state == "running",
                                             runs.c.heartbeat_at < now - timeout)
                          .values(state="crashed", updated_at=now))
    return int(result.rowcount or 0)


def list_projects(conn: Connection) -> list[dict[str, Any]]:
    count = (select(func.count()).where(runs.c.project_id == projects.c.id)
             .correlate(projects).scalar_subquery())
    last = (select(func.max(runs.c.updated_at)).where(runs.c.project_id == projects.c.id)
            .correlate(projects).scalar_subquery())
    rows = conn.execute(select(projects.c.name, projects.c.created_at, count.label("run_count"),
                               last.label("last_activity")).order_by(projects.c.name))
    return [dict(r._mapping) for r in rows]


def project_pk(conn: Connection, name: str) -> int:
    pk = conn.execute(select(projects.c.id).where(projects.c.name == name)).scalar()
    if pk is None:
        raise NotFoundError(f"project {name!r} not found")
    return int(pk)


def run_pk(conn: Connection, project: str, run_id: str) -> int:
    pk = conn.execute(select(runs.c.id).join(projects, projects.c.id == runs.c.project_id)
                      .where(projects.c.name == project, runs.c.run_id == run_id)).scalar()
    if pk is None:
        raise NotFoundError(f"run {project}/{run_id} not found")
    return int(pk)


def run_to_dict(row: Any, project: str) -> dict[str, Any]:
    r = row._mapping
    end = r["finished_at"] if r["finished_at"] is not None else r["heartbeat_at"]
    return {
        "project": project, "id": r["run_id"], "name": r["name"], "state": r["state"],
        "config": from_json_safe(r["config"]), "summary": from_json_safe(r["summary"]),
        "tags": list(r["tags"] or []), "group": r["run_group"], "job_type": r["job_type"],
        "notes": r["notes"], "created_at": r["created_at"], "updated_at": r["updated_at"],
        "heartbeat_at": r["heartbeat_at"], "finished_at": r["finished_at"],
        "runtime": max(0.0, (end or r["created_at"]) - r["created_at"]),
        "exit_code": r["exit_code"], "error": r["error"], "last_step": r["last_step"],
        "sdk_version": r["sdk_version"], "metric_defs": list(r["metric_defs"] or []),
    }


def get_run(conn: Connection, project: str, run_id: str, with_env: bool = True) -> dict[str, Any]:
    pk = run_pk(conn, project, run_id)
    row = conn.execute(select(runs).where(runs.c.id == pk)).one()
    out = run_to_dict(row, project)
    if with_env:
        out["metadata"] = from_json_safe(row._mapping["env"])
    out["keys"] = [k["key"] for k in m.key_rows(conn, pk, "history")]
    out["system_keys"] = [k["key"] for k in m.key_rows(conn, pk, "system")]
    out["alerts"] = [dict(a._mapping) for a in conn.execute(
        select(alerts.c.title, alerts.c.text, alerts.c.level, alerts.c.ts)
        .where(alerts.c.run_pk == pk).order_by(alerts.c.id))]
    return out


def list_runs(conn: Connection, project: str, filter_expr: str | dict[str, Any] | None,
              order: str | None, offset: int, limit: int) -> dict[str, Any]:
    from kiseki.core.filters import from_mongo, parse_filter, parse_order
    from kiseki.store.filters import compile_filter, compile_order

    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    if offset < 0:
        raise ValidationError(f"offset must be >= 0, got {offset}")
    pk = project_pk(conn, project)
    where = [runs.c.project_id == pk]
    if filter_expr:
        node = from_mongo(filter_expr) if isinstance(filter_expr, dict) else parse_filter(filter_expr)
        where.append(compile_filter(node, runs, conn.dialect.name))
    order_by = compile_order(parse_order(order or "-created_at"), runs, conn.dialect.name)
    total = conn.execute(select(func.count()).select_from(runs).where(*where)).scalar_one()
    rows = conn.execute(select(runs).where(*where).order_by(*order_by, runs.c.id)
                        .offset(offset).limit(limit)).all()
    return {"items": [run_to_dict(r, project) for r in rows], "total": int(total),
            "offset": offset, "limit": limit}


def _key(conn: Connection, pk: int, key: str) -> dict[str, Any]:
    row = conn.execute(select(metric_keys).where(metric_keys.c.run_pk == pk,
                                                 metric_keys.c.key == key)).first()
    if row is None:
        raise NotFoundError(f"metric {key!r} not logged in this run")
    return dict(row._mapping)


def _check_window(buckets: int, x_min: float | None, x_max: float | None) -> None:
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ValidationError(f"buckets must be between 1 and {MAX_BUCKETS}, got {buckets}")
    for name, value in (("x_min", x_min), ("x_max", x_max)):
        if value is not None and not math.isfinite(value):
            raise ValidationError(f"{name} must be a finite number, got {value}")


def series(conn: Connection, project: str, run_id: str, key: str, buckets: int = 1000,
           x_axis: str = "step", x_min: float | None = None,
           x_max: float | None = None) -> dict[str, Any]:
    """Columns ``x, min, max, mean, last, count`` of ``key`` in at most ``buckets`` buckets."""
    _check_window(buckets, x_min, x_max)
    pk = run_pk(conn, project, run_id)
    k = _key(conn, pk, key)
    if x_axis in ("step", "_step"):
        cols = m.series_by_step(conn, k, buckets, x_min, x_max)
    elif x_axis in ("_timestamp", "wall"):
        cols = m.series_by_time(conn, k, buckets, x_min, x_max)
    elif x_axis in ("_runtime", "relative"):
        start: float = conn.execute(select(runs.c.created_at).where(runs.c.id == pk)).scalar_one()
        cols = m.series_by_time(conn, k, buckets, x_min, x_max, offset=start)
    else:
        cols = m.series_by_metric(conn, k, _key(conn, pk, x_axis), buckets, x_min, x_max)
    return {"run": run_id, "key": key, "x_axis": x_axis, **cols}


def series_many(conn: Connection, project: str, run_ids: list[str], keys: list[str],
                buckets: int = 1000, x_axis: str = "step", x_min: float | None = None,
                x_max: float | None = None, cache: m.SeriesCache | None = None) -> dict[str, Any]:
    """``series`` of every run x key pair (run-major), with the pairs whose run or key does not
    exist listed in ``missing``. On the step axis a few queries serve every pair."""
    pairs = [(r, k) for r in run_ids for k in keys]
    out: list[dict[str, Any]] = []
    missing: list[dict[str, str]] = []
    if not pairs:
        return {"series": out, "missing": missing}
    if x_axis not in ("step", "_step"):
        for run_id, key in pairs:
            try:
                out.append(series(conn, project, run_id, key, buckets, x_axis, x_min, x_max))
            except NotFoundError:
                missing.append({"run": run_id, "key": key})
        return {"series": out, "missing": missing}
    _check_window(buckets, x_min, x_max)
    pks: dict[str, int] = dict(conn.execute(  # type: ignore[arg-type]
        select(runs.c.run_id, runs.c.id).join(projects, projects.c.id == runs.c.project_id)
        .where(projects.c.name == project, runs.c.run_id.in_(sorted(set(run_ids))))).all())
    found: dict[tuple[int, str], dict[str, Any]] = {}
    if pks:
        t = metric_keys.c
        for row in conn.execute(select(metric_keys).where(t.run_pk.in_(sorted(set(pks.values()))),
                                                          t.key.in_(sorted(set(keys))))):
            key_row = dict(row._mapping)
            found[(key_row["run_pk"], key_row["key"])] = key_row
    todo: list[tuple[str, str, dict[str, Any]]] = []
    for run_id, key in pairs:
        k = found.get((pks[run_id], key)) if run_id in pks else None
        if k is None:
            missing.append({"run": run_id, "key": key})
        else:
            todo.append((run_id, key, k))
    cols = m.series_by_step_many(conn, [k for _, _, k in todo], buckets, x_min, x_max, cache)
    for (run_id, key, _), c in zip(todo, cols):
        out.append({"run": run_id, "key": key, "x_axis": x_axis, **c})
    return {"series": out, "missing": missing}


def history_page(conn: Connection, project: str, run_id: str, keys: list[str] | None,
                 min_step: int | None, max_step: int | None, page_size: int,
                 system: bool = False) -> dict[str, Any]:
    """Rows of every logged point from ``min_step`` on, at most ``page_size`` steps; media
    values (images, tables, histograms) come as their stored descriptors."""
    from kiseki.store import media as media_store

    if not 1 <= page_size <= 10_000:
        raise ValidationError(f"page_size must be between 1 and 10000, got {page_size}")
    pk = run_pk(conn, project, run_id)
    all_keys = m.key_rows(conn, pk, "system" if system else "history")
    chosen = [k for k in all_keys if keys is None or k["key"] in keys]
    lo = min_step if min_step is not None else 0
    media_rows: list[tuple[int, str, Any]] = []
    media_more = False
    if not system:
        media_rows, media_more = media_store.history_media(conn, pk, keys, lo, max_step,
                                                           page_size)
    if not chosen and not media_rows:
        return {"rows": [], "next_step": None}
    columns = []
    for key in chosen:
        steps, ts, values = _window(conn, key, lo, max_step, page_size)
        columns.append((key["key"], steps, ts, values))
    step_arrays = [c[1] for c in columns]
    if media_rows:
        step_arrays.append(np.array([r[0] for r in media_rows], dtype=np.int64))
    all_steps = np.unique(np.concatenate(step_arrays))
    if len(all_steps) == 0:
        return {"rows": [], "next_step": None}
    last = int(all_steps[min(page_size, len(all_steps)) - 1])
    more = any(k["last_step"] is not None and k["last_step"] > last for k in chosen) or (
        media_more or any(r[0] > last for r in media_rows))
    next_step = last + 1 if more and (max_step is None or last < max_step) else None
    rows: dict[int, dict[str, Any]] = {}
    for name, steps, ts, values in columns:
        upto = np.searchsorted(steps, last, side="right")
        for step, t, v in zip(steps[:upto].tolist(), ts[:upto].tolist(), values[:upto].tolist()):
            row = rows.get(step)
            if row is None:
                row = rows[step] = {"_step": step, "_timestamp": t}
            elif t > row["_timestamp"]:
                row["_timestamp"] = t
            row[name] = v
    for step, name, value in media_rows:
        if step > last:
            continue
        ts = value.pop("_ts", None)
        row = rows.get(step)
        if row is None:
            row = rows[step] = {"_step": step, "_timestamp": ts}
        row[name] = value
    return {"rows": [rows[s] for s in sorted(rows)], "next_step": next_step}


def _window(conn: Connection, key: dict[str, Any], lo: int, hi: int | None,
            page_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points of one key from step ``lo``: at least ``page_size`` distinct steps when there
    are that many, read block by block so a page never loads the whole run."""
    if key["last_step"] is None or key["last_step"] < lo:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty
    span = max(1, key["last_step"] - (key["first_step"] or 0) + 1)
    density = max(key["count"] / span, 1e-9)
    width = int(page_size / density * 1.5) + 1
    while True:
        upper = lo + width if hi is None else min(hi, lo + width)
        upper = min(upper, 2**63 - 1)  # steps are int64: a wider window overflows the driver
        steps, ts, values = m.load_points(conn, key["id"], step_lo=lo, step_hi=upper)
        if len(np.unique(steps)) >= page_size or upper >= key["last_step"] or (
                hi is not None and upper >= hi):
            return steps, ts, values
        width *= 4


def console_page(conn: Connection, project: str, run_id: str, offset: int, limit: int,
                 search: str | None = None) -> dict[str, Any]:
    if not 1 <= limit <= 10_000:
        raise ValidationError(f"limit must be between 1 and 10000, got {limit}")
    pk = run_pk(conn, project, run_id)
    t = console_lines.c
    cond = [t.run_pk == pk, t.line_no > offset]
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        cond.append(t.text.ilike(f"%{escaped}%", escape="\\"))
    rows = conn.execute(select(t.line_no, t.stream, t.ts, t.text).where(*cond)
                        .order_by(t.line_no).limit(limit)).all()
    total: int = conn.execute(select(func.coalesce(func.max(t.line_no), 0))
                         .where(t.run_pk == pk)).scalar_one()
    return {"lines": [dict(r._mapping) for r in rows], "total": int(total)}


def updates_since(conn: Connection, project: str, since: float) -> list[dict[str, Any]]:
    """Runs of a project changed after ``since`` (wall time), for live updates: each is the
    whole run as ``list_runs`` gives it (so a table row can be replaced), plus ``run_id``."""
    pk = project_pk(conn, project)
    rows = conn.execute(select(runs).where(runs.c.project_id == pk, runs.c.updated_at > since)
                        .order_by(runs.c.updated_at).limit(MAX_PAGE)).all()
    return [{**run_to_dict(r, project), "run_id": r._mapping["run_id"]} for r in rows]
