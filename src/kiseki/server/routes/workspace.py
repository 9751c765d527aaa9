"""The project workspace: key catalogue and the saved panel layout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from kiseki.server.deps import Store
from kiseki.server.respond import json_response
from kiseki.server.schemas import Catalogue, Workspace, WorkspaceWrite

router = APIRouter(tags=["workspace"])
Name = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("/projects/{project}/catalogue", operation_id="get_catalogue",
            response_model=Catalogue)
async def get_catalogue(project: str, store: Store):  # type: ignore[no-untyped-def]
    """Metric, system-metric, config and summary keys found in the project's runs."""
    return json_response(await run_in_threadpool(store.catalogue, project))


@router.get("/projects/{project}/workspace", operation_id="get_workspace",
            response_model=Workspace)
async def get_workspace(project: str, store: Store,  # type: ignore[no-untyped-def]
                        name: Name = "default"):
    """The saved workspace (panels, sections, chart settings); version 0 when never saved."""
    return json_response(await run_in_threadpool(store.get_workspace, project, name))


@router.put("/projects/{project}/workspace", operation_id="put_workspace",
            response_model=Workspace)
async def put_workspace(project: str, body: WorkspaceWrite,  # type: ignore[no-untyped-def]
                        store: Store, name: Name = "default"):
    """Save the workspace. Send ``base_version`` (the version you loaded) to get 409 instead of
    overwriting a layout saved from another tab in between."""
    return json_response(await run_in_threadpool(store.put_workspace, project, body.layout,
                                                 name, body.base_version))
