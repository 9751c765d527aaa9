"""JSON answers that keep NaN/±Inf (as tagged objects) instead of failing to encode them."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import Response

from kiseki.core.values import to_json_safe


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(msgspec.json.encode(to_json_safe(data)), status_code=status_code,
                    media_type="application/json")


async def stream_blob(store: Any, sha: str, filename: str | None, media_type: str,
                      redirect: bool = False) -> Response:
    """A stored blob as a response: a file response (with HTTP ranges) from the local store,
    streamed from an object store, or (``redirect``) a 307 to a presigned bucket URL.
    Never active content: ``nosniff``, and anything but an image is an attachment."""
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse

    from kiseki.core.errors import NotFoundError

    blobs = store.blob_store()
    headers = {"X-Content-Type-Options": "nosniff",
               "Cache-Control": "private, max-age=31536000, immutable"}
    if filename is not None:
        safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "download"
        headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    local = await run_in_threadpool(blobs.local_path, sha)
    if local is not None:
        return FileResponse(local, media_type=media_type, headers=headers)
    if blobs.kind == "local":
        raise NotFoundError(f"blob {sha} is missing from the blob store")
    if redirect:
        url = await run_in_threadpool(blobs.download_url, sha, filename)
        return RedirectResponse(url, status_code=307)
    return StreamingResponse(blobs.iter_chunks(sha), media_type=media_type, headers=headers)
