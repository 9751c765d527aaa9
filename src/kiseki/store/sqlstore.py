"""SQLStore: the one object callers use to reach the database."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from kiseki.core import records as rec
from kiseki.core.errors import (
    NotFoundError, StorageError, StorageFullError, StorageUnavailableError, ValidationError,
    full_storage_message,
)
from kiseki.store import artifacts, ingest, media, metrics, queries
from kiseki.store.blobs import LocalBlobStore, S3BlobStore, make_blob_store
from kiseki.store.engine import make_engine, migrate

T = TypeVar("T")


def _unavailable(exc: DBAPIError) -> StorageUnavailableError:
    """A failed database operation worth retrying; a full disk is told apart (R13): SQLite's
    SQLITE_FULL, PostgreSQL's disk_full (53100)."""
    orig = exc.orig
    if (getattr(orig, "sqlite_errorcode", None) == 13
            or getattr(orig, "sqlstate", None) == "53100"
            or "database or disk is full" in str(orig)):
        return StorageFullError(full_storage_message("database", str(orig).strip()))
    return StorageUnavailableError(f"database unavailable: {orig}")


class SQLStore:
    """Metadata and metrics in SQLite or PostgreSQL.

    Lifecycle: ``SQLStore.open(url)`` migrates the schema and returns a store; every method
    runs in its own transaction; ``close()`` disposes of the connection pool. Safe to share
    between threads.
    """

    def __init__(self, engine: Engine, blob_dir: str | None = None,
                 heartbeat_timeout: float = 300.0, grace_until: float = 0.0,
                 blob_url: str | None = None, s3_endpoint: str | None = None) -> None:
        self.engine = engine
        self.blob_dir = blob_dir
        self.heartbeat_timeout = heartbeat_timeout
        self.grace_until = grace_until
        self._key_cache: tuple[float, dict[str, tuple[str, str]]] | None = None
        self.series_cache = metrics.SeriesCache()
        self.blobs = make_blob_store(blob_dir, blob_url, s3_endpoint)
        self._tables = media.TableCache()

    @classmethod
    def open(cls, url: str, blob_dir: str | None = None, heartbeat_timeout: float = 300.0,
             grace_until: float = 0.0, autocheckpoint: bool = True,
             blob_url: str | None = None, s3_endpoint: str | None = None) -> SQLStore:
        engine = make_engine(url, autocheckpoint=autocheckpoint)
        try:
            migrate(engine)
        except OperationalError as exc:
            engine.dispose()
            raise StorageUnavailableError(f"cannot open store {engine.url!r}: {exc.orig}") from exc
        return cls(engine, blob_dir, heartbeat_timeout, grace_until, blob_url, s3_endpoint)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def checkpoint(self) -> None:
        """Copy SQLite's write-ahead log into the database without blocking anyone."""
        if self.dialect != "sqlite":
            return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except OperationalError:
            pass  # busy: the next one will do

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from exc
        except DBAPIError as exc:
            raise self._translate(exc) from exc

    @staticmethod
    def _translate(exc: DBAPIError) -> StorageError:
        if exc.connection_invalidated:
            return StorageUnavailableError(f"database connection lost: {exc.orig}")
        return StorageError(f"database error: {exc.orig}")

    def _read(self, fn: Callable[[Connection], T]) -> T:
        with self._tx() as conn:
            try:  # a write on the way to a read: if the disk is full, the read still answers
                with conn.begin_nested():
                    queries.mark_crashed(conn, self.heartbeat_timeout, self.grace_until)
            except OperationalError:
                pass
            return fn(conn)

    def _read_data(self, fn: Callable[[Connection], T]) -> T:
        """A read of metric data, which says nothing about run states: without the crashed-run
        check, whose UPDATE would make it a write transaction. On SQLite a write transaction
        holds the one write lock, so concurrent chart queries would wait for each other."""
        with self._tx() as conn:
            return fn(conn)

    # -- writes ---------------------------------------------------------------------------------
    def ingest(self, project: str, run_id: str, stream: str,
               entries: list[tuple[int, rec.Record | None]],
               live: bool = True) -> rec.IngestResult:
        """Apply a batch of one stream idempotently (see :mod:`kiseki.store.ingest`)."""
        for _ in range(4):
            try:
                with self.engine.begin() as conn:
                    return ingest.apply_batch(conn, project, run_id, stream, entries, live,
                                              self.blobs)
            except IntegrityError:
                # two writers created the same project/run/stream row at once: the loser
                # retries and now finds the row
                continue
            except OperationalError as exc:
                raise _unavailable(exc) from exc
            except DBAPIError as exc:
                raise self._translate(exc) from exc
        raise StorageUnavailableError("concurrent writers kept colliding; retry the batch")

    def heartbeat(self, items: list[tuple[str, str]]) -> None:
        with self._tx() as conn:
            ingest.heartbeat(conn, items)

    def update_run(self, project: str, run_id: str, **values: Any) -> dict[str, Any]:
        from sqlalchemy import update

        from kiseki.store.tables import runs

        allowed = {"name", "notes", "tags"}
        clean = {k: v for k, v in values.items() if k in allowed and v is not None}
        with self._tx() as conn:
            pk = queries.run_pk(conn, project, run_id)
            if clean:
                conn.execute(update(runs).where(runs.c.id == pk)
                             .values(**clean, updated_at=time.time()))
            return queries.get_run(conn, project, run_id)

    def put_workspace(self, project: str, layout: dict[str, Any], name: str = "default",
                      base_version: int | None = None) -> dict[str, Any]:
        from kiseki.store import workspaces

        with self._tx() as conn:
            return workspaces.put_workspace(conn, project, layout, name, base_version)

    # -- reads ----------------------------------------------------------------------------------
    def get_workspace(self, project: str, name: str = "default") -> dict[str, Any]:
        from kiseki.store import workspaces

        return self._read(lambda c: workspaces.get_workspace(c, project, name))

    def catalogue(self, project: str) -> dict[str, Any]:
        from kiseki.store import workspaces

        return self._read(lambda c: workspaces.catalogue(c, project))

    def list_projects(self) -> list[dict[str, Any]]:
        return self._read(queries.list_projects)

    def get_run(self, project: str, run_id: str) -> dict[str, Any]:
        return self._read(lambda c: queries.get_run(c, project, run_id))

    def list_runs(self, project: str, filter_expr: Any = None, order: str | None = None,
                  offset: int = 0, limit: int = 50) -> dict[str, Any]:
        return self._read(lambda c: queries.list_runs(c, project, filter_expr, order, offset,
                                                      limit))

    def series(self, project: str, run_id: str, key: str, **kw: Any) -> dict[str, Any]:
        return self._read_data(lambda c: queries.series(c, project, run_id, key, **kw))

    def series_many(self, project: str, run_ids: list[str], keys: list[str],
                    **kw: Any) -> dict[str, Any]:
        """``series`` of every run x key pair in one read: ``{"series": [...], "missing":
        [{"run", "key"}, ...]}`` (see :func:`kiseki.store.queries.series_many`)."""
        return self._read_data(lambda c: queries.series_many(c, project, run_ids, keys,
                                                             cache=self.series_cache, **kw))

    def history_page(self, project: str, run_id: str, keys: list[str] | None = None,
                     min_step: int | None = None, max_step: int | None = None,
                     page_size: int = 1000, system: bool = False) -> dict[str, Any]:
        return self._read(lambda c: queries.history_page(c, project, run_id, keys, min_step,
                                                         max_step, page_size, system))

    # -- media --------------------------------------------------------------------------------
    def media_keys(self, project: str, run_ids: list[str] | None = None) -> dict[str, Any]:
        return self._read_data(lambda c: media.media_keys(c, project, run_ids))

    def get_media(self, project: str, run_id: str, key: str,
                  step: int | None = None) -> dict[str, Any]:
        return self._read(lambda c: media.get_media(c, project, run_id, key, step))

    def histograms(self, project: str, run_id: str, key: str) -> dict[str, Any]:
        return self._read_data(lambda c: media.histograms(c, project, run_id, key))

    def table_page(self, project: str, run_id: str, key: str, step: int | None = None,
                   filter: str = "", sort: str | None = None, desc: bool = False,
                   offset: int = 0, limit: int = 50, group: str | None = None) -> dict[str, Any]:
        """One page of a logged table, filtered, sorted and grouped (see
        :func:`kiseki.store.media.table_page`)."""
        return self._read(lambda c: media.table_page(
            c, self._tables, self.blob_store().read, project, run_id, key, step, filter, sort,
            desc, offset, limit, group))

    def blob_store(self) -> LocalBlobStore | S3BlobStore:
        if self.blobs is None:
            raise StorageError("this store has no blob folder; open it with blob_dir=")
        return self.blobs

    def read_blob(self, project: str, sha: str) -> bytes:
        """A blob referenced by ``project`` (NotFoundError otherwise: no existence oracle)."""
        self.blob_store().path(sha)  # validates the digest
        if not self._read_data(lambda c: media.blob_in_project(c, project, sha)):
            raise NotFoundError(f"blob {sha} not found in project {project}")
        try:
            return self.blob_store().read(sha)
        except StorageError as exc:
            raise NotFoundError(f"blob {sha} not found in project {project}") from exc

    def blob_access_many(self, project: str, shas: list[str]) -> None:
        """NotFoundError unless ``project`` may read every one of ``shas``."""
        from sqlalchemy import select

        from kiseki.store.tables import project_blobs
        from kiseki.store.queries import project_pk

        for sha in shas:
            self.blob_store().path(sha)

        def check(conn: Connection) -> None:
            ppk = project_pk(conn, project)
            for start in range(0, len(shas), 500):
                chunk = shas[start:start + 500]
                have: set[str] = set(conn.execute(select(project_blobs.c.sha256).where(
                    project_blobs.c.project_id == ppk,
                    project_blobs.c.sha256.in_(chunk))).scalars())
                for sha in chunk:
                    if sha not in have:
                        raise NotFoundError(f"blob {sha} not found in project {project}")

        self._read_data(check)

    def blob_access(self, project: str, sha: str) -> str:
        """``sha`` if ``project`` may read that blob; NotFoundError otherwise (no existence
        oracle across projects)."""
        self.blob_store().path(sha)  # validates the digest
        if not self._read_data(lambda c: media.blob_in_project(c, project, sha)):
            raise NotFoundError(f"blob {sha} not found in project {project}")
        return sha

    # -- artifacts and registry -----------------------------------------------------------------
    def artifact_version(self, project: str, name: str, tag: str = "latest") -> dict[str, Any]:
        return self._read_data(lambda c: artifacts.version_info(c, project, name, tag))

    def artifact_by_client_id(self, client_id: str) -> dict[str, Any] | None:
        return self._read_data(lambda c: artifacts.version_by_client_id(c, client_id))

    def artifact_files(self, project: str, name: str, tag: str, offset: int = 0,
                       limit: int = 10_000) -> dict[str, Any]:
        if not 1 <= limit <= 100_000:
            raise ValidationError(f"limit must be between 1 and 100000, got {limit}")
        return self._read_data(lambda c: artifacts.list_files(c, project, name, tag, offset,
                                                              limit))

    def artifact_file_blob(self, project: str, name: str, tag: str, path: str) -> str:
        """The sha256 of one stored file of a version (to stream it or presign its URL)."""
        return self._read_data(lambda c: artifacts.file_blob(c, project, name, tag, path))

    def artifact_collections(self, project: str, type: str | None = None) -> list[dict[str, Any]]:
        return self._read_data(lambda c: artifacts.list_collections(c, project, type))

    def artifact_versions(self, project: str, name: str,
                          tag: str | None = None) -> list[dict[str, Any]]:
        return self._read_data(lambda c: artifacts.list_versions(c, project, name, tag))

    def run_artifacts(self, project: str, run_id: str, direction: str) -> list[dict[str, Any]]:
        if direction not in ("used", "produced"):
            raise ValidationError(f"direction must be 'used' or 'produced', got {direction!r}")
        return self._read_data(lambda c: artifacts.run_artifacts(c, project, run_id, direction))

    def artifact_runs(self, project: str, name: str, tag: str, direction: str) -> list[str]:
        return self._read_data(lambda c: artifacts.version_runs(c, project, name, tag,
                                                                direction))

    def lineage(self, project: str, run_id: str | None = None, artifact: str | None = None,
                depth: int = 2) -> dict[str, Any]:
        return self._read_data(lambda c: artifacts.lineage(c, project, run_id, artifact, depth))

    def delete_artifact_version(self, project: str, name: str, tag: str) -> dict[str, Any]:
        with self._tx() as conn:
            return artifacts.delete_version(conn, project, name, tag)

    def collect_garbage(self, min_age: float = 3600.0, dry_run: bool = False,
                        upload_max_age: float = 86400.0) -> dict[str, Any]:
        """Remove blobs nothing references any more (see :mod:`kiseki.store.gc`)."""
        from kiseki.store import gc

        with self._tx() as conn:
            return gc.collect(conn, self.blob_store(), min_age, dry_run, upload_max_age)

    def registry_list(self) -> list[dict[str, Any]]:
        return self._read_data(artifacts.registry_list)

    def registry_get(self, name: str) -> dict[str, Any]:
        return self._read_data(lambda c: artifacts.registry_get(c, name))

    def registry_version(self, name: str, tag: str) -> dict[str, Any]:
        return self._read_data(lambda c: artifacts.registry_version(c, name, tag))

    def registry_link(self, target: str, project: str, name: str, tag: str,
                      aliases: list[str], actor: str = "local",
                      maintainer: bool = True) -> dict[str, Any]:
        with self._tx() as conn:
            source = artifacts.resolve(conn, project, name, tag)._mapping["id"]
            return artifacts.link(conn, target, int(source), aliases, actor, maintainer)

    def registry_move_alias(self, name: str, alias: str, version: int, actor: str = "local",
                            maintainer: bool = True) -> dict[str, Any]:
        with self._tx() as conn:
            return artifacts.move_registry_alias(conn, name, alias, version, actor, maintainer)

    def registry_remove_alias(self, name: str, alias: str, actor: str = "local",
                              maintainer: bool = True) -> None:
        with self._tx() as conn:
            artifacts.remove_registry_alias(conn, name, alias, actor, maintainer)

    def registry_protect(self, name: str, alias: str, protected: bool = True,
                         actor: str = "local", maintainer: bool = True) -> None:
        with self._tx() as conn:
            artifacts.protect_alias(conn, name, alias, protected, actor, maintainer)

    def console_page(self, project: str, run_id: str, offset: int = 0, limit: int = 1000,
                     search: str | None = None) -> dict[str, Any]:
        return self._read(lambda c: queries.console_page(c, project, run_id, offset, limit,
                                                         search))

    def updates_since(self, project: str, since: float) -> list[dict[str, Any]]:
        return self._read(lambda c: queries.updates_since(c, project, since))

    # -- API keys -------------------------------------------------------------------------------
    def create_api_key(self, name: str, role: str = "member") -> str:
        """Create a key and return it; only its hash is stored. ``role``: member or
        maintainer (maintainers move protected registry aliases)."""
        from kiseki.store import apikeys

        with self._tx() as conn:
            key = apikeys.create(conn, name, role)
        self._key_cache = None
        return key

    def revoke_api_key(self, prefix: str) -> None:
        from kiseki.store import apikeys

        with self._tx() as conn:
            apikeys.revoke(conn, prefix)
        self._key_cache = None

    def list_api_keys(self) -> list[dict[str, Any]]:
        from kiseki.store import apikeys

        with self._tx() as conn:
            return apikeys.listing(conn)

    def valid_key_hashes(self, max_age: float = 2.0) -> dict[str, tuple[str, str]]:
        """Hash -> (name, role) of active keys, cached for ``max_age`` seconds (revocation
        takes effect then)."""
        from kiseki.store import apikeys

        cache = getattr(self, "_key_cache", None)
        if cache is not None and time.monotonic() - cache[0] < max_age:
            return cache[1]
        with self._tx() as conn:
            hashes = apikeys.active_hashes(conn)
        self._key_cache = (time.monotonic(), hashes)
        return hashes
