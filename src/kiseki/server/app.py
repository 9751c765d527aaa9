"""``create_app``: the FastAPI application factory."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse

from kiseki.server import errors
from kiseki.server.deps import require_auth
from kiseki.server.routes import ingest, live, metrics, projects, runs
from kiseki.server.settings import ServerSettings
from kiseki.store.sqlstore import SQLStore

API = "/api/v1"
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
       "base-uri 'none'")


def create_app(settings: ServerSettings, store: SQLStore | None = None) -> FastAPI:
    """Build the app. The store is opened (and migrated) at startup unless given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.store is None:
            app.state.store = SQLStore.open(
                settings.store_url(), blob_dir=settings.data_dir,
                heartbeat_timeout=settings.heartbeat_timeout,
                grace_until=time.time() + float(settings.startup_grace or 0))
        yield
        app.state.store.close()

    app = FastAPI(title="kiseki", version="0.1.0", openapi_url=f"{API}/openapi.json",
                  docs_url=f"{API}/docs", redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    errors.install(app)
    auth = [Depends(require_auth)]
    for module in (ingest, projects, runs, metrics, live):
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

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>kiseki</title><h1>kiseki server</h1>"
            "<p>The web app is not built yet. Build it with <code>make ui</code>; the API is at "
            f"<a href='{API}/docs'>{API}/docs</a>.</p>")

    return app


def app_from_settings_env() -> FastAPI:
    """App factory for worker processes started by ``kiseki server --workers N``."""
    import json
    import os

    data = json.loads(os.environ["KISEKI_SERVER_SETTINGS"])
    return create_app(ServerSettings(**data))
