"""Live updates over Server-Sent Events.

Writers may be other processes (the SDK's sender writing the embedded store, other server
replicas), so the stream polls the database for changed runs instead of relying on this
process's memory; that keeps replicas stateless.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from kiseki.core.values import to_json_safe
from kiseki.server.deps import Store

router = APIRouter(tags=["live"])


@router.get("/projects/{project}/live", operation_id="live_updates")
async def live_updates(project: str, request: Request, store: Store,
                       interval: Annotated[float, Query(ge=0.2, le=10)] = 1.0,
                       max_seconds: Annotated[float, Query(ge=1, le=3600)] = 600
                       ) -> StreamingResponse:
    """SSE stream: an ``update`` event per run whose data changed (state, last step, summary);
    the event's data is the run as ``list_runs`` returns it.

    Clients re-query the series of the runs named in the event over the range they show.
    """
    await run_in_threadpool(store.list_runs, project, None, None, 0, 1)  # 404 if unknown

    async def events() -> AsyncIterator[str]:
        since = time.time() - 1.0
        deadline = time.monotonic() + max_seconds
        yield "retry: 2000\n\n"
        while time.monotonic() < deadline and not await request.is_disconnected():
            changed = await run_in_threadpool(store.updates_since, project, since)
            for run in changed:
                since = max(since, run["updated_at"])
                yield f"event: update\ndata: {json.dumps(to_json_safe(run))}\n\n"
            if not changed:
                yield ": keep-alive\n\n"
            await asyncio.sleep(interval)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
