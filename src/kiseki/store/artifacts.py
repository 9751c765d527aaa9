"""Artifact versions, aliases, lineage and the model registry.

A version is committed in one transaction with its whole manifest, and only when every file it
stores is already in the blob store: a half-uploaded version is never visible. Logging the same
content again (same manifest digest as the latest version) makes no new version; the run is
still recorded as a producer. ``latest`` follows the newest version; other aliases are unique
within a collection and move atomically. Registered models are collections of kind
``registry`` whose versions link artifact versions; every link and alias move is kept in
``registry_events`` with who and when.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiseki.core import records as rec
from kiseki.core.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from kiseki.core.names import (
    check_alias, check_artifact_name, check_artifact_path, check_artifact_type,
    check_reference_uri, version_index,
)
from kiseki.core.values import from_json_safe, to_json_safe
from kiseki.store.queries import project_pk
from kiseki.store.tables import (
    artifact_aliases, artifact_collections, artifact_files, artifact_lineage, artifact_logs,
    artifact_versions,
    project_blobs, projects, registry_events, runs,
)

MAX_FILES = 1_000_000
MAX_GRAPH_NODES = 2_000
_C, _V, _F, _A, _L = (artifact_collections.c, artifact_versions.c, artifact_files.c,
                      artifact_aliases.c, artifact_lineage.c)


def manifest_digest(files: list[tuple[str, str | None, int, str | None, str | None]]) -> str:
    """One digest for a manifest: same paths with same contents -> same digest."""
    h = hashlib.sha256()
    for path, sha, size, uri, ref in sorted(files):
        h.update(f"{path}\0{sha or ''}\0{size}\0{uri or ''}\0{ref or ''}\n".encode())
    return h.hexdigest()


def _collection(conn: Connection, project_id: int | None, kind: str, name: str, type_: str,
                create: bool) -> Any:
    cond = [_C.kind == kind, _C.name == name,
            _C.project_id.is_(None) if project_id is None else _C.project_id == project_id]
    row = conn.execute(select(artifact_collections).where(*cond)).first()
    if row is not None:
        if create and kind == "artifact" and row._mapping["type"] != type_:
            raise ValidationError(
                f"artifact {name!r} holds type {row._mapping['type']!r}, not {type_!r}; log "
                f"the {type_} under another name")
        return row
    if not create:
        raise NotFoundError(f"{'registered model' if kind == 'registry' else 'artifact'} "
                            f"{name!r} not found")
    try:  # two writers creating the same collection at once: the second finds the first's
        with conn.begin_nested():
            conn.execute(insert(artifact_collections).values(
                project_id=project_id, kind=kind, name=name, type=type_,
                created_at=time.time()))
    except IntegrityError:
        pass
    return conn.execute(select(artifact_collections).where(*cond)).one()


def commit_version(conn: Connection, project_id: int, run_pk: int, r: rec.ArtifactLogged,
                   missing_blobs: Callable[[list[str]], list[str]]) -> dict[str, Any]:
    """Commit a logged artifact (idempotent on ``client_id``); ValidationError if a file is
    missing from the blob store or a name or path is invalid (nothing is then stored)."""
    found = conn.execute(select(artifact_versions).join(
        artifact_logs, artifact_logs.c.version_id == _V.id)
        .where(artifact_logs.c.client_id == r.client_id[:64])).first()
    if found is not None:  # a retried commit
        return _describe(conn, found)
    name = check_artifact_name(r.name)
    type_ = check_artifact_type(r.type)
    aliases = [check_alias(a) for a in r.aliases if a != "latest"]
    if len(r.files) + len(r.references) > MAX_FILES:
        raise ValidationError(f"artifact {name!r} has more than {MAX_FILES:,} files")
    entries: list[tuple[str, str | None, int, str | None, str | None]] = []
    for path, sha, size in r.files:
        entries.append((check_artifact_path(path), str(sha), int(size), None, None))
    for path, uri, ref, size in r.references:
        entries.append((check_artifact_path(path), None, int(size or 0),
                        check_reference_uri(uri), None if ref is None else str(ref)[:128]))
    if len({e[0] for e in entries}) != len(entries):
        raise ValidationError(f"artifact {name!r} lists a path twice")
    missing = missing_blobs(sorted({e[1] for e in entries if e[1]}))
    if missing:
        raise ValidationError(f"artifact {name!r}: {len(missing)} file(s) never reached the "
                              "blob store; the version is not committed (sync again to retry)")
    coll = _collection(conn, project_id, "artifact", name, type_, create=True)
    cid = coll._mapping["id"]
    digest = manifest_digest(entries)
    latest = conn.execute(select(artifact_versions).where(
        _V.collection_id == cid, _V.state == "committed", _V.source_version_id.is_(None))
        .order_by(_V.version_index.desc()).limit(1)).first()
    tags = sorted({str(t)[:64] for t in r.tags})[:100]
    if latest is not None and latest._mapping["digest"] == digest:
        version_id = int(latest._mapping["id"])  # same content: no new version
        if tags:
            merged = sorted(set(latest._mapping["tags"] or []) | set(tags))
            conn.execute(update(artifact_versions).where(_V.id == version_id)
                         .values(tags=merged))
    else:
        index = conn.execute(select(func.coalesce(func.max(_V.version_index), -1))
                             .where(_V.collection_id == cid)).scalar_one() + 1
        version_id = int(conn.execute(insert(artifact_versions).values(
            collection_id=cid, version_index=index, digest=digest,
            size=sum(e[2] for e in entries), file_count=len(entries),
            description=r.description, metadata=to_json_safe(r.metadata or {}, True),
            state="committed", created_at=r.ts, run_pk=run_pk, client_id=r.client_id[:64],
            tags=tags).returning(_V.id)).scalar_one())
        rows = [{"version_id": version_id, "path": p, "sha256": s, "size": n, "ref_uri": u,
                 "ref_digest": d} for p, s, n, u, d in entries]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(artifact_files), rows[start:start + 5000])
        _move_alias(conn, cid, "latest", version_id)
        _link_blobs(conn, project_id, sorted({e[1] for e in entries if e[1]}))
    for alias in aliases:
        _move_alias(conn, cid, alias, version_id)
    _edge(conn, run_pk, version_id, "produced", r.ts)
    conn.execute(insert(artifact_logs).values(client_id=r.client_id[:64], version_id=version_id,
                                              ts=r.ts))
    return _describe(conn, conn.execute(select(artifact_versions)
                                        .where(_V.id == version_id)).one())


def _link_blobs(conn: Connection, project_id: int, shas: list[str]) -> None:
    for start in range(0, len(shas), 500):
        chunk = shas[start:start + 500]
        have: set[str] = set(conn.execute(select(project_blobs.c.sha256).where(
            project_blobs.c.project_id == project_id, project_blobs.c.sha256.in_(chunk)))
            .scalars())
        rows = [{"project_id": project_id, "sha256": s} for s in chunk if s not in have]
        if rows:
            conn.execute(insert(project_blobs), rows)


def _move_alias(conn: Connection, collection_id: int, alias: str,
                version_id: int) -> int | None:
    """Point ``alias`` at ``version_id``; return the version id it pointed at before."""
    old = conn.execute(select(_A.version_id, _A.protected).where(
        _A.collection_id == collection_id, _A.alias == alias)).first()
    if old is None:
        conn.execute(insert(artifact_aliases).values(collection_id=collection_id, alias=alias,
                                                     version_id=version_id, protected=0))
        return None
    conn.execute(update(artifact_aliases).where(
        _A.collection_id == collection_id, _A.alias == alias).values(version_id=version_id))
    return int(old[0])


def _edge(conn: Connection, run_pk: int, version_id: int, direction: str, ts: float) -> None:
    exists = conn.execute(select(_L.run_pk).where(
        _L.run_pk == run_pk, _L.version_id == version_id, _L.direction == direction)).first()
    if exists is None:
        conn.execute(insert(artifact_lineage).values(run_pk=run_pk, version_id=version_id,
                                                     direction=direction, ts=ts))


def resolve(conn: Connection, project: str, name: str, tag: str) -> Any:
    """The committed version ``project/name:tag`` (tag: alias or ``vN``)."""
    coll = _collection(conn, project_pk(conn, project), "artifact", name, "", create=False)
    return _resolve_in(conn, coll, tag, f"{project}/{name}:{tag}")


def _resolve_in(conn: Connection, coll: Any, tag: str, label: str) -> Any:
    cid = coll._mapping["id"]
    index = version_index(tag)
    if index is not None:
        row = conn.execute(select(artifact_versions).where(
            _V.collection_id == cid, _V.version_index == index, _V.state == "committed")).first()
    else:
        row = conn.execute(select(artifact_versions).join(
            artifact_aliases, and_(_A.version_id == _V.id, _A.collection_id == cid))
            .where(_A.alias == tag, _V.state == "committed")).first()
    if row is None:
        raise NotFoundError(f"artifact {label} not found")
    return row


def delete_version(conn: Connection, project: str, name: str, tag: str) -> dict[str, Any]:
    """Remove a version from listings at once (its blobs go at the next ``kiseki gc``).

    Refused while a registry alias points at a link to it: unlink or move the alias first.
    ``latest`` moves back to the newest remaining version.
    """
    row = resolve(conn, project, name, tag)
    vid = int(row._mapping["id"])
    links = conn.execute(select(_V.id, _V.version_index, _C.name).join(
        artifact_collections, _C.id == _V.collection_id).where(
        _V.source_version_id == vid, _V.state == "committed")).all()
    for link_id, index, model in links:
        held: list[str] = sorted(conn.execute(select(_A.alias).where(
            _A.version_id == link_id, _A.alias != "latest")).scalars())
        if held:
            raise ConflictError(
                f"{project}/{name}:{tag} is registry/{model}:v{index} with alias(es) "
                f"{', '.join(held)}; move or remove those aliases first")
    for link in links:
        _retire(conn, int(link[0]))
    _retire(conn, vid)
    return {"deleted": f"{project}/{name}:v{row._mapping['version_index']}"}


def _retire(conn: Connection, vid: int) -> None:
    row = conn.execute(select(_V.collection_id).where(_V.id == vid)).one()
    cid = int(row[0])
    conn.execute(update(artifact_versions).where(_V.id == vid).values(state="deleted"))
    conn.execute(delete(artifact_aliases).where(_A.version_id == vid))
    newest = conn.execute(select(_V.id).where(_V.collection_id == cid,
                                              _V.state == "committed")
                          .order_by(_V.version_index.desc()).limit(1)).scalar()
    if newest is not None:
        _move_alias(conn, cid, "latest", int(newest))


def use_version(conn: Connection, run_pk: int, project: str, name: str, index: int,
                ts: float) -> None:
    row = resolve(conn, project, name, f"v{index}")
    _edge(conn, run_pk, int(row._mapping["id"]), "used", ts)


def _describe(conn: Connection, row: Any) -> dict[str, Any]:
    v = row._mapping
    coll = conn.execute(select(artifact_collections).where(_C.id == v["collection_id"])).one()._mapping
    project: str | None = None
    if coll["project_id"] is not None:
        project = conn.execute(select(projects.c.name).where(
            projects.c.id == coll["project_id"])).scalar_one()
    aliases: list[str] = sorted(conn.execute(select(_A.alias).where(
        _A.collection_id == coll["id"], _A.version_id == v["id"])).scalars())
    producer = None
    if v["run_pk"] is not None:
        producer = conn.execute(select(runs.c.run_id).where(runs.c.id == v["run_pk"])).scalar()
    out = {"id": int(v["id"]), "project": project, "name": coll["name"], "type": coll["type"],
           "kind": coll["kind"], "version": f"v{v['version_index']}",
           "index": int(v["version_index"]), "aliases": aliases, "digest": v["digest"],
           "size": int(v["size"]), "file_count": int(v["file_count"]),
           "description": v["description"], "metadata": from_json_safe(v["metadata"]),
           "state": v["state"], "created_at": v["created_at"], "logged_by": producer,
           "client_id": v["client_id"], "tags": list(v["tags"] or [])}
    if coll["kind"] == "registry" and v["source_version_id"] is not None:
        source = conn.execute(select(artifact_versions).where(
            _V.id == v["source_version_id"])).one()
        out["source"] = _describe(conn, source)
    return out


def version_info(conn: Connection, project: str, name: str, tag: str) -> dict[str, Any]:
    return _describe(conn, resolve(conn, project, name, tag))


def version_by_client_id(conn: Connection, client_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(artifact_versions).join(
        artifact_logs, artifact_logs.c.version_id == _V.id)
        .where(artifact_logs.c.client_id == client_id[:64])).first()
    return None if row is None else _describe(conn, row)


def list_files(conn: Connection, project: str, name: str, tag: str, offset: int,
               limit: int) -> dict[str, Any]:
    row = resolve(conn, project, name, tag)
    vid = row._mapping["id"]
    total = conn.execute(select(func.count()).select_from(artifact_files)
                         .where(_F.version_id == vid)).scalar_one()
    files = conn.execute(select(_F.path, _F.sha256, _F.size, _F.ref_uri, _F.ref_digest)
                         .where(_F.version_id == vid).order_by(_F.path)
                         .offset(offset).limit(limit)).all()
    return {"total": int(total), "files": [
        {"path": f[0], "sha256": f[1], "size": int(f[2]), "ref": f[3], "ref_digest": f[4]}
        for f in files]}


def file_blob(conn: Connection, project: str, name: str, tag: str, path: str) -> str:
    """The sha256 of one stored file of a version (NotFoundError for references)."""
    row = resolve(conn, project, name, tag)
    sha = conn.execute(select(_F.sha256).where(_F.version_id == row._mapping["id"],
                                               _F.path == path)).scalar()
    if sha is None:
        raise NotFoundError(f"artifact {project}/{name}:{tag} has no stored file {path!r}")
    return str(sha)


def list_collections(conn: Connection, project: str, type_: str | None) -> list[dict[str, Any]]:
    pk = project_pk(conn, project)
    stmt = (select(_C.id, _C.name, _C.type, _C.created_at,
                   func.count(_V.id), func.max(_V.version_index))
            .outerjoin(artifact_versions, and_(_V.collection_id == _C.id,
                                               _V.state == "committed"))
            .where(_C.project_id == pk, _C.kind == "artifact")
            .group_by(_C.id, _C.name, _C.type, _C.created_at).order_by(_C.type, _C.name))
    if type_:
        stmt = stmt.where(_C.type == type_)
    return [{"name": r[1], "type": r[2], "created_at": r[3], "versions": int(r[4]),
             "latest": None if r[5] is None else f"v{r[5]}"} for r in conn.execute(stmt)]


def list_versions(conn: Connection, project: str, name: str,
                  tag: str | None = None) -> list[dict[str, Any]]:
    coll = _collection(conn, project_pk(conn, project), "artifact", name, "", create=False)
    rows = conn.execute(select(artifact_versions).where(
        _V.collection_id == coll._mapping["id"], _V.state == "committed")
        .order_by(_V.version_index.desc())).all()
    out = [_describe(conn, r) for r in rows]
    return [v for v in out if tag in v["tags"]] if tag else out


def run_artifacts(conn: Connection, project: str, run_id: str,
                  direction: str) -> list[dict[str, Any]]:
    from kiseki.store.queries import run_pk

    pk = run_pk(conn, project, run_id)
    rows = conn.execute(select(artifact_versions).join(
        artifact_lineage, _L.version_id == _V.id)
        .where(_L.run_pk == pk, _L.direction == direction).order_by(_L.ts)).all()
    return [_describe(conn, r) for r in rows]


def version_runs(conn: Connection, project: str, name: str, tag: str,
                 direction: str) -> list[str]:
    row = resolve(conn, project, name, tag)
    return list(conn.execute(select(runs.c.run_id).join(
        artifact_lineage, _L.run_pk == runs.c.id).where(
        _L.version_id == row._mapping["id"], _L.direction == direction)
        .order_by(_L.ts)).scalars())


def lineage(conn: Connection, project: str, run_id: str | None, artifact: str | None,
            depth: int) -> dict[str, Any]:
    """Nodes and edges within ``depth`` hops of a run or a version, both directions, and the
    registered models that link the versions found.

    Nodes:

    - ``{"id": "run:<project>/<run_id>", "kind": "run", "project", "run_id", "name", "state",
      "job_type"}``
    - ``{"id": "artifact:<project>/<name>:v<N>", "kind": "artifact", "project", "name", "type",
      "version", "aliases", "size", "state"}``
    - ``{"id": "registry:<name>", "kind": "registry", "name", "type", "aliases": [{"alias",
      "version": <registry version index>, "artifact": <artifact node id>}], "protected":
      [<protected alias names of the model>]}``, one per registered model linking a version
      in the graph. ``aliases`` lists only aliases pointing at links of versions in the graph
      and leaves out ``latest`` (it follows the newest link by itself). A leaf: the walk does
      not go through it.

    Edges point the way data flows: ``{"from", "to", "kind": "produced"}`` (run -> version),
    ``{"from", "to", "kind": "used"}`` (version -> consuming run) and ``{"from": <artifact>,
    "to": <registry>, "kind": "linked", "version": <registry version index>, "aliases": [...]}``.
    At most ``MAX_GRAPH_NODES`` nodes: registry nodes only fill what the walk left free.
    """
    from kiseki.store.queries import run_pk

    if not 1 <= depth <= 20:
        raise ValidationError(f"depth must be between 1 and 20, got {depth}")
    start_runs: set[int] = set()
    start_versions: set[int] = set()
    if run_id:
        start_runs.add(run_pk(conn, project, run_id))
    elif artifact:
        name, _, tag = artifact.partition(":")
        start_versions.add(int(resolve(conn, project, name, tag or "latest")._mapping["id"]))
    else:
        raise ValidationError("lineage needs run= or artifact= (name:alias)")
    seen_runs, seen_versions, edges = _walk(conn, start_runs, start_versions, depth)
    run_ids, nodes = _run_nodes(conn, seen_runs)
    version_ids, version_nodes = _version_nodes(conn, seen_versions)
    nodes += version_nodes
    out_edges = []
    for direction, run, version in sorted(edges):
        if run not in run_ids or version not in version_ids:
            continue
        if direction == "produced":
            out_edges.append({"from": run_ids[run], "to": version_ids[version],
                              "kind": "produced"})
        else:
            out_edges.append({"from": version_ids[version], "to": run_ids[run], "kind": "used"})
    registry_nodes, linked = _registry_links(conn, version_ids, MAX_GRAPH_NODES - len(nodes))
    return {"nodes": nodes + registry_nodes, "edges": out_edges + linked}


def _walk(conn: Connection, runs_todo: set[int], versions_todo: set[int],
          depth: int) -> tuple[set[int], set[int], set[tuple[str, int, int]]]:
    """Breadth-first over ``artifact_lineage``: the runs, versions and (direction, run_pk,
    version_id) edges within ``depth`` hops (stops early past ``MAX_GRAPH_NODES``)."""
    seen_runs: set[int] = set()
    seen_versions: set[int] = set()
    edges: set[tuple[str, int, int]] = set()
    for _ in range(depth + 1):
        runs_todo -= seen_runs
        versions_todo -= seen_versions
        if not runs_todo and not versions_todo:
            break
        seen_runs |= runs_todo
        seen_versions |= versions_todo
        if len(seen_runs) + len(seen_versions) > MAX_GRAPH_NODES:
            break
        found = conn.execute(select(_L.run_pk, _L.version_id, _L.direction).where(
            (_L.run_pk.in_(list(runs_todo))) | (_L.version_id.in_(list(versions_todo))))).all()
        runs_todo, versions_todo = set(), set()
        for edge in found:
            run, version = int(edge[0]), int(edge[1])
            edges.add((str(edge[2]), run, version))
            runs_todo.add(run)
            versions_todo.add(version)
    return seen_runs, seen_versions, edges


def _run_nodes(conn: Connection, pks: set[int]) -> tuple[dict[int, str], list[dict[str, Any]]]:
    run_rows = conn.execute(select(runs.c.id, runs.c.run_id, runs.c.name, runs.c.state,
                                   runs.c.job_type, projects.c.name)
                            .join(projects, projects.c.id == runs.c.project_id)
                            .where(runs.c.id.in_(list(pks)))).all()
    ids: dict[int, str] = {}
    nodes = []
    for run_row in run_rows:
        m = run_row._mapping
        pk = int(m[runs.c.id])
        ids[pk] = f"run:{m[projects.c.name]}/{m[runs.c.run_id]}"
        nodes.append({"id": ids[pk], "kind": "run", "project": m[projects.c.name],
                      "run_id": m[runs.c.run_id], "name": m[runs.c.name],
                      "state": m[runs.c.state], "job_type": m[runs.c.job_type]})
    return ids, nodes


def _version_nodes(conn: Connection,
                   vids: set[int]) -> tuple[dict[int, str], list[dict[str, Any]]]:
    ids: dict[int, str] = {}
    nodes = []
    for vid in sorted(vids):
        found_row = conn.execute(select(artifact_versions).where(_V.id == vid)).first()
        if found_row is None:
            continue
        info = _describe(conn, found_row)
        ids[vid] = f"artifact:{info['project']}/{info['name']}:{info['version']}"
        nodes.append({"id": ids[vid], "kind": "artifact", **{
            k: info[k] for k in ("project", "name", "type", "version", "aliases", "size",
                                 "state")}})
    return ids, nodes


def _rows_in(conn: Connection, make: Callable[[list[int]], Any], ids: list[int]) -> list[Any]:
    """``make(chunk)``'s rows over ``ids`` in chunks (a 2,000-node graph stays well under the
    databases' bound-parameter limits)."""
    out: list[Any] = []
    for start in range(0, len(ids), 500):
        out += conn.execute(make(ids[start:start + 500])).all()
    return out


def _registry_links(conn: Connection, version_ids: dict[int, str],
                    budget: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The registry nodes and ``linked`` edges of the versions in a lineage graph (see
    ``lineage``): at most ``budget`` registered models, the first by name."""
    if budget <= 0 or not version_ids:
        return [], []
    links = _rows_in(conn, lambda chunk: select(
        _V.id, _V.source_version_id, _V.version_index, _C.id, _C.name, _C.type)
        .join(artifact_collections, _C.id == _V.collection_id)
        .where(_C.kind == "registry", _V.state == "committed",
               _V.source_version_id.in_(chunk)), sorted(version_ids))
    models = sorted({(str(r[4]), int(r[3]), str(r[5])) for r in links})[:budget]
    kept = {cid for _, cid, _ in models}
    links = [r for r in links if int(r[3]) in kept]
    on_link: dict[int, list[str]] = {}
    for link_id, alias in _rows_in(conn, lambda chunk: select(_A.version_id, _A.alias).where(
            _A.version_id.in_(chunk), _A.alias != "latest"), sorted(int(r[0]) for r in links)):
        on_link.setdefault(int(link_id), []).append(str(alias))
    locked: dict[int, list[str]] = {}
    for cid, alias in _rows_in(conn, lambda chunk: select(_A.collection_id, _A.alias).where(
            _A.collection_id.in_(chunk), _A.protected == 1), sorted(kept)):
        locked.setdefault(int(cid), []).append(str(alias))
    refs: dict[int, list[dict[str, Any]]] = {cid: [] for cid in kept}
    edges: list[dict[str, Any]] = []
    for link_id, source_id, index, cid, name, _ in sorted(links, key=lambda r: (r[4], r[2])):
        artifact_id = version_ids[int(source_id)]
        aliases = sorted(on_link.get(int(link_id), []))
        refs[int(cid)] += [{"alias": a, "version": int(index), "artifact": artifact_id}
                           for a in aliases]
        edges.append({"from": artifact_id, "to": f"registry:{name}", "kind": "linked",
                      "version": int(index), "aliases": aliases})
    nodes: list[dict[str, Any]] = [
        {"id": f"registry:{name}", "kind": "registry", "name": name, "type": type_,
         "aliases": sorted(refs[cid], key=lambda a: str(a["alias"])),
         "protected": sorted(locked.get(cid, []))} for name, cid, type_ in models]
    return nodes, edges


# -- registry -------------------------------------------------------------------------------------

def link(conn: Connection, target: str, source_id: int, aliases: list[str],
         actor: str, maintainer: bool = False) -> dict[str, Any]:
    """Link an artifact version into registered model ``target``; move ``aliases`` to it."""
    target = check_artifact_name(target, "registered model name")
    aliases = [check_alias(a) for a in aliases if a != "latest"]
    source = conn.execute(select(artifact_versions).where(_V.id == source_id)).one()._mapping
    if source["state"] != "committed":
        raise ValidationError("only committed versions can be linked")
    stype: str = conn.execute(select(_C.type).where(_C.id == source["collection_id"])).scalar_one()
    coll = _collection(conn, None, "registry", target, stype, create=True)
    cid = coll._mapping["id"]
    row = conn.execute(select(artifact_versions).where(
        _V.collection_id == cid, _V.source_version_id == source_id,
        _V.state == "committed")).first()
    now = time.time()
    if row is None:
        index = conn.execute(select(func.coalesce(func.max(_V.version_index), -1))
                             .where(_V.collection_id == cid)).scalar_one() + 1
        vid = int(conn.execute(insert(artifact_versions).values(
            collection_id=cid, version_index=index, digest=source["digest"],
            size=source["size"], file_count=source["file_count"],
            description=source["description"], metadata=source["metadata"],
            state="committed", created_at=now, run_pk=source["run_pk"],
            source_version_id=source_id).returning(_V.id)).scalar_one())
        _event(conn, cid, "link", None, None, index, actor, now)
        _move_alias(conn, cid, "latest", vid)
        row = conn.execute(select(artifact_versions).where(_V.id == vid)).one()
    for alias in aliases:
        move_registry_alias(conn, target, alias, int(row._mapping["version_index"]), actor,
                            maintainer)
    return _describe(conn, conn.execute(select(artifact_versions)
                                        .where(_V.id == row._mapping["id"])).one())


def _event(conn: Connection, cid: int, action: str, alias: str | None, from_v: int | None,
           to_v: int | None, actor: str, ts: float) -> None:
    conn.execute(insert(registry_events).values(collection_id=cid, action=action, alias=alias,
                                                from_version=from_v, to_version=to_v,
                                                actor=actor[:128], ts=ts))


def _registry(conn: Connection, name: str) -> Any:
    return _collection(conn, None, "registry", check_artifact_name(name, "registered model"),
                       "", create=False)


def move_registry_alias(conn: Connection, name: str, alias: str, index: int, actor: str,
                        maintainer: bool) -> dict[str, Any]:
    """Point ``alias`` of registered model ``name`` at its version ``index`` (atomically; the
    alias leaves the version it was on). Protected aliases move only for maintainers."""
    alias = check_alias(alias)
    coll = _registry(conn, name)
    cid = coll._mapping["id"]
    target = _resolve_in(conn, coll, f"v{index}", f"registry/{name}:v{index}")
    current = conn.execute(select(_A.version_id, _A.protected).where(
        _A.collection_id == cid, _A.alias == alias)).first()
    if current is not None and current[1] and not maintainer:
        raise ForbiddenError(f"alias {alias!r} of registry/{name} is protected: only "
                              "maintainers move it")
    if current is not None and int(current[0]) == int(target._mapping["id"]):
        return _describe(conn, target)
    old = _move_alias(conn, cid, alias, int(target._mapping["id"]))
    from_index = None
    if old is not None:
        from_index = conn.execute(select(_V.version_index).where(_V.id == old)).scalar()
    _event(conn, cid, "alias", alias, from_index, index, actor, time.time())
    return _describe(conn, target)


def remove_registry_alias(conn: Connection, name: str, alias: str, actor: str,
                          maintainer: bool) -> None:
    coll = _registry(conn, name)
    cid = coll._mapping["id"]
    current = conn.execute(select(_A.version_id, _A.protected).where(
        _A.collection_id == cid, _A.alias == alias)).first()
    if current is None:
        raise NotFoundError(f"registry/{name} has no alias {alias!r}")
    if current[1] and not maintainer:
        raise ForbiddenError(f"alias {alias!r} of registry/{name} is protected: only "
                              "maintainers remove it")
    index = conn.execute(select(_V.version_index).where(_V.id == current[0])).scalar()
    conn.execute(delete(artifact_aliases).where(_A.collection_id == cid, _A.alias == alias))
    _event(conn, cid, "unalias", alias, index, None, actor, time.time())


def protect_alias(conn: Connection, name: str, alias: str, protected: bool, actor: str,
                  maintainer: bool) -> None:
    if not maintainer:
        raise ForbiddenError("only maintainers protect or unprotect aliases")
    coll = _registry(conn, name)
    result = conn.execute(update(artifact_aliases).where(
        _A.collection_id == coll._mapping["id"], _A.alias == check_alias(alias))
        .values(protected=1 if protected else 0))
    if not result.rowcount:
        raise NotFoundError(f"registry/{name} has no alias {alias!r}")
    _event(conn, coll._mapping["id"], "protect" if protected else "unprotect", alias, None,
           None, actor, time.time())


def registry_list(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(artifact_collections).where(_C.kind == "registry")
                        .order_by(_C.name)).all()
    return [registry_get(conn, r._mapping["name"], with_history=False) for r in rows]


def registry_get(conn: Connection, name: str, with_history: bool = True) -> dict[str, Any]:
    coll = _registry(conn, name)
    cid = coll._mapping["id"]
    versions = [_describe(conn, r) for r in conn.execute(select(artifact_versions).where(
        _V.collection_id == cid, _V.state == "committed").order_by(_V.version_index.desc()))]
    protected: list[str] = sorted(conn.execute(select(_A.alias).where(
        _A.collection_id == cid, _A.protected == 1)).scalars())
    out: dict[str, Any] = {"name": coll._mapping["name"], "type": coll._mapping["type"],
                           "versions": versions, "protected_aliases": protected}
    if with_history:
        out["history"] = [
            {"action": e[0], "alias": e[1], "from_version": None if e[2] is None else f"v{e[2]}",
             "to_version": None if e[3] is None else f"v{e[3]}", "actor": e[4], "ts": e[5]}
            for e in conn.execute(select(registry_events.c.action, registry_events.c.alias,
                                         registry_events.c.from_version,
                                         registry_events.c.to_version,
                                         registry_events.c.actor, registry_events.c.ts)
                                  .where(registry_events.c.collection_id == cid)
                                  .order_by(registry_events.c.id))]
    return out


def registry_version(conn: Connection, name: str, tag: str) -> dict[str, Any]:
    coll = _registry(conn, name)
    return _describe(conn, _resolve_in(conn, coll, tag, f"registry/{name}:{tag}"))
