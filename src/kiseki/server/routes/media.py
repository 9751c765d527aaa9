"""Media: blob upload from the SDK, and reading images, tables and histograms back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from kiseki.core.errors import PayloadTooLargeError
from kiseki.server.deps import Store
from kiseki.server.respond import json_response, stream_blob
from kiseki.server.schemas import BlobStored, Histograms, MediaAtStep, MediaKeys, TablePage
from kiseki.store.blobs import check_digest

router = APIRouter(tags=["media"])

# What a blob is served as: only image formats the browser shows inline; anything else is a
# download (never active content, I14/I19).
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


@router.head("/blobs/{sha256}", operation_id="has_blob", include_in_schema=False)
async def has_blob(sha256: str, store: Store) -> Response:
    check_digest(sha256)
    found = await run_in_threadpool(store.blob_store().exists, sha256)
    return Response(status_code=200 if found else 404)


@router.put("/blobs/{sha256}", operation_id="put_blob", response_model=BlobStored)
async def put_blob(sha256: str, request: Request, store: Store):  # type: ignore[no-untyped-def]
    """Store a blob under its sha256 (streamed to disk, verified here; 400 when the bytes do not
    match, 413 above the server's blob limit)."""
    check_digest(sha256)
    limit = request.app.state.settings.max_blob_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"blob of {declared} bytes is over the {limit}-byte limit")
    blobs = store.blob_store()
    if await run_in_threadpool(blobs.exists, sha256):
        return json_response({"sha256": sha256, "size": blobs.size(sha256)})
    upload: Any = await run_in_threadpool(blobs.begin, sha256, limit)
    try:
        async for chunk in request.stream():
            upload.write(chunk)
        stored = await run_in_threadpool(upload.commit)
    except BaseException:
        upload.abort()
        raise
    return json_response({"sha256": sha256, "size": stored})


@router.get("/projects/{project}/blobs/{sha256}", operation_id="get_blob",
            response_class=Response)
async def get_blob(project: str, sha256: str, store: Store) -> Response:
    """A blob of this project (images are served as images, anything else as a download)."""
    await run_in_threadpool(store.blob_access, project, sha256)
    head = await run_in_threadpool(_first_bytes, store, sha256)
    media_type = next((t for sig, t in _SIGNATURES if head.startswith(sig)),
                      "application/octet-stream")
    filename = sha256 if media_type == "application/octet-stream" else None
    return await stream_blob(store, sha256, filename, media_type)


def _first_bytes(store: Any, sha: str) -> bytes:
    for chunk in store.blob_store().iter_chunks(sha, 8):
        return bytes(chunk[:8])
    return b""


@router.get("/projects/{project}/media/keys", operation_id="list_media_keys",
            response_model=MediaKeys)
async def list_media_keys(project: str, store: Store,  # type: ignore[no-untyped-def]
                          runs: Annotated[str | None, Query(max_length=100_000)] = None):
    """Media keys of the project (or of the comma-separated ``runs``) with their kind."""
    ids = [r for r in (runs or "").split(",") if r] or None
    return json_response(await run_in_threadpool(store.media_keys, project, ids))


@router.get("/projects/{project}/runs/{run_id}/media", operation_id="get_media",
            response_model=MediaAtStep)
async def get_media(project: str, run_id: str, store: Store,  # type: ignore[no-untyped-def]
                    key: Annotated[str, Query(max_length=256)],
                    step: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None):
    """Values of ``key`` at ``step`` (latest when omitted; else the closest at or before)."""
    return json_response(await run_in_threadpool(store.get_media, project, run_id, key, step))


@router.get("/projects/{project}/runs/{run_id}/table", operation_id="get_table",
            response_model=TablePage)
async def get_table(project: str, run_id: str, store: Store,  # type: ignore[no-untyped-def]
                    key: Annotated[str, Query(max_length=256)],
                    step: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
                    filter: Annotated[str, Query(max_length=10_000)] = "",
                    sort: Annotated[str | None, Query(max_length=256)] = None,
                    desc: bool = False,
                    offset: Annotated[int, Query(ge=0)] = 0,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                    group: Annotated[str | None, Query(max_length=256)] = None):
    """A page of a logged table. ``filter`` like ``"bicycle" in ground_truth.classes and iou <
    0.5``; ``sort`` a column (``desc`` for descending); ``group`` a column (counts, means)."""
    page = await run_in_threadpool(store.table_page, project, run_id, key, step, filter, sort,
                                   desc, offset, limit, group)
    return json_response(page)


@router.get("/projects/{project}/runs/{run_id}/histograms", operation_id="get_histograms",
            response_model=Histograms)
async def get_histograms(project: str, run_id: str, store: Store,  # type: ignore[no-untyped-def]
                         key: Annotated[str, Query(max_length=256)]):
    """Every histogram of ``key`` over steps (for a heat-map)."""
    return json_response(await run_in_threadpool(store.histograms, project, run_id, key))
