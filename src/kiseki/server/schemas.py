"""API schema families (documented in OpenAPI; the UI client is generated from them).

Floats that JSON cannot carry (NaN, ±Inf) travel as ``{"$float": "nan" | "inf" | "-inf"}``.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class ProjectRead(BaseModel):
    name: str
    created_at: float
    run_count: int
    last_activity: float | None


class RunRead(BaseModel):
    project: str
    id: str
    name: str
    state: str
    config: dict[str, Any]
    summary: dict[str, Any]
    tags: list[str]
    group: str | None
    job_type: str | None
    notes: str | None
    created_at: float
    updated_at: float
    heartbeat_at: float
    finished_at: float | None
    runtime: float
    exit_code: int | None
    error: str | None
    last_step: int | None
    sdk_version: str | None
    metric_defs: list[dict[str, Any]]


class AlertRead(BaseModel):
    title: str
    text: str
    level: str
    ts: float


class RunDetail(RunRead):
    metadata: dict[str, Any]
    keys: list[str]
    system_keys: list[str]
    alerts: list[AlertRead]


class RunUpdate(BaseModel):
    name: str | None = None
    notes: str | None = None
    tags: list[str] | None = None


class Series(BaseModel):
    run: str
    key: str
    x_axis: str
    x: list[Any]
    min: list[Any]
    max: list[Any]
    mean: list[Any]
    last: list[Any]
    count: list[int]


class SeriesQuery(BaseModel):
    runs: list[str]
    keys: list[str]
    buckets: int = 1000
    x_axis: str = "step"
    x_min: float | None = None
    x_max: float | None = None


class SeriesMany(BaseModel):
    series: list[Series]
    missing: list[dict[str, str]]


class HistoryPage(BaseModel):
    rows: list[dict[str, Any]]
    next_step: int | None


class ConsoleLine(BaseModel):
    line_no: int
    stream: str
    ts: float
    text: str


class ConsolePage(BaseModel):
    lines: list[ConsoleLine]
    total: int


class Catalogue(BaseModel):
    metrics: list[str]
    system: list[str]
    config: list[str]
    summary: list[str]


class Workspace(BaseModel):
    project: str
    name: str
    layout: dict[str, Any]
    version: int
    updated_at: float | None


class WorkspaceWrite(BaseModel):
    layout: dict[str, Any]
    base_version: int | None = None


class MediaKey(BaseModel):
    key: str
    kind: str  # image | images | table | histogram
    runs: int
    last_step: int


class MediaKeys(BaseModel):
    keys: list[MediaKey]


class MediaItem(BaseModel):
    media_id: str
    state: str  # stored | pending | missing | failed
    data: dict[str, Any]  # the descriptor: {"_type": "image", "sha256", "width", ...}
    error: str | None = None
    warnings: list[str] = []


class MediaAtStep(BaseModel):
    key: str
    kind: str
    steps: list[int]
    step: int | None
    items: list[MediaItem]


class TableRow(BaseModel):
    index: int
    cells: list[Any]


class TableGroup(BaseModel):
    value: Any
    count: int
    means: dict[str, float | None]


class TablePage(BaseModel):
    key: str
    step: int | None
    steps: list[int]
    state: str
    error: str | None = None
    columns: list[str]
    types: dict[str, str]
    total: int
    rows_total: int
    offset: int
    limit: int
    rows: list[TableRow]
    groups: list[TableGroup] | None = None
    groups_total: int | None = None  # when grouped: groups in all (the largest 1000 are sent)


class Histograms(BaseModel):
    key: str
    steps: list[int]
    bins: list[list[float]]
    counts: list[list[float]]


class BlobStored(BaseModel):
    sha256: str
    size: int
