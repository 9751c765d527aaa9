"""The SQL schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` create it.

Times are float seconds since the Unix epoch (UTC): portable, sortable and exact enough.
JSON documents (config, summary, metadata) carry non-finite floats as ``{"$float": ...}``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON, BigInteger, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, SmallInteger,
    String,
    Table, Text, UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# JSONB on PostgreSQL so filters on config/summary can use its operators and indexes.
Json = JSON().with_variant(JSONB(), "postgresql")
# INTEGER PRIMARY KEY is SQLite's rowid (cheap); BIGINT identity on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")

projects = Table(
    "projects", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("config", Json, nullable=False),
    Column("summary", Json, nullable=False),  # computed from history, user values merged on top
    Column("summary_user", Json, nullable=False),  # what the user wrote into run.summary
    Column("tags", Json, nullable=False),
    Column("run_group", String(256)),
    Column("job_type", String(256)),
    Column("notes", Text),
    Column("env", Json, nullable=False),  # captured environment ("metadata" in the read API)
    Column("metric_defs", Json, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("exit_code", Integer),
    Column("error", Text),
    Column("last_step", BigInteger),
    Column("sdk_version", String(32)),
    UniqueConstraint("project_id", "run_id", name="uq_runs_project_run"),
)
Index("ix_runs_project_created", runs.c.project_id, runs.c.created_at)
Index("ix_runs_state_heartbeat", runs.c.state, runs.c.heartbeat_at)

# One row per writer stream of a run: the high-water mark makes ingest idempotent.
run_streams = Table(
    "run_streams", metadata,
    Column("run_pk", BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("hwm", BigInteger, nullable=False),
    Column("finished", SmallInteger, nullable=False, default=0),
    Column("skipped_unknown", BigInteger, nullable=False, default=0),
)

# One row per metric key of a run, with running aggregates for the computed summary.
metric_keys = Table(
    "metric_keys", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_pk", BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(256), nullable=False),
    Column("kind", String(8), nullable=False),  # "history" | "system"
    Column("count", BigInteger, nullable=False),
    Column("finite_count", BigInteger, nullable=False),
    Column("sum", Float),  # NULL when +inf and -inf cancel (NaN)
    Column("min", Float),
    Column("max", Float),
    Column("first", Float),
    Column("first_special", SmallInteger),
    Column("first_step", BigInteger),
    Column("last", Float),
    Column("last_special", SmallInteger),
    Column("last_step", BigInteger),
    Column("first_ts", Float),
    Column("last_ts", Float),
    Column("small_blocks", Integer, nullable=False, default=0),
    UniqueConstraint("run_pk", "key", name="uq_metric_keys_run_key"),
)

# Raw points, kept for export and history, packed in blocks: one row holds the points of one
# key from one ingest batch as three little-endian arrays (int64 steps, float64 wall times,
# float64 values; NaN and -0.0 survive exactly). Row-per-point inserts top out near 400k
# rows/s on SQLite; blocks make ingest cost per batch, not per point. Small blocks from live
# trickles are merged once enough of them pile up (``metric_keys.small_blocks``).
metric_blocks = Table(
    "metric_blocks", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key_id", BigInteger, nullable=False),
    Column("n", Integer, nullable=False),
    Column("step_min", BigInteger, nullable=False),
    Column("step_max", BigInteger, nullable=False),
    Column("ts_min", Float, nullable=False),
    Column("ts_max", Float, nullable=False),
    Column("data", LargeBinary, nullable=False),
)
Index("ix_metric_blocks_key_step", metric_blocks.c.key_id, metric_blocks.c.step_min)

# Multi-resolution summaries maintained at ingest: level L groups steps in buckets of
# BUCKET_BASE**L (levels start at 2: finer views read raw blocks); a chart query reads O(buckets on screen) rows from one level.
metric_buckets = Table(
    "metric_buckets", metadata,
    Column("key_id", BigInteger, primary_key=True),
    Column("level", SmallInteger, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("finite_count", BigInteger, nullable=False),
    Column("sum", Float),  # NULL when +inf and -inf cancel (NaN)
    Column("min", Float),
    Column("max", Float),
    Column("last", Float),
    Column("last_step", BigInteger, nullable=False),
    Column("ts_min", Float, nullable=False),
    Column("ts_max", Float, nullable=False),
)

console_lines = Table(
    "console_lines", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_pk", BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("line_no", BigInteger, nullable=False),
    Column("stream", String(8), nullable=False),
    Column("ts", Float, nullable=False),
    Column("text", Text, nullable=False),
)
Index("ix_console_run_line", console_lines.c.run_pk, console_lines.c.line_no)

alerts = Table(
    "alerts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_pk", BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(256), nullable=False),
    Column("text", Text, nullable=False),
    Column("level", String(16), nullable=False),
    Column("ts", Float, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("role", String(16), nullable=False, server_default="member"),  # or "maintainer"
)

# Saved workspace views (panel layout, sections, chart settings) per project; ``name`` allows
# more than one saved view later, the web app uses "default".
workspaces = Table(
    "workspaces", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("layout", Json, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_workspace_project_name"),
)

# Rich values (images, galleries, tables, histograms) logged at a step. ``data`` is the
# descriptor (blob digests and metadata such as per-class pixel counts); ``state`` is
# "pending" until the encoded form arrives, then "stored" or "failed" (with ``error``).
media = Table(
    "media", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_pk", BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(256), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("media_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("data", Json),
    Column("error", Text),
    Column("warnings", Json),
    Column("ts", Float, nullable=False),
    Column("blobs", Json),  # digests this value needs (NULL: rows from before 0005)
    UniqueConstraint("run_pk", "media_id", name="uq_media_run_media"),
)
Index("ix_media_run_key_step", media.c.run_pk, media.c.key, media.c.step)

# Which project may read which content-addressed blob (blobs are shared; reads are scoped).
project_blobs = Table(
    "project_blobs", metadata,
    Column("project_id", BigInteger, ForeignKey("projects.id", ondelete="CASCADE"),
           primary_key=True),
    Column("sha256", String(64), primary_key=True),
)

# Artifacts: collections (a name and type in a project; registered models have kind
# "registry" and no project), versions (v0, v1, ... per collection; a registry "version" is a
# link to an artifact version), files (the manifest: content digest or a reference URI per
# path), aliases (unique within a collection), lineage edges and the registry's audit history.
artifact_collections = Table(
    "artifact_collections", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("project_id", BigInteger, ForeignKey("projects.id", ondelete="CASCADE")),
    Column("kind", String(16), nullable=False),  # "artifact" | "registry"
    Column("name", String(128), nullable=False),
    Column("type", String(64), nullable=False),
    Column("description", Text),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("project_id", "kind", "name", name="uq_artifact_collection"),
)

Index("uq_registry_name", artifact_collections.c.name, unique=True,
      sqlite_where=artifact_collections.c.kind == "registry",
      postgresql_where=artifact_collections.c.kind == "registry")

artifact_versions = Table(
    "artifact_versions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("collection_id", BigInteger,
           ForeignKey("artifact_collections.id", ondelete="CASCADE"), nullable=False),
    Column("version_index", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("description", Text),
    Column("metadata", Json, nullable=False),
    Column("state", String(16), nullable=False),  # "committed" | "deleted"
    Column("created_at", Float, nullable=False),
    Column("run_pk", BigInteger, ForeignKey("runs.id", ondelete="SET NULL")),
    Column("client_id", String(64)),
    Column("source_version_id", BigInteger),  # registry links: the linked artifact version
    Column("tags", Json),  # free labels of this version (["augmented", "fp16"])
    UniqueConstraint("collection_id", "version_index", name="uq_artifact_version_index"),
)
Index("ix_artifact_versions_client", artifact_versions.c.client_id)
Index("ix_artifact_versions_digest", artifact_versions.c.collection_id,
      artifact_versions.c.digest)

artifact_files = Table(
    "artifact_files", metadata,
    Column("version_id", BigInteger, ForeignKey("artifact_versions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("sha256", String(64)),
    Column("size", BigInteger, nullable=False),
    Column("ref_uri", Text),
    Column("ref_digest", String(128)),
)
Index("ix_artifact_files_sha", artifact_files.c.sha256)

# One row per log_artifact call: which version it committed (a new one, or the unchanged
# latest). Makes a retried commit idempotent and lets artifact.wait() find its version.
artifact_logs = Table(
    "artifact_logs", metadata,
    Column("client_id", String(64), primary_key=True),
    Column("version_id", BigInteger, ForeignKey("artifact_versions.id", ondelete="CASCADE"),
           nullable=False),
    Column("ts", Float, nullable=False),
)

artifact_aliases = Table(
    "artifact_aliases", metadata,
    Column("collection_id", BigInteger,
           ForeignKey("artifact_collections.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version_id", BigInteger, ForeignKey("artifact_versions.id", ondelete="CASCADE"),
           nullable=False),
    Column("protected", SmallInteger, nullable=False, default=0),
)

artifact_lineage = Table(
    "artifact_lineage", metadata,
    Column("run_pk", BigInteger, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("version_id", BigInteger, ForeignKey("artifact_versions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("direction", String(8), primary_key=True),  # "used" | "produced"
    Column("ts", Float, nullable=False),
)
Index("ix_artifact_lineage_version", artifact_lineage.c.version_id)

registry_events = Table(
    "registry_events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("collection_id", BigInteger,
           ForeignKey("artifact_collections.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(16), nullable=False),  # link | unlink | alias | unalias | protect
    Column("alias", String(64)),
    Column("from_version", Integer),
    Column("to_version", Integer),
    Column("actor", String(128), nullable=False),
    Column("ts", Float, nullable=False),
)
