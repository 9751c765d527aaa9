"""The read API: ``kiseki.Api()`` over the embedded store or a kiseki server.

Both backends answer with the same plain dicts the server's JSON carries, so ``Api`` code is
written once. The embedded backend loads :mod:`kiseki.store` lazily.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from kiseki.core.errors import (
    AuthError, NotFoundError, TransportError, UsageError, ValidationError,
)
from kiseki.core.values import from_json_safe
from kiseki.sdk.settings import Settings, load_settings


class Backend(Protocol):
    def list_projects(self) -> list[dict[str, Any]]: ...
    def get_run(self, project: str, run_id: str) -> dict[str, Any]: ...
    def list_runs(self, project: str, filters: Any, order: str | None, offset: int,
                  limit: int) -> dict[str, Any]: ...
    def series(self, project: str, run_id: str, key: str, **kw: Any) -> dict[str, Any]: ...
    def history_page(self, project: str, run_id: str, **kw: Any) -> dict[str, Any]: ...
    def console_page(self, project: str, run_id: str, **kw: Any) -> dict[str, Any]: ...
    def update_run(self, project: str, run_id: str, **kw: Any) -> dict[str, Any]: ...
    def blob(self, project: str, sha: str) -> bytes: ...
    def close(self) -> None: ...


class EmbeddedBackend:
    def __init__(self, settings: Settings) -> None:
        from kiseki.store.sqlstore import SQLStore

        self.store = SQLStore.open(settings.store_url(), blob_dir=settings.root_dir,
                                   heartbeat_timeout=settings.heartbeat_timeout)

    def list_projects(self) -> list[dict[str, Any]]:
        return self.store.list_projects()

    def get_run(self, project: str, run_id: str) -> dict[str, Any]:
        return self.store.get_run(project, run_id)

    def list_runs(self, project: str, filters: Any, order: str | None, offset: int,
                  limit: int) -> dict[str, Any]:
        return self.store.list_runs(project, filters, order, offset, limit)

    def series(self, project: str, run_id: str, key: str, **kw: Any) -> dict[str, Any]:
        return self.store.series(project, run_id, key, **kw)

    def history_page(self, project: str, run_id: str, **kw: Any) -> dict[str, Any]:
        return self.store.history_page(project, run_id, **kw)

    def console_page(self, project: str, run_id: str, **kw: Any) -> dict[str, Any]:
        return self.store.console_page(project, run_id, **kw)

    def update_run(self, project: str, run_id: str, **kw: Any) -> dict[str, Any]:
        return self.store.update_run(project, run_id, **kw)

    def blob(self, project: str, sha: str) -> bytes:
        return self.store.read_blob(project, sha)

    def close(self) -> None:
        self.store.close()


class HttpBackend:
    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        import httpx

        headers = {"User-Agent": "kiseki-sdk"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self._httpx = httpx
        self.base = str(settings.base_url).rstrip("/")
        self.client = httpx.Client(base_url=self.base + "/api/v1", headers=headers,
                                   timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self.client.request(method, path, **kw)
        except self._httpx.HTTPError as exc:
            raise TransportError(f"cannot reach kiseki server {self.base}: {exc}") from exc
        if resp.status_code == 404:
            raise NotFoundError(_detail(resp))
        if resp.status_code in (401, 403):
            raise AuthError(f"{_detail(resp)}; run `kiseki login {self.base} --key KEY`")
        if resp.status_code in (400, 413, 422):
            raise ValidationError(_detail(resp))
        if resp.status_code >= 300:
            raise TransportError(f"server answered HTTP {resp.status_code}: {_detail(resp)}")
        return from_json_safe(resp.json())

    def list_projects(self) -> list[dict[str, Any]]:
        return self._call("GET", "/projects")  # type: ignore[no-any-return]

    def get_run(self, project: str, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/projects/{project}/runs/{run_id}")  # type: ignore[no-any-return]

    def list_runs(self, project: str, filters: Any, order: str | None, offset: int,
                  limit: int) -> dict[str, Any]:
        import json

        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if filters:
            params["filter"] = json.dumps(filters) if isinstance(filters, dict) else filters
        if order:
            params["order"] = order
        return self._call("GET", f"/projects/{project}/runs", params=params)  # type: ignore[no-any-return]

    def series(self, project: str, run_id: str, key: str, **kw: Any) -> dict[str, Any]:
        params = {"key": key, **{k: v for k, v in kw.items() if v is not None}}
        return self._call("GET", f"/projects/{project}/runs/{run_id}/series", params=params)  # type: ignore[no-any-return]

    def history_page(self, project: str, run_id: str, **kw: Any) -> dict[str, Any]:
        params = {k: v for k, v in kw.items() if v is not None and k != "keys"}
        if kw.get("keys"):
            params["keys"] = ",".join(kw["keys"])
        return self._call("GET", f"/projects/{project}/runs/{run_id}/history", params=params)  # type: ignore[no-any-return]

    def console_page(self, project: str, run_id: str, **kw: Any) -> dict[str, Any]:
        params = {k: v for k, v in kw.items() if v is not None}
        return self._call("GET", f"/projects/{project}/runs/{run_id}/console", params=params)  # type: ignore[no-any-return]

    def update_run(self, project: str, run_id: str, **kw: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/projects/{project}/runs/{run_id}", json=kw)  # type: ignore[no-any-return]

    def blob(self, project: str, sha: str) -> bytes:
        try:
            resp = self.client.get(f"/projects/{project}/blobs/{sha}")
        except self._httpx.HTTPError as exc:
            raise TransportError(f"cannot reach kiseki server {self.base}: {exc}") from exc
        if resp.status_code == 404:
            raise NotFoundError(_detail(resp))
        if resp.status_code != 200:
            raise TransportError(f"server answered HTTP {resp.status_code}: {_detail(resp)}")
        return resp.content  # type: ignore[no-any-return]

    def close(self) -> None:
        self.client.close()


def _detail(resp: Any) -> str:
    try:
        body = resp.json()
        return str(body.get("detail") or body)
    except ValueError:
        return resp.text[:200]


def backend_for(settings: Settings, timeout: float = 30.0) -> Backend:
    if settings.embedded:
        return EmbeddedBackend(settings)
    return HttpBackend(settings, timeout=timeout)


def _split_path(path: str) -> tuple[str, str]:
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) == 3 and parts[1] == "runs":
        parts = [parts[0], parts[2]]
    if len(parts) == 3:  # entity/project/run_id
        parts = parts[1:]
    if len(parts) != 2:
        raise UsageError(f"run path must be 'project/run_id', got {path!r}")
    return parts[0], parts[1]


class Api:
    """Read runs back, from the embedded store or a server.

    Example:
        >>> api = kiseki.Api()
        >>> for run in api.runs("mnist", filters="config.lr > 0.01", order="-summary.acc"):
        ...     print(run.name, run.summary["acc"])
    """

    def __init__(self, overrides: dict[str, Any] | None = None, timeout: float = 30.0,
                 settings: Settings | dict[str, Any] | None = None) -> None:
        self.settings = load_settings(settings or overrides)
        self._backend = backend_for(self.settings, timeout=timeout)

    def projects(self) -> list[dict[str, Any]]:
        return self._backend.list_projects()

    def runs(self, path: str, filters: str | dict[str, Any] | None = None,
             order: str | None = "-created_at", per_page: int = 50) -> Runs:
        """Runs of a project, optionally filtered (expression or Mongo-style dict) and sorted."""
        project = path.strip("/").split("/")[-1]
        return Runs(self._backend, project, filters, order, per_page)

    def run(self, path: str) -> PublicRun:
        """One run by ``"project/run_id"``."""
        project, run_id = _split_path(path)
        return PublicRun(self._backend, self._backend.get_run(project, run_id))

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Runs:
    """A lazily paged list of runs."""

    def __init__(self, backend: Backend, project: str, filters: Any, order: str | None,
                 per_page: int) -> None:
        self._backend, self.project = backend, project
        self._filters, self._order, self._per_page = filters, order, per_page
        self._total: int | None = None

    def __iter__(self) -> Iterator[PublicRun]:
        offset = 0
        while True:
            page = self._backend.list_runs(self.project, self._filters, self._order, offset,
                                           self._per_page)
            self._total = page["total"]
            for item in page["items"]:
                yield PublicRun(self._backend, item)
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def __len__(self) -> int:
        if self._total is None:
            self._total = self._backend.list_runs(self.project, self._filters, self._order, 0,
                                                  1)["total"]
        return self._total

    def __getitem__(self, index: int) -> PublicRun:
        page = self._backend.list_runs(self.project, self._filters, self._order, index, 1)
        if not page["items"]:
            raise IndexError(index)
        return PublicRun(self._backend, page["items"][0])


_MEDIA_TYPES = frozenset({"image", "images", "table", "histogram"})


class PublicRun:
    """A stored run as the read API shows it."""

    def __init__(self, backend: Backend, data: dict[str, Any]) -> None:
        self._backend = backend
        self._data = data
        self.project: str = data["project"]
        self.id: str = data["id"]

    def _full(self) -> dict[str, Any]:
        if "metadata" not in self._data:
            self._data = self._backend.get_run(self.project, self.id)
        return self._data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        data = self._data if name in self._data else self._full()
        if name in data:
            return data[name]
        raise AttributeError(f"run has no attribute {name!r}")

    @property
    def path(self) -> str:
        return f"{self.project}/{self.id}"

    @property
    def metadata(self) -> dict[str, Any]:
        return self._full().get("metadata") or {}

    def refresh(self) -> PublicRun:
        self._data = self._backend.get_run(self.project, self.id)
        return self

    def update(self, **values: Any) -> None:
        """Change name, notes or tags of the stored run."""
        self._data = self._backend.update_run(self.project, self.id, **values)

    def scan_history(self, keys: list[str] | None = None, page_size: int = 1000,
                     min_step: int | None = None, max_step: int | None = None
                     ) -> Iterator[dict[str, Any]]:
        """Every logged row, paged; rows carry ``_step`` and ``_timestamp`` as in wandb.

        Logged images come back as :class:`kiseki.Image` (``.to_numpy()``, ``.masks``,
        ``.boxes``), galleries as lists of them, tables as :class:`kiseki.Table` and histograms
        as :class:`kiseki.Histogram`; pixels are fetched when first used.
        """
        cursor = min_step
        while True:
            page = self._backend.history_page(self.project, self.id, keys=keys,
                                              min_step=cursor, max_step=max_step,
                                              page_size=page_size)
            for row in page["rows"]:
                yield self._revive(row)
            if page["next_step"] is None:
                return
            cursor = page["next_step"]

    def _revive(self, row: dict[str, Any]) -> dict[str, Any]:
        for key, value in row.items():
            if isinstance(value, dict) and value.get("_type") in _MEDIA_TYPES:
                from kiseki.sdk.media import revive

                row[key] = revive(value, self._fetch, value.get("state", "stored"),
                                  value.get("error"))
        return row

    def _fetch(self, sha: str) -> bytes:
        return self._backend.blob(self.project, sha)

    def history(self, keys: list[str] | None = None, samples: int = 500, pandas: bool = False,
                x_axis: str = "_step") -> Any:
        """Up to ``samples`` rows spread evenly over the run (all rows when fewer)."""
        rows = list(self.scan_history(keys=keys, page_size=10_000))
        if keys:
            rows = [r for r in rows if all(k in r for k in keys)]
        if len(rows) > samples > 0:
            stride = len(rows) / samples
            rows = [rows[int(i * stride)] for i in range(samples)]
        if pandas:
            import pandas as pd

            return pd.DataFrame(rows)
        return rows

    def series(self, key: str, buckets: int = 1000, x_axis: str = "step",
               x_min: float | None = None, x_max: float | None = None) -> dict[str, list[Any]]:
        """Downsampled columns ``x, min, max, mean, last, count`` of one metric."""
        data = self._backend.series(self.project, self.id, key, buckets=buckets, x_axis=x_axis,
                                    x_min=x_min, x_max=x_max)
        return {c: data[c] for c in ("x", "min", "max", "mean", "last", "count")}

    def console(self, offset: int = 0, limit: int = 1000,
                search: str | None = None) -> list[dict[str, Any]]:
        return self._backend.console_page(self.project, self.id, offset=offset, limit=limit,
                                          search=search)["lines"]

    def system_metrics(self, keys: list[str] | None = None) -> list[dict[str, Any]]:
        page = self._backend.history_page(self.project, self.id, keys=keys, min_step=None,
                                          max_step=None, page_size=10_000, system=True)
        return page["rows"]

    def __repr__(self) -> str:
        return f"<kiseki.PublicRun {self.path} ({self._data.get('state')})>"
