"""Reading logged media back: keys, items at a step, histograms over steps, table pages.

A value is ``pending`` from its reference record until its encoded form arrives; once the run
is no longer running, a value still pending can never arrive and reads say ``missing``.
Tables are stored as one msgpack blob; a page is cut from the decoded rows, which are kept in a
small cache with the row order of recent filters and sorts, so paging through 200k rows does
not decode or filter again.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy import Connection, func, select

from kiseki.core.errors import NotFoundError, ValidationError
from kiseki.core.tablefilter import compile_filter, sort_key
from kiseki.core.values import from_json_safe
from kiseki.store.queries import project_pk, run_pk
from kiseki.store.tables import media, project_blobs, runs

MAX_TABLE_PAGE = 1000
MAX_GROUPS = 1000  # groups answered per page (largest first); "groups_total" says how many
_TYPE_OF_KIND = {"image": "image", "images": "images", "table": "table",
                 "histogram": "histogram"}
MISSING_TEXT = "the process ended before this value was stored"


def _int_list(values: Any) -> list[int]:
    return [int(v) for v in values]


def effective_state(state: str, run_state: str) -> str:
    return "missing" if state == "pending" and run_state != "running" else state


def _item(row: Any, run_state: str) -> dict[str, Any]:
    r = row._mapping
    state = effective_state(r["state"], run_state)
    data = from_json_safe(r["data"]) if r["data"] is not None else {
        "_type": _TYPE_OF_KIND.get(r["kind"], r["kind"])}
    error = r["error"] or (MISSING_TEXT if state == "missing" else None)
    return {"media_id": r["media_id"], "state": state, "data": data, "error": error,
            "warnings": r["warnings"] or []}


def _run(conn: Connection, project: str, run_id: str) -> tuple[int, str]:
    pk = run_pk(conn, project, run_id)
    return pk, str(conn.execute(select(runs.c.state).where(runs.c.id == pk)).scalar_one())


def media_keys(conn: Connection, project: str, run_ids: list[str] | None) -> dict[str, Any]:
    """Media keys of a project (or of some of its runs): kind, how many runs, last step."""
    ppk = project_pk(conn, project)
    stmt = (select(media.c.key, media.c.kind, func.count(func.distinct(media.c.run_pk)),
                   func.max(media.c.step))
            .join(runs, runs.c.id == media.c.run_pk).where(runs.c.project_id == ppk)
            .group_by(media.c.key, media.c.kind).order_by(media.c.key))
    if run_ids:
        stmt = stmt.where(runs.c.run_id.in_(run_ids[:1000]))
    return {"keys": [{"key": row[0], "kind": row[1], "runs": int(row[2]),
                      "last_step": int(row[3])} for row in conn.execute(stmt).all()]}


def get_media(conn: Connection, project: str, run_id: str, key: str,
              step: int | None) -> dict[str, Any]:
    """The items of ``key`` at ``step`` (the latest step when None, else the closest at or
    before it), with every step that has one."""
    pk, run_state = _run(conn, project, run_id)
    steps = _int_list(conn.execute(
        select(media.c.step).where(media.c.run_pk == pk, media.c.key == key)
        .group_by(media.c.step).order_by(media.c.step)).scalars().all())
    if not steps:
        raise NotFoundError(f"run {project}/{run_id} has no media under key {key!r}")
    chosen = steps[-1]
    if step is not None:
        at_or_before = [s for s in steps if s <= step]
        chosen = at_or_before[-1] if at_or_before else steps[0]
    rows = conn.execute(select(media).where(media.c.run_pk == pk, media.c.key == key,
                                            media.c.step == chosen).order_by(media.c.id)).all()
    kind = rows[0]._mapping["kind"] if rows else ""
    return {"key": key, "kind": kind, "steps": steps, "step": chosen,
            "items": [_item(r, run_state) for r in rows]}


def histograms(conn: Connection, project: str, run_id: str, key: str) -> dict[str, Any]:
    """Every histogram logged under ``key``, in step order (for a heat-map over steps)."""
    pk, _ = _run(conn, project, run_id)
    rows = conn.execute(select(media.c.step, media.c.data, media.c.kind).where(
        media.c.run_pk == pk, media.c.key == key).order_by(media.c.step, media.c.id)).all()
    if not rows:
        raise NotFoundError(f"run {project}/{run_id} has no histogram under key {key!r}")
    if rows[0][2] != "histogram":
        raise ValidationError(f"key {key!r} holds {rows[0][2]} values, not histograms")
    steps, bins, counts = [], [], []
    for row in rows:
        data = from_json_safe(row[1]) or {}
        steps.append(int(row[0]))
        bins.append(list(data.get("bins") or []))
        counts.append(list(data.get("values") or []))
    return {"key": key, "steps": steps, "bins": bins, "counts": counts}


def history_media(conn: Connection, pk: int, keys: list[str] | None, lo: int,
                  hi: int | None, limit_steps: int) -> tuple[list[tuple[int, str, Any]], bool]:
    """Media values for history rows: ``(step, key, value)`` of the first ``limit_steps``
    steps from ``lo``; and whether more steps follow."""
    run_state = str(conn.execute(select(runs.c.state).where(runs.c.id == pk)).scalar_one())
    cond = [media.c.run_pk == pk, media.c.step >= lo]
    if hi is not None:
        cond.append(media.c.step <= hi)
    if keys is not None:
        cond.append(media.c.key.in_(keys))
    step_list = _int_list(conn.execute(select(media.c.step).where(*cond)
                                       .group_by(media.c.step).order_by(media.c.step)
                                       .limit(limit_steps + 1)).scalars().all())
    if not step_list:
        return [], False
    more = len(step_list) > limit_steps
    last = step_list[min(limit_steps, len(step_list)) - 1]
    rows = conn.execute(select(media).where(*cond, media.c.step <= last)
                        .order_by(media.c.step, media.c.id)).all()
    out = []
    for row in rows:
        item = _item(row, run_state)
        value = dict(item["data"])
        value["state"] = item["state"]
        if item["error"]:
            value["error"] = item["error"]
        value["_ts"] = float(row._mapping["ts"])
        out.append((int(row._mapping["step"]), str(row._mapping["key"]), value))
    return out, more


def blob_in_project(conn: Connection, project: str, sha: str) -> bool:
    ppk = project_pk(conn, project)
    return conn.execute(select(project_blobs.c.sha256).where(
        project_blobs.c.project_id == ppk, project_blobs.c.sha256 == sha)).first() is not None


# -- tables -------------------------------------------------------------------------------------

class _Decoded:
    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.columns: list[str] = [str(c) for c in payload.get("columns") or []]
        self.types: dict[str, str] = dict(payload.get("types") or {})
        self.rows: list[list[Any]] = list(payload.get("data") or [])
        self.layers: dict[str, list[str]] = {}
        for c, name in enumerate(self.columns):
            if self.types.get(name) not in ("image", "mixed"):
                continue
            names: dict[str, None] = {}
            for row in self.rows[:2000]:
                cell = row[c] if c < len(row) else None
                if isinstance(cell, Mapping) and cell.get("_type") == "image":
                    names.update(dict.fromkeys(cell.get("masks") or {}))
                    names.update(dict.fromkeys(cell.get("boxes") or {}))
            if names:
                self.layers[name] = list(names)
        self.orders: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()
        self.groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}


class TableCache:
    """Decoded tables by blob digest (a few at a time), with recent row orders."""

    def __init__(self, max_tables: int = 4, max_orders: int = 8) -> None:
        self._tables: OrderedDict[str, _Decoded] = OrderedDict()
        self._lock = threading.Lock()
        self.max_tables = max_tables
        self.max_orders = max_orders

    def get(self, sha: str, load: Any) -> _Decoded:
        with self._lock:
            found = self._tables.get(sha)
            if found is not None:
                self._tables.move_to_end(sha)
                return found
        decoded = _Decoded(msgspec.msgpack.decode(load(sha)))
        with self._lock:
            self._tables[sha] = decoded
            while len(self._tables) > self.max_tables:
                self._tables.popitem(last=False)
        return decoded

    def order(self, table: _Decoded, filter_text: str, sort: str | None,
              desc: bool) -> list[int]:
        ident = (filter_text, sort, desc)
        with self._lock:
            found = table.orders.get(ident)
            if found is not None:
                table.orders.move_to_end(ident)
                return found
        pred = compile_filter(filter_text, table.columns, table.layers)
        rows = table.rows
        index = list(range(len(rows))) if pred is None else [
            i for i, row in enumerate(rows) if pred(row)]
        if sort:
            if sort not in table.columns:
                raise ValidationError(f"sort: table has no column {sort!r}; columns are "
                                      f"{table.columns[:20]}")
            c = table.columns.index(sort)
            present = [i for i in index if c < len(rows[i]) and _sortable(rows[i][c])]
            absent = [i for i in index if not (c < len(rows[i]) and _sortable(rows[i][c]))]
            present.sort(key=lambda i: sort_key(rows[i][c]), reverse=desc)
            index = present + absent  # empty cells last in both directions
        with self._lock:
            table.orders[ident] = index
            while len(table.orders) > self.max_orders:
                table.orders.popitem(last=False)
        return index


    def groups(self, table: _Decoded, filter_text: str, index: list[int],
               group: str) -> tuple[list[dict[str, Any]], int]:
        """The largest ``MAX_GROUPS`` groups (by count) and how many there are; cached with
        the table like row orders, so paging a grouped view does not regroup."""
        ident = (filter_text, "\0group", group)
        with self._lock:
            found = table.groups.get(ident)
        if found is None:
            found = _groups(table, index, group)
            with self._lock:
                table.groups[ident] = found
                while len(table.groups) > self.max_orders:
                    table.groups.pop(next(iter(table.groups)))
        return found[:MAX_GROUPS], len(found)


def _sortable(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def table_page(conn: Connection, cache: TableCache, load: Any, project: str, run_id: str,
               key: str, step: int | None, filter_text: str, sort: str | None, desc: bool,
               offset: int, limit: int, group: str | None) -> dict[str, Any]:
    if not 1 <= limit <= MAX_TABLE_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_TABLE_PAGE}, got {limit}")
    found = get_media(conn, project, run_id, key, step)
    if found["kind"] != "table":
        raise ValidationError(f"key {key!r} holds {found['kind']} values, not tables")
    item = found["items"][-1]
    base = {"key": key, "step": found["step"], "steps": found["steps"], "state": item["state"],
            "error": item["error"], "offset": offset, "limit": limit}
    data = item["data"]
    if item["state"] != "stored" or "sha256" not in data:
        return {**base, "columns": list(data.get("columns") or []),
                "types": dict(data.get("types") or {}), "total": 0, "rows_total": 0,
                "rows": [], "groups": None}
    if not blob_in_project(conn, project, data["sha256"]):  # a descriptor naming another
        raise NotFoundError(f"table {key!r} of {project}/{run_id} is not readable")  # project's
    table = cache.get(data["sha256"], load)
    index = cache.order(table, filter_text or "", sort, desc)
    rows = [{"index": i, "cells": table.rows[i]} for i in index[offset:offset + limit]]
    groups, groups_total = cache.groups(table, filter_text or "", index, group) if group \
        else (None, None)
    return {**base, "columns": table.columns, "types": table.types, "total": len(index),
            "rows_total": len(table.rows), "rows": rows, "groups": groups,
            "groups_total": groups_total}


def _groups(table: _Decoded, index: list[int], group: str) -> list[dict[str, Any]]:
    if group not in table.columns:
        raise ValidationError(f"group: table has no column {group!r}; columns are "
                              f"{table.columns[:20]}")
    c = table.columns.index(group)
    if table.types.get(group) in ("image", "histogram"):
        raise ValidationError(f"cannot group by {table.types[group]} column {group!r}; pick a "
                              "column of numbers or text")
    numeric = [i for i, name in enumerate(table.columns) if table.types.get(name) == "number"]
    acc: dict[Any, tuple[int, list[float], list[int]]] = {}
    for i in index:
        row = table.rows[i]
        value = row[c] if c < len(row) else None
        if isinstance(value, (dict, list)):
            value = str(value)
        count, sums, ns = acc.get(value) or (0, [0.0] * len(numeric), [0] * len(numeric))
        for j, col in enumerate(numeric):
            cell = row[col] if col < len(row) else None
            if isinstance(cell, (int, float)) and not isinstance(cell, bool) and math.isfinite(cell):
                sums[j] += cell
                ns[j] += 1
        acc[value] = (count + 1, sums, ns)
    out = []
    for value, (count, sums, ns) in acc.items():
        means = {table.columns[col]: (sums[j] / ns[j] if ns[j] else None)
                 for j, col in enumerate(numeric)}
        out.append({"value": value, "count": count, "means": means})
    out.sort(key=lambda g: (-g["count"], str(g["value"])))
    return out
