"""Garbage collection of blobs no longer referenced by anything.

A blob stays while a committed artifact version lists it, or a stored media value needs it
(media rows written before migration 0005 do not list their blobs: every blob their project
references is then kept). Blobs younger than ``min_age`` seconds are always kept: they may
belong to an upload whose commit has not arrived yet.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, delete, select

from kiseki.store.tables import (
    artifact_files, artifact_versions, media, project_blobs, runs,
)


def referenced(conn: Connection) -> tuple[set[str], set[tuple[int, str]]]:
    """Digests still needed, and the (project, digest) read grants still needed."""
    from kiseki.store.tables import artifact_collections

    keep: set[str] = set()
    grants: set[tuple[int, str]] = set()
    projects_of: dict[int, int | None] = {
        int(r[0]): None if r[1] is None else int(r[1])
        for r in conn.execute(select(artifact_collections.c.id,
                                     artifact_collections.c.project_id)).all()}
    rows = conn.execute(select(artifact_files.c.sha256, artifact_versions.c.collection_id)
                        .join(artifact_versions, artifact_versions.c.id ==
                              artifact_files.c.version_id)
                        .where(artifact_versions.c.state == "committed",
                               artifact_files.c.sha256.is_not(None))).all()
    for row in rows:
        sha = str(row[0])
        keep.add(sha)
        project = projects_of.get(int(row[1]))
        if project is not None:
            grants.add((project, sha))
    legacy_projects: set[int] = set()
    media_rows = conn.execute(select(media.c.blobs, runs.c.project_id)
                              .join(runs, runs.c.id == media.c.run_pk)
                              .where(media.c.state == "stored")).all()
    for row in media_rows:
        blobs: Any = row[0]
        project = int(row[1])
        if blobs is None:
            legacy_projects.add(project)
            continue
        for sha in blobs:
            keep.add(str(sha))
            grants.add((project, str(sha)))
    if legacy_projects:
        for row in conn.execute(select(project_blobs.c.project_id, project_blobs.c.sha256)
                                .where(project_blobs.c.project_id.in_(
                                    list(legacy_projects)))).all():
            keep.add(str(row[1]))
            grants.add((int(row[0]), str(row[1])))
    return keep, grants


def collect(conn: Connection, blobs: Any, min_age: float = 3600.0,
            dry_run: bool = False, upload_max_age: float = 86400.0) -> dict[str, Any]:
    """Remove unreferenced blobs (older than ``min_age``) and stale read grants; abort
    multipart uploads to a bucket with no part stored for ``upload_max_age`` seconds (an
    interrupted upload resumes within that time)."""
    keep, grants = referenced(conn)
    now = time.time()
    removed = freed = kept_young = 0
    for sha, size, modified in list(blobs.listing()):
        if sha in keep:
            continue
        if now - modified < min_age:
            kept_young += 1
            continue
        removed += 1
        freed += size
        if not dry_run:
            blobs.remove(sha)
    stale: list[tuple[int, str]] = []
    for row in conn.execute(select(project_blobs.c.project_id, project_blobs.c.sha256)).all():
        grant = (int(row[0]), str(row[1]))
        if grant not in grants and grant[1] not in keep:
            stale.append(grant)
    if not dry_run:
        for project, sha in stale:
            conn.execute(delete(project_blobs).where(project_blobs.c.project_id == project,
                                                     project_blobs.c.sha256 == sha))
    aborted = 0
    if not dry_run and hasattr(blobs, "abort_stale_uploads"):  # S3: parts nobody will join
        aborted = blobs.abort_stale_uploads(now - upload_max_age)
    return {"blobs_removed": removed, "bytes_freed": freed, "kept_recent": kept_young,
            "blobs_kept": len(keep), "grants_removed": len(stale),
            "uploads_aborted": aborted, "dry_run": dry_run}
