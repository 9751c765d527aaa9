"""Runs: list with filter/sort/pages, detail, update."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from kiseki.core.errors import ValidationError
from kiseki.server.deps import Store
from kiseki.server.respond import json_response
from kiseki.server.schemas import Page, RunDetail, RunRead, RunUpdate

router = APIRouter(tags=["runs"])


@router.get("/projects/{project}/runs", operation_id="list_runs", response_model=Page[RunRead])
async def list_runs(project: str, store: Store,  # type: ignore[no-untyped-def]
                    filter: Annotated[str | None, Query(max_length=10_000)] = None,
                    order: Annotated[str | None, Query(max_length=1_000)] = None,
                    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 50):
    """Runs of a project.

    ``filter`` is an expression such as ``config.lr > 0.01 and (state = "finished" or tags
    contains "best")`` or a JSON Mongo-style object; ``order`` like ``-summary.loss,name``.
    """
    expr: str | dict[str, object] | None = filter
    if filter and filter.lstrip().startswith("{"):
        try:
            expr = json.loads(filter)
        except ValueError as exc:
            raise ValidationError(f"filter looks like JSON but does not parse: {exc}") from exc
        except RecursionError:  # json.loads recurses per nesting level (I20)
            raise ValidationError("filter JSON is nested too deeply; flatten it") from None
    page = await run_in_threadpool(store.list_runs, project, expr, order, offset, limit)
    return json_response(page)


@router.get("/projects/{project}/runs/{run_id}", operation_id="get_run",
            response_model=RunDetail)
async def get_run(project: str, run_id: str, store: Store):  # type: ignore[no-untyped-def]
    """One run with its captured environment (``metadata``) and metric keys."""
    return json_response(await run_in_threadpool(store.get_run, project, run_id))


@router.patch("/projects/{project}/runs/{run_id}", operation_id="update_run",
              response_model=RunDetail)
async def update_run(project: str, run_id: str, body: RunUpdate,  # type: ignore[no-untyped-def]
                     store: Store):
    """Change a run's name, notes or tags."""
    result = await run_in_threadpool(store.update_run, project, run_id,
                                     **body.model_dump(exclude_none=True))
    return json_response(result)
