"""Metric series (downsampled), raw history pages, system metrics and console output."""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Annotated, Any

import msgspec
import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from kiseki.core.errors import ValidationError
from kiseki.core.values import to_json_safe
from kiseki.server.deps import Store
from kiseki.server.respond import json_response
from kiseki.server.schemas import ConsolePage, HistoryPage, Series, SeriesMany, SeriesQuery

router = APIRouter(tags=["metrics"])
MAX_SERIES_PER_REQUEST = 2000
COLUMNS = ("x", "min", "max", "mean", "last", "count")
# The compact answer of query_series for charts (see ``_series_binary``): asked for with
# ``Accept: application/x-kiseki-series`` (optionally ``; columns="x min max last count"``).
SERIES_MEDIA = "application/x-kiseki-series"
SERIES_MAGIC = b"KSS1"


@router.get("/projects/{project}/runs/{run_id}/series", operation_id="get_series",
            response_model=Series)
async def get_series(project: str, run_id: str, store: Store,  # type: ignore[no-untyped-def]
                     key: Annotated[str, Query(max_length=256)],
                     buckets: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                     x_axis: Annotated[str, Query(max_length=256)] = "step",
                     x_min: float | None = None, x_max: float | None = None):
    """One metric downsampled to at most ``buckets`` buckets over ``[x_min, x_max]``.

    ``x_axis`` is ``step``, ``_timestamp`` (wall time), ``_runtime`` (seconds since the run
    started) or the name of another metric. Every bucket has min, max, mean, last and count,
    so spikes stay visible at any zoom.
    """
    result = await run_in_threadpool(store.series, project, run_id, key, buckets=buckets,
                                     x_axis=x_axis, x_min=x_min, x_max=x_max)
    return json_response(result)


@router.post("/projects/{project}/series", operation_id="query_series",
             response_model=SeriesMany, responses={200: {"content": {SERIES_MEDIA: {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def query_series(project: str, body: SeriesQuery,  # type: ignore[no-untyped-def]
                       store: Store, request: Request):
    """Many runs x many keys in one request (for charts comparing runs).

    With ``Accept: application/x-kiseki-series`` the answer is binary instead of JSON (what the
    web app asks for: no number is parsed from text): ``KSS1``, a little-endian uint32 header
    length, a UTF-8 JSON header ``{"columns": [...], "series": [{"run", "key", "x_axis",
    "n"}, ...], "missing": [...]}`` padded with spaces to a multiple of 8 bytes, then per
    series (in header order) per column ``n`` little-endian float64 values (NaN and ±inf as
    themselves; counts and steps exact up to 2^53, as in JSON read by a browser). A
    ``columns`` parameter of that media type (quoted, space-separated names from x, min,
    max, mean, last, count) limits the columns sent; all six by default.
    """
    if len(body.runs) * len(body.keys) > MAX_SERIES_PER_REQUEST:
        raise ValidationError(f"at most {MAX_SERIES_PER_REQUEST} run x key pairs per request")
    if not 1 <= body.buckets <= 10_000:
        raise ValidationError(f"buckets must be between 1 and 10000, got {body.buckets}")
    binary = binary_columns(request.headers.get("accept", ""))

    def work() -> Response:
        result = store.series_many(project, body.runs, body.keys, buckets=body.buckets,
                                   x_axis=body.x_axis, x_min=body.x_min, x_max=body.x_max)
        if binary is not None:
            return _series_binary(result, binary)
        return _series_response(result)

    async with _series_lock(request.app):
        if await request.is_disconnected():  # the chart gave up waiting (zoomed again, left)
            return Response(status_code=499)
        return await run_in_threadpool(work)


def _series_lock(app: Any) -> asyncio.Lock:
    """One chart query at a time per server process (first come, first served): they are
    CPU-bound (row decoding, numpy), and threads of one process running several at once only
    fight over the GIL: six panels asking at once took twice as long in total as one after
    the other, and every panel waited for the slowest. In turn, the first panel draws after
    one query. Waiting requests hold no worker thread."""
    lock: asyncio.Lock | None = getattr(app.state, "series_lock", None)
    if lock is None:
        lock = app.state.series_lock = asyncio.Lock()
    return lock


def _series_response(result: dict[str, Any]) -> Response:
    """``json_response`` of a ``series_many`` result, without walking every number in Python:
    only the columns holding NaN or ±Inf go through ``to_json_safe``."""
    safe = []
    for s in result["series"]:
        s = dict(s)
        for name in COLUMNS:
            col = s.get(name)
            if col and not _all_finite(col):
                s[name] = to_json_safe(col)
        safe.append(s)
    body = msgspec.json.encode({"series": safe, "missing": result["missing"]})
    return Response(body, media_type="application/json")


# An Accept header: media ranges separated by commas, each with ;name=value parameters
# (values may be quoted and then hold commas and spaces).
_PARAM_RE = r'\s*;\s*([^\s=;,]+)\s*=\s*("[^"]*"|[^\s;,]*)'
_MEDIA_RANGE = re.compile(r"\s*([^\s;,]+)((?:" + _PARAM_RE + r")*)\s*(?:,|$)")
_PARAM = re.compile(_PARAM_RE)


def binary_columns(accept: str) -> tuple[str, ...] | None:
    """The columns of the binary series answer when ``accept`` asks for it (media type
    ``application/x-kiseki-series`` with q > 0), else None (the JSON answer)."""
    if SERIES_MEDIA not in accept:
        return None
    for m in _MEDIA_RANGE.finditer(accept):
        if m.group(1).lower() != SERIES_MEDIA:
            continue
        params = {k.lower(): v.strip('"') for k, v in _PARAM.findall(m.group(2))}
        try:
            if float(params.get("q", "1")) <= 0:
                return None
        except ValueError:
            return None
        wanted = params.get("columns")
        if wanted is None:
            return COLUMNS
        names = [c for c in re.split(r"[\s,]+", wanted) if c]
        unknown = [c for c in names if c not in COLUMNS]
        if unknown:
            raise ValidationError(f"unknown series columns {unknown}; known: {list(COLUMNS)}")
        return tuple(c for c in COLUMNS if c in names)  # always in COLUMNS order
    return None


def _series_binary(result: dict[str, Any], columns: tuple[str, ...]) -> Response:
    """``result`` as the binary answer (see ``query_series``): float64 columns the browser
    reads in place, under half the bytes of the JSON answer and nothing to parse per number."""
    series = result["series"]
    head = {"columns": list(columns),
            "series": [{"run": s["run"], "key": s["key"], "x_axis": s["x_axis"], "n": len(s["x"])}
                       for s in series],
            "missing": result["missing"]}
    text = json.dumps(head, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    total = sum(h["n"] for h in head["series"]) * len(columns)
    out = np.empty(total, dtype="<f8")
    at = 0
    for s in series:
        n = len(s["x"])
        for c in columns:
            out[at:at + n] = s[c]  # None (a missing value) becomes NaN, as in the JSON answer
            at += n
    body = b"".join((SERIES_MAGIC, len(text).to_bytes(4, "little"), text, out.tobytes()))
    return Response(body, media_type=SERIES_MEDIA)


def _all_finite(col: list[Any]) -> bool:
    try:
        return math.isfinite(sum(col))  # NaN and ±Inf survive a sum; so may a huge overflow
    except (TypeError, OverflowError):
        return False


@router.get("/projects/{project}/runs/{run_id}/history", operation_id="get_history",
            response_model=HistoryPage)
async def get_history(project: str, run_id: str, store: Store,  # type: ignore[no-untyped-def]
                      keys: Annotated[str | None, Query(max_length=100_000)] = None,
                      min_step: Annotated[int | None, Query(ge=0)] = None,
                      max_step: Annotated[int | None, Query(ge=0)] = None,
                      page_size: Annotated[int, Query(ge=1, le=10_000)] = 1000):
    """Raw rows (every point), ``page_size`` steps per page; follow ``next_step``."""
    key_list = [k for k in keys.split(",") if k] if keys else None
    result = await run_in_threadpool(store.history_page, project, run_id, key_list, min_step,
                                     max_step, page_size)
    return json_response(result)


@router.get("/projects/{project}/runs/{run_id}/system", operation_id="get_system_metrics",
            response_model=HistoryPage)
async def get_system_metrics(project: str, run_id: str,  # type: ignore[no-untyped-def]
                             store: Store,
                             keys: Annotated[str | None, Query(max_length=100_000)] = None,
                             page_size: Annotated[int, Query(ge=1, le=10_000)] = 1000):
    """System metric samples (CPU, memory, disk, network, GPU) as rows."""
    key_list = [k for k in keys.split(",") if k] if keys else None
    result = await run_in_threadpool(store.history_page, project, run_id, key_list, None, None,
                                     page_size, True)
    return json_response(result)


@router.get("/projects/{project}/runs/{run_id}/console", operation_id="get_console",
            response_model=ConsolePage)
async def get_console(project: str, run_id: str, store: Store,  # type: ignore[no-untyped-def]
                      offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
                      limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                      search: Annotated[str | None, Query(max_length=1000)] = None):
    """Console lines after line number ``offset``, optionally only those containing ``search``."""
    result = await run_in_threadpool(store.console_page, project, run_id, offset, limit, search)
    return json_response(result)
