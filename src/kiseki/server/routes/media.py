"""Media: blob upload from the SDK, and reading images, tables and histograms back."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from kiseki.core.errors import PayloadTooLargeError, ValidationError
from kiseki.server.deps import Store
from kiseki.server.respond import json_response, stream_blob
from kiseki.server.schemas import BlobStored, Histograms, MediaAtStep, MediaKeys, TablePage
from kiseki.store.blobs import LocalBlobStore, PartialUploads, PartOffsetError, check_digest

router = APIRouter(tags=["media"])
MAX_PART_BYTES = 256 * 1024 * 1024  # one part of a resumable upload

# What a blob is served as: only image formats the browser shows inline; anything else is a
# download (never active content, I14/I19).
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


@router.head("/blobs/{sha256}", operation_id="has_blob", include_in_schema=False)
async def has_blob(sha256: str, store: Store) -> Response:
    check_digest(sha256)
    found = await run_in_threadpool(store.blob_store().exists, sha256)
    return Response(status_code=200 if found else 404)


class BlobList(BaseModel):
    sha256: list[str]


@router.post("/blobs/missing", operation_id="missing_blobs")
async def missing_blobs(body: BlobList, store: Store) -> Response:
    """Which of these digests the server does not have (at most 10,000 per request)."""
    if len(body.sha256) > 10_000:
        raise ValidationError(f"at most 10000 digests per request, got {len(body.sha256)}")
    for sha in body.sha256:
        check_digest(sha)
    blobs = store.blob_store()

    def work() -> list[str]:
        missing = blobs.missing(body.sha256)
        if isinstance(blobs, LocalBlobStore):
            absent = set(missing)
            for sha in dict.fromkeys(body.sha256):
                if sha not in absent:
                    blobs.touch(sha)  # wanted again: gc keeps it until the commit arrives
        return missing

    return json_response({"missing": await run_in_threadpool(work)})


@router.post("/blobs/batch", operation_id="put_blob_batch")
async def put_blob_batch(request: Request, store: Store) -> Response:
    """Many small blobs in one request: a msgpack array of ``[sha256, bytes]`` pairs (body at
    most the server's body limit). Each is verified; 400 names the first that does not match."""
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"batch of {declared} bytes is over the {limit}-byte limit; "
                                   "send fewer files per batch")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLargeError(f"batch is over the {limit}-byte limit")
    try:
        items = msgspec.msgpack.decode(bytes(body), type=list[tuple[str, bytes]])
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        raise ValidationError(f"batch must be a msgpack array of [sha256, bytes]: {exc}") from None
    for sha, _ in items:
        check_digest(sha)
    blobs = store.blob_store()

    def work() -> int:
        import hashlib

        for sha, payload in items:  # all verified before any is stored
            if hashlib.sha256(payload).hexdigest() != sha:
                raise ValidationError(f"batch item {sha} does not match its bytes' sha256; "
                                      "nothing of this batch was stored")
        for sha, payload in items:
            if not blobs.exists(sha):
                blobs.put_chunks(sha, [payload])
        return len(items)

    return json_response({"stored": await run_in_threadpool(work)})


class BlobFetch(BaseModel):
    sha256: list[str]


@router.post("/projects/{project}/blobs/batch", operation_id="get_blob_batch")
async def get_blob_batch(project: str, body: BlobFetch, store: Store) -> Response:
    """Many small blobs of a project in one answer: a msgpack array of ``[sha256, bytes]``
    (at most 2,000 digests and 32 MiB; ask for big files one by one)."""
    if len(body.sha256) > 2000:
        raise ValidationError(f"at most 2000 digests per request, got {len(body.sha256)}")

    def work() -> bytes:
        store.blob_access_many(project, body.sha256)
        blobs = store.blob_store()
        if sum(blobs.size(sha) for sha in body.sha256) > 32 * 1024 * 1024:
            raise PayloadTooLargeError("blobs asked for add up to more than 32 MiB; ask for "
                                       "fewer at once (big files one by one)")
        out: list[tuple[str, bytes]] = []
        size = 0
        for sha in body.sha256:
            payload = store.blob_store().read(sha)
            size += len(payload)
            if size > 32 * 1024 * 1024:
                raise PayloadTooLargeError("blobs asked for add up to more than 32 MiB; ask "
                                           "for fewer at once")
            out.append((sha, payload))
        return msgspec.msgpack.encode(out)

    return Response(await run_in_threadpool(work), media_type="application/x-msgpack")


def _partials(request: Request) -> PartialUploads:
    return PartialUploads(os.path.join(request.app.state.settings.data_dir, "upload-partial"))


@router.get("/blobs/{sha256}/upload", operation_id="blob_upload_state")
async def blob_upload_state(sha256: str, store: Store, request: Request) -> Response:
    """How much of a resumable upload the server has: ``{"exists", "received"}``."""
    check_digest(sha256)
    exists = await run_in_threadpool(store.blob_store().exists, sha256)
    received = 0 if exists else _partials(request).received(sha256)
    return json_response({"exists": exists, "received": received})


@router.put("/blobs/{sha256}", operation_id="put_blob", response_model=BlobStored)
async def put_blob(sha256: str, request: Request, store: Store):  # type: ignore[no-untyped-def]
    """Store a blob under its sha256 (streamed to disk, verified here; 400 when the bytes do not
    match, 413 above the server's blob limit).

    With ``Content-Range: bytes START-END/TOTAL`` the body is one part of a resumable upload:
    202 ``{"received"}`` until the last part, then the whole is verified and stored; a part
    that does not start at the received size gets 409 ``{"received"}`` to resume from.
    """
    check_digest(sha256)
    limit = request.app.state.settings.max_blob_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"blob of {declared} bytes is over the {limit}-byte limit")
    blobs = store.blob_store()
    if await run_in_threadpool(blobs.exists, sha256):
        return json_response({"sha256": sha256, "size": blobs.size(sha256)})
    part = request.headers.get("content-range")
    if part:
        return await _put_part(sha256, part, request, store, limit)
    upload: Any = await run_in_threadpool(blobs.begin, sha256, limit)
    try:
        async for chunk in request.stream():
            upload.write(chunk)
        stored = await run_in_threadpool(upload.commit)
    except BaseException:
        upload.abort()
        raise
    return json_response({"sha256": sha256, "size": stored})


async def _put_part(sha: str, header: str, request: Request, store: Any, limit: int) -> Response:
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", header.strip())
    if not match:
        raise ValidationError(f"Content-Range {header[:80]!r} must be 'bytes START-END/TOTAL'")
    start, end, total = (int(g) for g in match.groups())
    if not start <= end < total or total > limit:
        raise ValidationError(f"Content-Range {header!r} is not a part of a blob of at most "
                              f"{limit} bytes")
    if end - start + 1 > MAX_PART_BYTES:
        raise PayloadTooLargeError(f"part of {end - start + 1} bytes is over the "
                                   f"{MAX_PART_BYTES}-byte part limit; send smaller parts")
    partials = _partials(request)
    try:
        lock = partials.lock(sha)
        lock.__enter__()
    except PartOffsetError as exc:
        return json_response({"detail": str(exc), "received": exc.received}, status_code=409)
    try:
        if partials.received(sha) == total:  # every byte arrived before; the commit did not
            size = await run_in_threadpool(partials.finish, sha, store.blob_store())
            return json_response({"sha256": sha, "size": size}, status_code=201)
        try:
            writer = partials.open_part(sha, start)
        except PartOffsetError as exc:
            return json_response({"detail": str(exc), "received": exc.received},
                                 status_code=409)
        written = 0
        try:  # streamed to the partial file: a part never sits in memory
            async for chunk in request.stream():
                written += len(chunk)
                if written > end - start + 1:
                    break
                writer.write(chunk)
        finally:
            writer.close()
        if written != end - start + 1:  # what did arrive is a valid prefix: kept to resume
            raise ValidationError(f"part has {written} bytes but Content-Range says "
                                  f"{end - start + 1}")
        received = partials.received(sha)
        if received < total:
            return json_response({"received": received}, status_code=202)
        size = await run_in_threadpool(partials.finish, sha, store.blob_store())
    finally:
        lock.__exit__(None, None, None)
    return json_response({"sha256": sha, "size": size}, status_code=201)


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


# -- resumable multipart uploads straight to an S3 bucket ----------------------------------------

class MultipartStart(BaseModel):
    size: int
    part_size: int = 64 * 1024 * 1024  # what the client would like; the answer says what to use


class MultipartPlan(BaseModel):
    upload_id: str
    size: int
    part_size: int


class MultipartPart(MultipartPlan):
    number: int
    sha256: str  # of the part's bytes: the presigned URL signs it


class MultipartDone(BaseModel):
    number: int
    sha256: str


class MultipartComplete(MultipartPlan):
    parts: list[MultipartDone]


def _bucket(store: Any, request: Request, size: int) -> Any:
    blobs = store.blob_store()
    if not hasattr(blobs, "multipart_start"):
        raise ValidationError("this server keeps blobs on its own disk: send parts with "
                              "PUT /api/v1/blobs/{sha256} and a Content-Range header")
    limit = request.app.state.settings.max_blob_bytes
    if size > limit:
        raise PayloadTooLargeError(f"blob of {size:,} bytes is over the {limit:,}-byte limit")
    return blobs


@router.post("/blobs/{sha256}/multipart", operation_id="start_multipart_upload")
async def start_multipart_upload(sha256: str, body: MultipartStart, store: Store,
                                 request: Request) -> Response:
    """Start or resume the upload of a large blob in parts straight to the bucket:
    ``{"exists": true}``, or ``{"upload_id", "part_size", "parts"}`` with the parts the bucket
    already holds (after an interrupted upload or a server restart: send only the others)."""
    check_digest(sha256)
    blobs = _bucket(store, request, body.size)
    return json_response(await run_in_threadpool(blobs.multipart_start, sha256, body.size,
                                                 body.part_size))


@router.post("/blobs/{sha256}/multipart/parts", operation_id="multipart_part_url")
async def multipart_part_url(sha256: str, body: MultipartPart, store: Store,
                             request: Request) -> Response:
    """A presigned PUT for one part; the bucket accepts only the planned length and bytes
    with this sha256."""
    check_digest(sha256)
    check_digest(body.sha256)
    blobs = _bucket(store, request, body.size)
    return json_response(await run_in_threadpool(
        blobs.multipart_part_url, sha256, body.size, body.part_size, body.upload_id,
        body.number, body.sha256))


@router.post("/blobs/{sha256}/multipart/complete", operation_id="complete_multipart_upload",
             response_model=BlobStored)
async def complete_multipart_upload(sha256: str, body: MultipartComplete, store: Store,
                                    request: Request):  # type: ignore[no-untyped-def]
    """Join the parts; the bucket checks the whole file's sha256 before it becomes the blob
    (400 and nothing stored when it does not match; 409 when parts are missing)."""
    check_digest(sha256)
    blobs = _bucket(store, request, body.size)
    size = await run_in_threadpool(blobs.multipart_complete, sha256, body.size, body.part_size,
                                   body.upload_id, {p.number: p.sha256 for p in body.parts})
    return json_response({"sha256": sha256, "size": size})


@router.delete("/blobs/{sha256}/multipart", operation_id="abort_multipart_upload",
               status_code=204)
async def abort_multipart_upload(sha256: str, store: Store, request: Request,
                                 upload_id: Annotated[str, Query(max_length=1024)],
                                 size: int, part_size: int) -> Response:
    """Give up an upload: the bucket drops the parts it holds for it."""
    check_digest(sha256)
    blobs = _bucket(store, request, size)
    await run_in_threadpool(blobs.multipart_abort, sha256, size, part_size, upload_id)
    return Response(status_code=204)
