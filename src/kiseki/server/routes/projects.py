"""Projects."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from kiseki.server.deps import Store
from kiseki.server.respond import json_response
from kiseki.server.schemas import ProjectRead

router = APIRouter(tags=["projects"])


@router.get("/projects", operation_id="list_projects", response_model=list[ProjectRead])
async def list_projects(store: Store):  # type: ignore[no-untyped-def]
    """Projects with their run counts and last activity."""
    return json_response(await run_in_threadpool(store.list_projects))
