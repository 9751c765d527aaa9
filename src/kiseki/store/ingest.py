"""Applying a batch of run records to the store, idempotently on (run, stream, seq).

One batch is one transaction: the stream's high-water mark moves together with the data, so a
retried batch (the server died after commit, before replying: R11) or a second sync (R20) finds
its entries at or below the mark and applies nothing twice.
"""

from __future__ import annotations

import fnmatch
import math
import time
from typing import Any

import msgspec
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import DataError

from kiseki.core import records as rec
from kiseki.core.keys import validate_key
from kiseki.core.errors import ForbiddenError, NotFoundError, ValidationError
from kiseki.core.values import from_json_safe, sanitize, to_json_safe
from kiseki.store import metrics as m
from kiseki.store.tables import (
    alerts, console_lines, media, metric_blocks, metric_buckets, metric_keys, project_blobs,
    projects, run_streams, runs,
)

MEDIA_KINDS = frozenset({"image", "images", "table", "histogram"})
# records whose handler writes several rows: applied in a savepoint, so a refusal half way
# leaves nothing behind
_ISOLATED = frozenset({rec.Media, rec.MediaStored, rec.ArtifactLogged, rec.ArtifactUsed,
                       rec.ArtifactLinked})

MAX_CONSOLE_LINE = 100_000
_MISSING = object()


def _now() -> float:
    return time.time()


def ensure_project(conn: Connection, name: str) -> int:
    found = conn.execute(select(projects.c.id).where(projects.c.name == name)).scalar()
    if found is not None:
        return int(found)
    now = _now()
    return int(conn.execute(insert(projects).values(name=name, created_at=now, updated_at=now)
                            .returning(projects.c.id)).scalar_one())


def ensure_run(conn: Connection, project: str, run_id: str) -> int:
    found = conn.execute(select(runs.c.id).join(projects, projects.c.id == runs.c.project_id)
                         .where(projects.c.name == project, runs.c.run_id == run_id)).scalar()
    if found is not None:  # the common case: one query
        return int(found)
    project_pk = ensure_project(conn, project)
    found = conn.execute(select(runs.c.id).where(runs.c.project_id == project_pk,
                                                 runs.c.run_id == run_id)).scalar()
    if found is not None:
        return int(found)
    now = _now()
    return int(conn.execute(insert(runs).values(
        project_id=project_pk, run_id=run_id, name=run_id, state="running", config={},
        summary={}, summary_user={}, tags=[], env={}, metric_defs=[], created_at=now,
        updated_at=now, heartbeat_at=now).returning(runs.c.id)).scalar_one())


class _RunChanges:
    """The run row being changed by one batch, written back once at the end."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.values: dict[str, Any] = {}
        self.config = from_json_safe(row["config"])
        self.summary_user = from_json_safe(row["summary_user"])
        self.metric_defs: list[dict[str, Any]] = list(row["metric_defs"] or [])
        self.dirty_config = self.dirty_summary = False

    def set(self, **values: Any) -> None:
        self.values.update(values)


class BatchApplier:
    """Applies the entries of one stream batch inside one transaction."""

    def __init__(self, conn: Connection, run_pk: int, live: bool = True,
                 blobs: Any = None) -> None:
        self.conn = conn
        self.blobs = blobs
        self.run_pk = run_pk
        self.live = live
        row = conn.execute(select(runs).where(runs.c.id == run_pk)).one()._mapping
        self.run = _RunChanges(dict(row))
        self.points: dict[tuple[str, str], m.KeyBatch] = {}
        self.keys: dict[str, dict[str, Any]] | None = None
        self.skipped_unknown = 0
        self.rejected: list[str] = []
        self.names: dict[str, str] = {}  # raw key -> validated key, for this batch
        self.metrics: list[rec.Metrics] = []
        self.media_changed = False

    def apply(self, seq: int, record: rec.Record | None) -> None:
        if self.metrics and type(record) is not rec.Metrics:
            self._flush_metrics()
        if record is None:
            self.skipped_unknown += 1
            return
        handler = getattr(self, f"_on_{type(record).__name__}", None)
        if handler is None:
            self.skipped_unknown += 1
            return
        try:
            if type(record) is not rec.Metrics:
                record = _scrub(record)
            if type(record) in _ISOLATED:  # several writes: all or nothing when refused
                try:
                    with self.conn.begin_nested():
                        handler(record)
                except DataError as exc:  # a value the database refuses (too long, ...)
                    raise ValidationError(f"the database refused a value: {exc.orig}") from None
            else:
                handler(record)
        except ValidationError as exc:  # one bad record is quarantined, never blocks (R08)
            self.rejected.append(f"seq {seq}: {exc}")

    # -- record handlers ------------------------------------------------------------------------
    def _on_RunStart(self, r: rec.RunStart) -> None:
        self.flush_points()
        if r.rewind_step is not None:
            self.rewind(r.rewind_step)
        run = self.run
        if not r.resumed:
            run.config = {}
            run.set(created_at=r.created_at)
        run.config.update(r.config)
        run.dirty_config = True
        run.set(name=r.name[:256], tags=[str(t)[:256] for t in r.tags], run_group=r.group,
                job_type=r.job_type, notes=r.notes, state="running", finished_at=None,
                exit_code=None, error=None, sdk_version=r.sdk_version[:32],
                # a synced log's last sign of life is when it was written, not now
                heartbeat_at=_now() if self.live else r.created_at)

    def _on_ConfigUpdate(self, r: rec.ConfigUpdate) -> None:
        self.run.config.update(r.values)
        self.run.dirty_config = True

    def _on_Metrics(self, r: rec.Metrics) -> None:
        # buffered: consecutive Metrics records are turned into per-key columns at once
        self.metrics.append(r)

    def _flush_metrics(self) -> None:
        recs = self.metrics[:]
        self.metrics.clear()  # cleared in place: apply_batch holds a reference to this list
        if not recs:
            return
        steps = [r.step for r in recs]
        if min(steps) < 0 or max(steps) >= 2**63:
            good = [r for r in recs if 0 <= r.step < 2**63]
            for r in recs:
                if not 0 <= r.step < 2**63:
                    self.rejected.append(f"step must be an int between 0 and 2**63-1, got {r.step}")
            recs, steps = good, [r.step for r in good]
        ts = [r.ts for r in recs]
        keys: dict[str, None] = {}
        for r in recs:
            keys.update(dict.fromkeys(r.values))
        for key in keys:
            try:
                name = self._name(key)
            except ValidationError as exc:
                self.rejected.append(str(exc))
                continue
            values = [r.values.get(key, _MISSING) for r in recs]
            if _MISSING in values:
                present = [i for i, v in enumerate(values) if v is not _MISSING]
                self._extend(name, [steps[i] for i in present], [ts[i] for i in present],
                             [values[i] for i in present])
            else:
                self._extend(name, steps, ts, values)

    def _name(self, key: str) -> str:
        name = self.names.get(key)
        if name is None:
            name = self.names[key] = validate_key(key)
        return name

    def _extend(self, name: str, steps: list[int], ts: list[float], values: list[Any]) -> None:
        batch = self.points.get((name, "history"))
        if batch is None:
            batch = self.points[(name, "history")] = m.KeyBatch([], [], [])
        batch.steps.extend(steps)
        batch.ts.extend(ts)
        batch.values.extend(values)

    def _on_SystemMetrics(self, r: rec.SystemMetrics) -> None:
        for key, value in r.values.items():
            name = f"system/{key}"
            batch = self.points.get((name, "system"))
            step = self._system_step(name) + (len(batch.steps) if batch else 0)
            self._add_point(name, "system", step, r.ts, value)

    def _on_SummaryUpdate(self, r: rec.SummaryUpdate) -> None:
        self.run.summary_user.update(r.values)
        for key in r.remove:
            self.run.summary_user.pop(key, None)
        self.run.dirty_summary = True

    def _on_DefineMetric(self, r: rec.DefineMetric) -> None:
        defs = [d for d in self.run.metric_defs if d.get("name") != r.name]
        defs.append({"name": r.name, "step_metric": r.step_metric, "summary": r.summary,
                     "hidden": r.hidden})
        self.run.metric_defs = defs
        self.run.dirty_summary = True

    def _on_Console(self, r: rec.Console) -> None:
        start: int = self.conn.execute(select(func.coalesce(func.max(console_lines.c.line_no), 0))
                                  .where(console_lines.c.run_pk == self.run_pk)).scalar_one()
        rows = [{"run_pk": self.run_pk, "line_no": start + i + 1, "stream": r.stream[:8],
                 "ts": r.ts, "text": _clean_text(line)} for i, line in enumerate(r.lines)]
        if rows:
            self.conn.execute(insert(console_lines), rows)

    def _on_Environment(self, r: rec.Environment) -> None:
        self.run.set(env=to_json_safe(r.metadata, negative_zero=True))

    def _on_RunUpdate(self, r: rec.RunUpdate) -> None:
        if r.name is not None:
            self.run.set(name=r.name[:256])
        if r.tags is not None:
            self.run.set(tags=[str(t)[:256] for t in r.tags])
        if r.notes is not None:
            self.run.set(notes=r.notes)
        if r.group is not None:
            self.run.set(run_group=r.group)

    def _on_Alert(self, r: rec.Alert) -> None:
        self.conn.execute(insert(alerts).values(run_pk=self.run_pk, title=r.title[:256],
                                                text=r.text, level=r.level[:16], ts=r.ts))

    def _on_Media(self, r: rec.Media) -> None:
        name = self._name(r.key)
        if r.kind not in MEDIA_KINDS:
            raise ValidationError(f"media kind {r.kind!r} is unknown; use one of "
                                  f"{sorted(MEDIA_KINDS)}")
        if not 0 <= r.step < 2**63:
            raise ValidationError(f"step must be an int between 0 and 2**63-1, got {r.step}")
        if self._media_row(r.media_id) is not None:
            return  # the same value sent twice by a client that lost its high-water mark
        inline = r.data is not None
        self.conn.execute(insert(media).values(
            run_pk=self.run_pk, key=name, step=r.step, media_id=r.media_id[:64], kind=r.kind,
            state="stored" if inline else "pending",
            data=to_json_safe(r.data, negative_zero=True) if inline else None, ts=r.ts,
            blobs=[] if inline else None))
        self.media_changed = True

    def _on_MediaStored(self, r: rec.MediaStored) -> None:
        row_id = self._media_row(r.media_id)
        if row_id is None:
            raise ValidationError(f"media {r.media_id!r} was stored before it was logged")
        values: dict[str, Any] = {"warnings": [str(w)[:1000] for w in r.warnings[:50]] or None}
        if r.error:
            values.update(state="missing" if r.missing else "failed", error=r.error[:2000])
        else:
            blobs = [b for b in r.blobs if isinstance(b, str)]
            missing = blobs if self.blobs is None else self.blobs.missing(blobs)
            if missing:
                values.update(state="missing", error=(
                    f"{len(missing)} file(s) of this value never reached the store (the process "
                    "ended before they were written, or they were removed from the run folder)"))
            else:
                values.update(state="stored", blobs=sorted(set(blobs)))
                self._link_blobs(blobs)
            values["data"] = to_json_safe(r.data, negative_zero=True)
        self.conn.execute(update(media).where(media.c.id == row_id).values(**values))
        self.media_changed = True

    def _media_row(self, media_id: str) -> int | None:
        found = self.conn.execute(select(media.c.id).where(
            media.c.run_pk == self.run_pk, media.c.media_id == media_id[:64])).scalar()
        return None if found is None else int(found)

    def _link_blobs(self, blobs: list[str]) -> None:
        project_pk = self.run.row["project_id"]
        todo = sorted(set(blobs))
        for start in range(0, len(todo), 500):
            chunk = todo[start:start + 500]
            have: set[str] = set(self.conn.execute(select(project_blobs.c.sha256).where(
                project_blobs.c.project_id == project_pk,
                project_blobs.c.sha256.in_(chunk))).scalars())
            rows = [{"project_id": project_pk, "sha256": b} for b in chunk if b not in have]
            if rows:
                self.conn.execute(insert(project_blobs), rows)

    def _on_ArtifactLogged(self, r: rec.ArtifactLogged) -> None:
        from kiseki.store import artifacts

        def missing(shas: list[str]) -> list[str]:
            return shas if self.blobs is None else self.blobs.missing(shas)

        artifacts.commit_version(self.conn, self.run.row["project_id"], self.run_pk, r, missing)

    def _on_ArtifactUsed(self, r: rec.ArtifactUsed) -> None:
        from kiseki.store import artifacts

        try:
            artifacts.use_version(self.conn, self.run_pk, r.project, r.name, r.version, r.ts)
        except NotFoundError as exc:
            raise ValidationError(f"use_artifact: {exc}") from None

    def _on_ArtifactLinked(self, r: rec.ArtifactLinked) -> None:
        from kiseki.store import artifacts

        if r.client_id:
            found = artifacts.version_by_client_id(self.conn, r.client_id)
            if found is None:
                raise ValidationError(f"link_artifact: the artifact logged as {r.client_id} was "
                                      "not committed")
            source_id = found["id"]
        else:
            try:
                source_id = artifacts.resolve(self.conn, str(r.project), str(r.name),
                                              f"v{r.version}")._mapping["id"]
            except NotFoundError as exc:
                raise ValidationError(f"link_artifact: {exc}") from None
        run_id = self.run.row["run_id"]
        try:
            artifacts.link(self.conn, r.target, int(source_id), list(r.aliases), f"run {run_id}")
        except ForbiddenError as exc:
            raise ValidationError(f"link_artifact: {exc}") from None

    def _on_Finish(self, r: rec.Finish) -> None:
        state = r.state if r.state in rec.RUN_STATES else "finished"
        self.run.set(state=state, exit_code=r.exit_code, finished_at=r.ts, error=r.error)

    # -- points -------------------------------------------------------------------------------
    def _add_point(self, name: str, kind: str, step: int, ts: float, value: float) -> None:
        batch = self.points.get((name, kind))
        if batch is None:
            batch = self.points[(name, kind)] = m.KeyBatch([], [], [])
        batch.steps.append(step)
        batch.ts.append(ts)
        batch.values.append(float(value))

    def _load_keys(self) -> dict[str, dict[str, Any]]:
        if self.keys is None:
            self.keys = {k["key"]: k for k in m.key_rows(self.conn, self.run_pk)}
        return self.keys

    def _system_step(self, name: str) -> int:
        key = self._load_keys().get(name)
        return int(key["count"]) if key else 0

    def flush_points(self) -> None:
        """Write buffered points: a few multi-row statements per batch, whatever the key count."""
        self._flush_metrics()
        if not self.points:
            return
        keys = self._load_keys()
        aggs = {name: m.batch_aggregates(batch) for (name, _), batch in self.points.items()}
        self._create_keys([(name, kind) for name, kind in self.points if name not in keys], aggs)
        blocks: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        buckets: list[dict[str, Any]] = []
        compact: list[int] = []
        for (name, _), batch in self.points.items():
            key = keys[name]
            change = {} if key.pop("_new", False) else _merge_aggregates(key, aggs[name])
            key.update(change)
            block = m.block_row(key["id"], batch)
            blocks.append(block)
            if block["n"] < m.SMALL_BLOCK:
                key["small_blocks"] = int(key.get("small_blocks") or 0) + 1
                if key["small_blocks"] >= m.COMPACT_AFTER:
                    compact.append(key["id"])
                    key["small_blocks"] = 0
                change["small_blocks"] = key["small_blocks"]
            if change:
                changes.append({"b_id": key["id"], **_all_key_columns(key)})
            buckets.extend(m.bucket_rows(key["id"], batch))
        self.conn.execute(insert(metric_blocks), blocks)
        for key_id in compact:
            m.compact_small_blocks(self.conn, key_id)
        if changes:
            self.conn.execute(_KEY_UPDATE, changes)
        m.upsert_buckets(self.conn, buckets)
        self.points = {}
        self.run.dirty_summary = True

    def _create_keys(self, new: list[tuple[str, str]], aggs: dict[str, dict[str, Any]]) -> None:
        if not new:
            return
        rows = [{"run_pk": self.run_pk, "key": name, "kind": kind, "small_blocks": 0,
                 **_key_values(aggs[name])} for name, kind in new]
        self.conn.execute(insert(metric_keys), rows)
        ids: dict[str, int] = dict(self.conn.execute(
            select(metric_keys.c.key, metric_keys.c.id).where(
                metric_keys.c.run_pk == self.run_pk,
                metric_keys.c.key.in_([r["key"] for r in rows]))).all())
        assert self.keys is not None
        for row in rows:
            row["id"] = int(ids[row["key"]])
            row["_new"] = True
            self.keys[row["key"]] = row

    def rewind(self, step: int) -> None:
        """Delete history at ``step`` and after, then rebuild the affected summaries."""
        keys = self._load_keys()
        for key in [k for k in keys.values() if k["kind"] == "history"]:
            m.delete_from_step(self.conn, key["id"], step)
            self.conn.execute(delete(metric_buckets).where(metric_buckets.c.key_id == key["id"]))
            steps, ts, values = m.load_points(self.conn, key["id"])
            if len(steps) == 0:
                self.conn.execute(delete(metric_keys).where(metric_keys.c.id == key["id"]))
                del keys[key["key"]]
                continue
            batch = m.KeyBatch(steps, ts, values)  # type: ignore[arg-type]
            fresh = _key_values(m.batch_aggregates(batch))
            key.update(fresh)
            self.conn.execute(update(metric_keys).where(metric_keys.c.id == key["id"])
                              .values(**fresh))
            m.upsert_buckets(self.conn, m.bucket_rows(key["id"], batch))
        self.conn.execute(delete(media).where(media.c.run_pk == self.run_pk, media.c.step >= step))
        self.run.set(last_step=step - 1 if step > 0 else None)
        self.run.dirty_summary = True

    # -- finishing the batch ------------------------------------------------------------------
    def finish(self, heartbeat: bool) -> None:
        self.flush_points()
        run = self.run
        now = _now()
        if run.dirty_config:
            run.set(config=to_json_safe(run.config, negative_zero=True))
        if run.dirty_summary:
            run.set(summary=to_json_safe(self._summary(), negative_zero=True),
                    summary_user=to_json_safe(run.summary_user, negative_zero=True),
                    metric_defs=run.metric_defs)
            steps = [k["last_step"] for k in self._load_keys().values()
                     if k["kind"] == "history" and k["last_step"] is not None]
            if steps:
                run.set(last_step=max(steps))
        if heartbeat and run.values.get("state", run.row["state"]) in ("running", "crashed"):
            run.set(heartbeat_at=now)
            if run.row["state"] == "crashed" and "state" not in run.values:
                run.set(state="running")
        run.set(updated_at=now)
        self.conn.execute(update(runs).where(runs.c.id == self.run_pk).values(**run.values))
        self.conn.execute(update(projects).where(projects.c.id == run.row["project_id"])
                          .values(updated_at=now))

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        defs = self.run.metric_defs
        for name, key in self._load_keys().items():
            if key["kind"] != "history":
                continue
            mode = _summary_mode(name, defs)
            if mode == "none":
                continue
            out[name] = _summary_value(key, mode)
        out.update(self.run.summary_user)
        return out


def _scrub(record: Any) -> Any:
    """The record as any store can keep it, whoever sent it (I04, I06): text without NUL
    (PostgreSQL text and JSONB cannot hold it) and nested values through ``sanitize`` (depth,
    size and string limits), so a raw client cannot turn one record into a 500."""
    changes: dict[str, Any] = {}
    for field in record.__struct_fields__:
        value = getattr(record, field)
        if isinstance(value, str):
            if "\x00" in value:
                changes[field] = value.replace("\x00", "\ufffd")
        elif isinstance(value, dict):  # each value on its own, as the SDK's Config does
            changes[field] = {sanitize(k): sanitize(v) for k, v in value.items()}
        elif isinstance(value, list):
            changes[field] = [sanitize(v) for v in value]
    return msgspec.structs.replace(record, **changes) if changes else record


def _summary_mode(name: str, defs: list[dict[str, Any]]) -> str:
    for d in reversed(defs):
        if d.get("summary") and fnmatch.fnmatchcase(name, d["name"]):
            return str(d["summary"])
    return "last"


def _summary_value(key: dict[str, Any], mode: str) -> Any:
    if mode == "min":
        return key["min"] if key["min"] is not None else math.nan
    if mode == "max":
        return key["max"] if key["max"] is not None else math.nan
    if mode == "mean":
        n = key["finite_count"]
        return (key["sum"] if key["sum"] is not None else math.nan) / n if n else math.nan
    if mode == "first":
        return m.decode_value(key["first"], key["first_special"])
    return m.decode_value(key["last"], key["last_special"])


def _special(x: float) -> tuple[float | None, int | None]:
    if x != x:
        return None, m.NAN
    if x == 0 and math.copysign(1.0, x) < 0:
        return None, m.NEG_ZERO
    return x, None


def _key_values(agg: dict[str, Any]) -> dict[str, Any]:
    first, first_special = _special(agg["first"])
    last, last_special = _special(agg["last"])
    return {"count": agg["count"], "finite_count": agg["finite_count"], "sum": agg["sum"],
            "min": agg["min"], "max": agg["max"], "first": first, "first_special": first_special,
            "first_step": agg["first_step"], "last": last, "last_special": last_special,
            "last_step": agg["last_step"], "first_ts": agg["first_ts"], "last_ts": agg["last_ts"]}


_KEY_COLUMNS = ("count", "finite_count", "sum", "min", "max", "first", "first_special",
                "first_step", "last", "last_special", "last_step", "first_ts", "last_ts",
                "small_blocks")
_KEY_UPDATE = (update(metric_keys).where(metric_keys.c.id == bindparam("b_id"))
               .values({c: bindparam(c) for c in _KEY_COLUMNS}))


def _all_key_columns(key: dict[str, Any]) -> dict[str, Any]:
    return {c: key.get(c) for c in _KEY_COLUMNS}


def _merge_aggregates(key: dict[str, Any], agg: dict[str, Any]) -> dict[str, Any]:
    new = _key_values(agg)
    out = {"count": key["count"] + new["count"],
           "finite_count": key["finite_count"] + new["finite_count"]}
    out["sum"] = None if key["sum"] is None or new["sum"] is None else key["sum"] + new["sum"]
    if out["sum"] is not None and out["sum"] != out["sum"]:
        out["sum"] = None
    out["min"] = _pick(key["min"], new["min"], min)
    out["max"] = _pick(key["max"], new["max"], max)
    if key["first_step"] is None or new["first_step"] < key["first_step"]:
        out.update(first=new["first"], first_special=new["first_special"],
                   first_step=new["first_step"], first_ts=new["first_ts"])
    if key["last_step"] is None or new["last_step"] >= key["last_step"]:
        out.update(last=new["last"], last_special=new["last_special"],
                   last_step=new["last_step"], last_ts=new["last_ts"])
    return out


def _pick(a: float | None, b: float | None, fn: Any) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return fn(a, b)


def _clean_text(line: str) -> str:
    if "\x00" in line:
        line = line.replace("\x00", "\ufffd")
    return line[:MAX_CONSOLE_LINE]


def stream_hwm(conn: Connection, run_pk: int, stream: str, lock: bool) -> int | None:
    stmt = select(run_streams.c.hwm).where(run_streams.c.run_pk == run_pk,
                                           run_streams.c.stream == stream)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    value = conn.execute(stmt).scalar()
    return None if value is None else int(value)


def apply_batch(conn: Connection, project: str, run_id: str, stream: str,
                entries: list[tuple[int, rec.Record | None]],
                live: bool = True, blobs: Any = None) -> rec.IngestResult:
    """Apply the entries of one stream with ``seq`` above the stream's high-water mark.

    ``live`` batches come from a log being written now and count as a heartbeat; batches of
    ``kiseki sync`` or crash recovery do not, so syncing a crashed run does not revive it.
    """
    if conn.dialect.name == "sqlite":
        # take SQLite's write lock before reading the high-water mark: its driver begins a
        # transaction only at the first write, so two writers of one stream at once (an
        # orphaned sender and `kiseki sync`) would both read the old mark and both apply the
        # batch. (PostgreSQL locks the stream row with FOR UPDATE below.)
        conn.exec_driver_sql("UPDATE run_streams SET hwm = hwm WHERE 0")
    run_pk = ensure_run(conn, project, run_id)
    hwm = stream_hwm(conn, run_pk, stream, lock=True)
    if hwm is None:
        conn.execute(insert(run_streams).values(run_pk=run_pk, stream=stream, hwm=0, finished=0,
                                                skipped_unknown=0))
        hwm = stream_hwm(conn, run_pk, stream, lock=True) or 0
    todo = sorted((e for e in entries if e[0] > hwm), key=lambda e: e[0])
    if not todo:
        return rec.IngestResult(hwm=hwm, applied=0)
    applier = BatchApplier(conn, run_pk, live, blobs)
    metrics = applier.metrics
    for seq, record in todo:
        if type(record) is rec.Metrics:  # the bulk of every batch: straight to the buffer
            metrics.append(record)
        else:
            applier.apply(seq, record)
    applier.finish(heartbeat=live)
    new_hwm = todo[-1][0]
    conn.execute(update(run_streams)
                 .where(run_streams.c.run_pk == run_pk, run_streams.c.stream == stream)
                 .values(hwm=new_hwm,
                         skipped_unknown=run_streams.c.skipped_unknown + applier.skipped_unknown))
    return rec.IngestResult(hwm=new_hwm, applied=len(todo),
                            skipped_unknown=applier.skipped_unknown, rejected=applier.rejected)


def heartbeat(conn: Connection, items: list[tuple[str, str]]) -> None:
    now = _now()
    for project, run_id in items:
        pk = conn.execute(select(runs.c.id).join(projects, projects.c.id == runs.c.project_id)
                          .where(projects.c.name == project, runs.c.run_id == run_id)).scalar()
        if pk is None:
            continue
        conn.execute(update(runs).where(runs.c.id == pk, runs.c.state.in_(("running", "crashed")))
                     .values(heartbeat_at=now, state="running"))
