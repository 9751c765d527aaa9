"""Ingest of run records from the SDK and ``kiseki sync``."""

from __future__ import annotations

import zlib
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from kiseki.core import records as rec
from kiseki.core.errors import PayloadTooLargeError, ValidationError
from kiseki.core.names import check_project, check_run_id
from kiseki.server.deps import Store

router = APIRouter(tags=["ingest"])


class IngestAnswer(BaseModel):
    hwm: int
    applied: int
    skipped_unknown: int = 0
    rejected: list[str] = []


class HeartbeatRun(BaseModel):
    project: str
    run_id: str


class HeartbeatBody(BaseModel):
    runs: list[HeartbeatRun]


async def _read_body(request: Request) -> bytes:
    settings = request.app.state.settings
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"body of {declared} bytes is over the {limit}-byte limit; "
                                   "send smaller batches")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body is over the {limit}-byte limit; send smaller batches")
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        body = _gunzip(body, settings.max_decompressed_bytes)
    return body


def _gunzip(body: bytes, limit: int) -> bytes:
    """Decompress with a hard output limit, so a gzip bomb stops at ``limit`` bytes (I11)."""
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decomp.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ValidationError(f"body is not valid gzip: {exc}") from exc
    if len(out) > limit or decomp.unconsumed_tail:
        raise PayloadTooLargeError(f"decompressed body is over the {limit}-byte limit")
    return out


def _decode(body: bytes) -> tuple[rec.IngestBatch, list[tuple[int, rec.Record | None]]]:
    try:
        batch = rec.decode_batch(body)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        # msgspec raises UnicodeDecodeError for a string that is not valid UTF-8 (I06)
        raise ValidationError(f"ingest body is not a valid msgpack IngestBatch: {exc}") from exc
    except RecursionError:
        raise ValidationError("ingest body is nested too deeply to decode") from None
    entries: list[tuple[int, Any]] = []
    for raw in batch.entries:
        try:
            entries.append(rec.decode_entry(raw))
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            raise ValidationError(f"an entry of the batch is malformed: {exc}") from exc
        except RecursionError:
            raise ValidationError("an entry of the batch is nested too deeply to decode") from None
    return batch, entries


@router.post("/ingest", operation_id="ingest", response_model=IngestAnswer)
async def ingest(request: Request, store: Store) -> Response:
    """Apply a batch of run records (msgpack ``IngestBatch``, optionally gzip-encoded).

    Idempotent on (run, stream, seq): entries at or below the stream's high-water mark are
    skipped, so retries and repeated syncs never duplicate a point.
    """
    body = await _read_body(request)
    batch, entries = _decode(body)
    validate_names(batch.project, batch.run_id)
    if any(seq < 1 for seq, _ in entries):
        raise ValidationError("entry seq must be >= 1")
    result = await run_in_threadpool(store.ingest, batch.project, batch.run_id, batch.stream,
                                     entries, batch.live)
    return Response(msgspec.json.encode(result), media_type="application/json")


def validate_names(project: str, run_id: str) -> None:
    check_project(project)
    check_run_id(run_id)


@router.post("/heartbeat", operation_id="heartbeat", status_code=204)
def heartbeat(body: HeartbeatBody, store: Store) -> Response:
    """Mark open runs as alive."""
    store.heartbeat([(r.project, r.run_id) for r in body.runs[:1000]])
    return Response(status_code=204)
