"""Saved workspace views and the column/metric catalogue the web app builds them from."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Connection, distinct, insert, select, update

from kiseki.core.errors import ConflictError, ValidationError
from kiseki.core.keys import flatten
from kiseki.core.values import from_json_safe
from kiseki.store.queries import project_pk
from kiseki.store.tables import metric_keys, runs, workspaces

MAX_LAYOUT_BYTES = 512 * 1024
MAX_CATALOGUE_RUNS = 20_000


def get_workspace(conn: Connection, project: str, name: str = "default") -> dict[str, Any]:
    """The saved layout, or an empty one at version 0 when none was saved yet."""
    pk = project_pk(conn, project)
    row = conn.execute(select(workspaces.c.layout, workspaces.c.version, workspaces.c.updated_at)
                       .where(workspaces.c.project_id == pk, workspaces.c.name == name)).first()
    if row is None:
        return {"project": project, "name": name, "layout": {}, "version": 0,
                "updated_at": None}
    return {"project": project, "name": name, "layout": row.layout, "version": row.version,
            "updated_at": row.updated_at}


def put_workspace(conn: Connection, project: str, layout: dict[str, Any], name: str = "default",
                  base_version: int | None = None) -> dict[str, Any]:
    """Store ``layout``. With ``base_version`` the write fails with a conflict when someone else
    saved in between (another tab), instead of silently dropping their panels."""
    if not isinstance(layout, dict):
        raise ValidationError("layout must be a JSON object")
    size = len(json.dumps(layout))
    if size > MAX_LAYOUT_BYTES:
        raise ValidationError(f"layout is {size} bytes, more than the {MAX_LAYOUT_BYTES} allowed; "
                              "remove panels or sections")
    pk = project_pk(conn, project)
    now = time.time()
    current = conn.execute(select(workspaces.c.id, workspaces.c.version)
                           .where(workspaces.c.project_id == pk, workspaces.c.name == name)).first()
    have = current.version if current is not None else 0
    if base_version is not None and base_version != have:
        raise ConflictError(f"workspace {name!r} was saved elsewhere (version {have}, you edited "
                            f"version {base_version}); reload it and apply your change again")
    if current is None:
        conn.execute(insert(workspaces).values(project_id=pk, name=name, layout=layout,
                                               version=1, updated_at=now))
    else:
        conn.execute(update(workspaces).where(workspaces.c.id == current.id)
                     .values(layout=layout, version=have + 1, updated_at=now))
    return {"project": project, "name": name, "layout": layout, "version": have + 1,
            "updated_at": now}


def catalogue(conn: Connection, project: str) -> dict[str, Any]:
    """Every metric key, system key, config key and summary key in the project (sorted).

    The workspace makes one chart panel per metric key and offers config/summary keys as table
    columns and grouping keys.
    """
    pk = project_pk(conn, project)
    run_pks = select(runs.c.id).where(runs.c.project_id == pk).scalar_subquery()
    keys: dict[str, set[str]] = {"history": set(), "system": set()}
    for row in conn.execute(select(distinct(metric_keys.c.key), metric_keys.c.kind)
                            .where(metric_keys.c.run_pk.in_(run_pks))):
        keys.setdefault(str(row[1]), set()).add(str(row[0]))
    config_keys: set[str] = set()
    summary_keys: set[str] = set()
    rows = conn.execute(select(runs.c.config, runs.c.summary).where(runs.c.project_id == pk)
                        .order_by(runs.c.id.desc()).limit(MAX_CATALOGUE_RUNS))
    for config, summary in rows:
        config_keys.update(flatten(from_json_safe(config) or {}).keys())
        summary_keys.update(k for k in flatten(from_json_safe(summary) or {}) if not k.startswith("_"))
    return {"metrics": sorted(keys["history"]), "system": sorted(keys["system"]),
            "config": sorted(config_keys), "summary": sorted(summary_keys)}
