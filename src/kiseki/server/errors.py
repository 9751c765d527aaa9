"""The one table mapping kiseki errors to HTTP answers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kiseki.core import errors as e

log = logging.getLogger("kiseki.server")

STATUS: list[tuple[type[Exception], int]] = [
    (e.PayloadTooLargeError, 413),
    (e.ValidationError, 400),
    (e.UsageError, 400),
    (e.NotFoundError, 404),
    (e.ConflictError, 409),
    (e.AuthError, 401),
    (e.ForbiddenError, 403),
    (e.StorageFullError, 507),
    (e.StorageUnavailableError, 503),
    (e.StorageError, 500),
    (e.TransportError, 502),
]


def status_for(exc: Exception) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def install(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        status = status_for(exc)
        headers = None
        if status in (503, 507):
            headers = {"Retry-After": "2" if status == 503 else "10"}
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        if status >= 500:
            log.error("%s %s failed: %r", request.method, request.url.path, exc,
                      exc_info=exc.__cause__ or exc)
        detail = str(exc) if status != 500 else "internal storage error; see the server log"
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    async def handle_os_error(request: Request, exc: Exception) -> JSONResponse:
        """A disk that refuses bytes (blob store, resumable parts) is a full store (R13):
        507 and a retry later; any other OSError is a server fault."""
        if getattr(exc, "errno", None) in e.FULL_ERRNOS:
            what = "blob storage" if "/blobs" in request.url.path else "disk"
            return await handle(request, e.StorageFullError(e.full_storage_message(
                what, getattr(exc, "strerror", None) or exc)))
        return await handle(request, e.StorageError(f"{type(exc).__name__}: {exc}"))

    app.add_exception_handler(e.KisekiError, handle)
    app.add_exception_handler(OSError, handle_os_error)
