"""``create_app``: the FastAPI application factory."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from kiseki.server import errors
from kiseki.server.deps import require_auth
from kiseki.server.routes import (
    artifacts, ingest, live, media, metrics, projects, runs, workspace,
)
from kiseki.server.settings import ServerSettings
from kiseki.store.sqlstore import SQLStore

API = "/api/v1"
STATIC_DIR = Path(__file__).parent / "static"  # `make ui` builds the web app here
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
       "base-uri 'none'")


class RemoteGZip:
    """GZip for clients on other hosts only. On loopback the bytes cost nothing to move, while
    compressing and inflating a 3 MB chart answer costs ~45 ms of CPU on each side (measured:
    30 ms plain vs 75 ms gzipped per 100-run panel), on the same machine. Behind a reverse proxy
    on the same host, let the proxy compress."""

    def __init__(self, app: ASGIApp, minimum_size: int = 4096, compresslevel: int = 1) -> None:
        self.plain = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client") if scope["type"] == "http" else None
        host = client[0] if client else ""
        if host in ("127.0.0.1", "::1") or host.startswith("127."):
            await self.plain(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)


def create_app(settings: ServerSettings, store: SQLStore | None = None) -> FastAPI:
    """Build the app. The store is opened (and migrated) at startup unless given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.store is None:
            app.state.store = SQLStore.open(
                settings.store_url(), blob_dir=settings.data_dir, blob_url=settings.blob_url,
                s3_endpoint=settings.s3_endpoint,
                heartbeat_timeout=settings.heartbeat_timeout,
                grace_until=time.time() + float(settings.startup_grace or 0))
        yield
        app.state.store.close()

    app = FastAPI(title="kiseki", version="0.1.0", openapi_url=f"{API}/openapi.json",
                  docs_url=f"{API}/docs", redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    errors.install(app)
    # Chart responses for 100 runs are a few MB of JSON: compress them for remote browsers
    # (level 1: cheap, still ~2-4x smaller). Starlette leaves text/event-stream alone.
    app.add_middleware(RemoteGZip, minimum_size=4096, compresslevel=1)
    auth = [Depends(require_auth)]
    for module in (ingest, projects, runs, metrics, live, workspace, media, artifacts):
        app.include_router(module.router, prefix=API, dependencies=auth)

    @app.get(f"{API}/health", operation_id="health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    _serve_web_app(app, Path(os.environ.get("KISEKI_UI_DIR") or STATIC_DIR))
    return app


def _serve_web_app(app: FastAPI, static_dir: Path) -> None:
    """The built web app at ``/`` (same origin as the API); every other non-API path serves its
    ``index.html`` so a copied link to any view opens that view. Without a bundle the page says
    how to build one."""

    def missing() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>kiseki</title><h1>kiseki server</h1>"
            "<p>The web app is not built. Build it with <code>make ui</code> (or <code>make "
            "setup</code>), then reload; the API is at "
            f"<a href='{API}/docs'>{API}/docs</a>.</p>", status_code=200)

    @app.get("/{path:path}", include_in_schema=False)
    def web_app(path: str) -> Response:
        if path.startswith("api/"):
            return JSONResponse({"detail": f"no API route /{path}"},
                                status_code=404)
        index = static_dir / "index.html"
        if not index.is_file():
            return missing()
        if path:
            candidate = (static_dir / path).resolve()
            if candidate.is_file() and static_dir.resolve() in candidate.parents:
                # Bundled assets carry a content hash in their names: cache them for good.
                cache = ("public, max-age=31536000, immutable" if path.startswith("assets/")
                         else "no-cache")
                return FileResponse(candidate, headers={"Cache-Control": cache})
            if "." in path.rsplit("/", 1)[-1]:
                return JSONResponse({"detail": f"no file /{path}"},
                                    status_code=404)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


def app_from_settings_env() -> FastAPI:
    """App factory for worker processes started by ``kiseki server --workers N``."""
    import json
    import os

    data = json.loads(os.environ["KISEKI_SERVER_SETTINGS"])
    return create_app(ServerSettings(**data))
