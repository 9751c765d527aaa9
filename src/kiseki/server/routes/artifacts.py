"""Artifacts, lineage and the model registry."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from kiseki.core.errors import NotFoundError
from kiseki.core.names import check_artifact_path
from kiseki.server.deps import Store
from kiseki.server.respond import json_response, stream_blob

router = APIRouter(tags=["artifacts"])
Tag = Annotated[str, Query(max_length=64)]


class LinkBody(BaseModel):
    project: str
    name: str
    version: str = "latest"  # alias or vN
    aliases: list[str] = []


class AliasBody(BaseModel):
    alias: str
    version: int


class ProtectBody(BaseModel):
    alias: str
    protected: bool = True


def _who(request: Request) -> tuple[str, bool]:
    return (getattr(request.state, "actor", "local"),
            bool(getattr(request.state, "maintainer", False)))


@router.get("/projects/{project}/artifacts", operation_id="list_artifacts")
async def list_artifacts(project: str, store: Store, type: str | None = None) -> Any:
    """Artifact collections of a project (optionally of one type), with version counts."""
    return json_response(await run_in_threadpool(store.artifact_collections, project, type))


@router.get("/projects/{project}/artifacts/{name}/versions", operation_id="list_artifact_versions")
async def list_artifact_versions(project: str, name: str, store: Store,
                                 tag: Annotated[str | None, Query(max_length=64)] = None) -> Any:
    """Every committed version, newest first, with aliases, tags, metadata and producing run
    (only those carrying ``tag`` when given)."""
    return json_response(await run_in_threadpool(store.artifact_versions, project, name, tag))


@router.get("/projects/{project}/artifacts/{name}/{tag}", operation_id="get_artifact")
async def get_artifact(project: str, name: str, tag: str, store: Store) -> Any:
    """One version by alias (``latest``, ``production``) or ``vN``, with its consumers."""
    info = await run_in_threadpool(store.artifact_version, project, name, tag)
    info["used_by"] = await run_in_threadpool(store.artifact_runs, project, name, tag, "used")
    return json_response(info)


@router.post("/blobs/{sha256}/upload-url", operation_id="blob_upload_url")
async def blob_upload_url(sha256: str, store: Store) -> Any:
    """Where to upload a blob: ``{"url", "headers"}`` of a presigned PUT straight to the
    bucket on an S3-backed server (the bucket checks the sha256), ``{"url": null}`` when the
    client should PUT to ``/api/v1/blobs/{sha256}``; ``{"exists": true}`` when it is stored."""
    from kiseki.store.blobs import check_digest

    check_digest(sha256)
    blobs = store.blob_store()
    if await run_in_threadpool(blobs.exists, sha256):
        return json_response({"exists": True, "url": None})
    target = await run_in_threadpool(blobs.upload_url, sha256)
    return json_response({"exists": False, **(target or {"url": None})})


@router.get("/projects/{project}/artifact-logs/{client_id}", operation_id="get_artifact_log")
async def get_artifact_log(project: str, client_id: str, store: Store) -> Any:
    """The version committed for one ``log_artifact`` call (404 until it is committed)."""
    info = await run_in_threadpool(store.artifact_by_client_id, client_id)
    if info is None or info["project"] != project:
        raise NotFoundError(f"no committed artifact for log {client_id!r} in {project}")
    return json_response(info)


@router.get("/projects/{project}/artifacts/{name}/{tag}/files",
            operation_id="list_artifact_files")
async def list_artifact_files(project: str, name: str, tag: str, store: Store,
                              offset: Annotated[int, Query(ge=0)] = 0,
                              limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000) -> Any:
    """The manifest: path, sha256 and size of each file (``ref`` for references)."""
    return json_response(await run_in_threadpool(store.artifact_files, project, name, tag,
                                                 offset, limit))


@router.get("/projects/{project}/artifacts/{name}/{tag}/file",
            operation_id="download_artifact_file")
async def download_artifact_file(project: str, name: str, tag: str, store: Store,
                                 path: Annotated[str, Query(max_length=1024)],
                                 redirect: bool = False) -> Any:
    """One stored file's bytes, always as a download (I14, I19); HTTP ranges on the local
    store. With ``redirect=true`` an S3-backed server answers 307 to a presigned URL, so big
    files go straight from the bucket to the client."""
    check_artifact_path(path)
    sha = await run_in_threadpool(store.artifact_file_blob, project, name, tag, path)
    return await stream_blob(store, sha, os.path.basename(path), "application/octet-stream",
                             redirect=redirect)


@router.delete("/projects/{project}/artifacts/{name}/{tag}", operation_id="delete_artifact")
async def delete_artifact(project: str, name: str, tag: str, store: Store) -> Any:
    """Remove a version from listings at once; 409 while a registry alias holds it. Its files
    are reclaimed by ``kiseki gc`` when nothing else references them."""
    return json_response(await run_in_threadpool(store.delete_artifact_version, project, name,
                                                 tag))


@router.get("/projects/{project}/runs/{run_id}/artifacts", operation_id="run_artifacts")
async def run_artifacts(project: str, run_id: str, store: Store,
                        direction: str = "produced") -> Any:
    """Versions a run ``produced`` (logged) or ``used``."""
    return json_response(await run_in_threadpool(store.run_artifacts, project, run_id,
                                                 direction))


@router.get("/projects/{project}/lineage", operation_id="get_lineage")
async def get_lineage(project: str, store: Store, run: str | None = None,
                      artifact: Annotated[str | None, Query(max_length=256)] = None,
                      depth: Annotated[int, Query(ge=1, le=20)] = 2) -> Any:
    """The lineage graph around a run (``run=ID``) or version (``artifact=name:alias``):
    nodes and data-flow edges within ``depth`` hops, both directions."""
    return json_response(await run_in_threadpool(store.lineage, project, run, artifact, depth))


@router.get("/registry", operation_id="list_registry")
async def list_registry(store: Store) -> Any:
    """Registered models with their linked versions and protected aliases."""
    return json_response(await run_in_threadpool(store.registry_list))


@router.get("/registry/{name}", operation_id="get_registered_model")
async def get_registered_model(name: str, store: Store) -> Any:
    """A registered model: versions (each with its source artifact), aliases, history."""
    return json_response(await run_in_threadpool(store.registry_get, name))


@router.get("/registry/{name}/{tag}", operation_id="get_registry_version")
async def get_registry_version(name: str, tag: str, store: Store) -> Any:
    return json_response(await run_in_threadpool(store.registry_version, name, tag))


@router.post("/registry/{name}/links", operation_id="link_to_registry")
async def link_to_registry(name: str, body: LinkBody, store: Store, request: Request) -> Any:
    """Link ``project/name:version`` into the registered model (created on first link)."""
    actor, maintainer = _who(request)
    return json_response(await run_in_threadpool(
        store.registry_link, name, body.project, body.name, body.version, body.aliases, actor,
        maintainer))


@router.post("/registry/{name}/aliases", operation_id="move_registry_alias")
async def move_registry_alias(name: str, body: AliasBody, store: Store,
                              request: Request) -> Any:
    """Move an alias to version ``vN`` of the registered model (403 if protected and the
    caller is not a maintainer); kept in the history."""
    actor, maintainer = _who(request)
    return json_response(await run_in_threadpool(
        store.registry_move_alias, name, body.alias, body.version, actor, maintainer))


@router.delete("/registry/{name}/aliases/{alias}", operation_id="remove_registry_alias")
async def remove_registry_alias(name: str, alias: str, store: Store, request: Request) -> Any:
    actor, maintainer = _who(request)
    await run_in_threadpool(store.registry_remove_alias, name, alias, actor, maintainer)
    return json_response({"removed": alias})


@router.post("/registry/{name}/protect", operation_id="protect_registry_alias")
async def protect_registry_alias(name: str, body: ProtectBody, store: Store,
                                 request: Request) -> Any:
    """Protect (or unprotect) an alias: afterwards only maintainers move it."""
    actor, maintainer = _who(request)
    await run_in_threadpool(store.registry_protect, name, body.alias, body.protected, actor,
                            maintainer)
    return json_response({"alias": body.alias, "protected": body.protected})
