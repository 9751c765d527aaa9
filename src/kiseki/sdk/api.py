"""The read API: ``kiseki.Api()`` over the embedded store or a kiseki server.

Both backends answer with the same plain dicts the server's JSON carries, so ``Api`` code is
written once. The embedded backend loads :mod:`kiseki.store` lazily.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Protocol, overload

from kiseki.core.errors import (
    AuthError, ConflictError, ForbiddenError, NotFoundError, TransportError, UsageError,
    ValidationError,
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
    def blobs(self, project: str, shas: list[str]) -> list[tuple[str, bytes]]: ...
    def artifact(self, project: str, name: str, tag: str) -> dict[str, Any]: ...
    def artifact_by_client_id(self, project: str | None,
                              client_id: str) -> dict[str, Any] | None: ...
    def artifact_files(self, project: str, name: str, tag: str, offset: int = 0,
                       limit: int = 10_000) -> dict[str, Any]: ...
    def download_artifact_file(self, project: str, name: str, tag: str, path: str,
                               dest: str) -> None: ...
    def artifact_versions(self, project: str, name: str) -> list[dict[str, Any]]: ...
    def artifact_runs(self, project: str, name: str, tag: str, direction: str) -> list[str]: ...
    def run_artifacts(self, project: str, run_id: str, direction: str) -> list[dict[str, Any]]: ...
    def lineage(self, project: str, **kw: Any) -> dict[str, Any]: ...
    def delete_artifact(self, project: str, name: str, tag: str) -> dict[str, Any]: ...
    def registry_list(self) -> list[dict[str, Any]]: ...
    def registry_get(self, name: str) -> dict[str, Any]: ...
    def registry_link(self, name: str, project: str, artifact: str, version: str,
                      aliases: list[str]) -> dict[str, Any]: ...
    def registry_move_alias(self, name: str, alias: str, version: int) -> dict[str, Any]: ...
    def registry_remove_alias(self, name: str, alias: str) -> None: ...
    def registry_protect(self, name: str, alias: str, protected: bool) -> None: ...
    def close(self) -> None: ...


class EmbeddedBackend:
    def __init__(self, settings: Settings) -> None:
        from kiseki.store.sqlstore import SQLStore

        self.store = SQLStore.open(settings.store_url(), blob_dir=settings.root_dir,
                                   heartbeat_timeout=settings.heartbeat_timeout)
        self.cache_dir = os.path.join(settings.root_dir, "cache")

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

    def blobs(self, project: str, shas: list[str]) -> list[tuple[str, bytes]]:
        self.store.blob_access_many(project, shas)
        return [(sha, self.store.blob_store().read(sha)) for sha in shas]

    # artifacts and registry: the same answers as the server's routes
    def artifact(self, project: str, name: str, tag: str) -> dict[str, Any]:
        return self.store.artifact_version(project, name, tag)

    def artifact_by_client_id(self, project: str | None, client_id: str) -> dict[str, Any] | None:
        return self.store.artifact_by_client_id(client_id)

    def artifact_files(self, project: str, name: str, tag: str, offset: int = 0,
                       limit: int = 10_000) -> dict[str, Any]:
        return self.store.artifact_files(project, name, tag, offset, limit)

    def download_artifact_file(self, project: str, name: str, tag: str, path: str,
                               dest: str) -> None:
        import shutil

        blobs = self.store.blob_store()
        sha = self.store.artifact_file_blob(project, name, tag, path)
        local = blobs.local_path(sha)
        if local is not None:
            shutil.copyfile(local, dest)
            return
        with open(dest, "wb") as fh:
            for chunk in blobs.iter_chunks(sha):
                fh.write(chunk)

    def artifact_versions(self, project: str, name: str) -> list[dict[str, Any]]:
        return self.store.artifact_versions(project, name)

    def artifact_runs(self, project: str, name: str, tag: str, direction: str) -> list[str]:
        return self.store.artifact_runs(project, name, tag, direction)

    def run_artifacts(self, project: str, run_id: str, direction: str) -> list[dict[str, Any]]:
        return self.store.run_artifacts(project, run_id, direction)

    def lineage(self, project: str, **kw: Any) -> dict[str, Any]:
        return self.store.lineage(project, kw.get("run"), kw.get("artifact"), kw.get("depth", 2))

    def delete_artifact(self, project: str, name: str, tag: str) -> dict[str, Any]:
        return self.store.delete_artifact_version(project, name, tag)

    def registry_list(self) -> list[dict[str, Any]]:
        return self.store.registry_list()

    def registry_get(self, name: str) -> dict[str, Any]:
        return self.store.registry_get(name)

    def registry_link(self, name: str, project: str, artifact: str, version: str,
                      aliases: list[str]) -> dict[str, Any]:
        return self.store.registry_link(name, project, artifact, version, aliases)

    def registry_move_alias(self, name: str, alias: str, version: int) -> dict[str, Any]:
        return self.store.registry_move_alias(name, alias, version)

    def registry_remove_alias(self, name: str, alias: str) -> None:
        self.store.registry_remove_alias(name, alias)

    def registry_protect(self, name: str, alias: str, protected: bool) -> None:
        self.store.registry_protect(name, alias, protected)

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
        self.cache_dir = os.path.join(settings.root_dir, "cache")

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self.client.request(method, path, **kw)
        except self._httpx.HTTPError as exc:
            raise TransportError(f"cannot reach kiseki server {self.base}: {exc}") from exc
        if resp.status_code == 404:
            raise NotFoundError(_detail(resp))
        if resp.status_code == 409:
            raise ConflictError(_detail(resp))
        if resp.status_code == 403:
            raise ForbiddenError(_detail(resp))
        if resp.status_code == 401:
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

    def blobs(self, project: str, shas: list[str]) -> list[tuple[str, bytes]]:
        """Several small blobs in one request (``POST /projects/{p}/blobs/batch``)."""
        import msgspec

        try:
            resp = self.client.post(f"/projects/{project}/blobs/batch", json={"sha256": shas},
                                    timeout=600)
        except self._httpx.HTTPError as exc:
            raise TransportError(f"cannot reach kiseki server {self.base}: {exc}") from exc
        if resp.status_code == 404:
            raise NotFoundError(_detail(resp))
        if resp.status_code != 200:
            raise TransportError(f"server answered HTTP {resp.status_code}: {_detail(resp)}")
        return msgspec.msgpack.decode(resp.content, type=list[tuple[str, bytes]])

    def artifact(self, project: str, name: str, tag: str) -> dict[str, Any]:
        return self._call("GET", f"/projects/{project}/artifacts/{name}/{tag}")  # type: ignore[no-any-return]

    def artifact_by_client_id(self, project: str | None, client_id: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", f"/projects/{project}/artifact-logs/{client_id}")  # type: ignore[no-any-return]
        except NotFoundError:
            return None

    def artifact_files(self, project: str, name: str, tag: str, offset: int = 0,
                       limit: int = 10_000) -> dict[str, Any]:
        return self._call("GET", f"/projects/{project}/artifacts/{name}/{tag}/files",  # type: ignore[no-any-return]
                          params={"offset": offset, "limit": limit})

    def download_artifact_file(self, project: str, name: str, tag: str, path: str,
                               dest: str) -> None:
        url = f"/projects/{project}/artifacts/{name}/{tag}/file"
        try:  # an S3-backed server answers with a redirect to a presigned URL of the bucket
            with self.client.stream("GET", url, params={"path": path, "redirect": "true"},
                                    timeout=600, follow_redirects=True) as resp:
                if resp.status_code == 404:
                    raise NotFoundError(f"{project}/{name}:{tag} has no file {path!r}")
                if resp.status_code != 200:
                    raise TransportError(f"server answered HTTP {resp.status_code}")
                with open(dest, "wb") as fh:
                    for chunk in resp.iter_bytes(1024 * 1024):
                        fh.write(chunk)
        except self._httpx.HTTPError as exc:
            raise TransportError(f"cannot reach kiseki server {self.base}: {exc}") from exc

    def artifact_versions(self, project: str, name: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/projects/{project}/artifacts/{name}/versions")  # type: ignore[no-any-return]

    def artifact_runs(self, project: str, name: str, tag: str, direction: str) -> list[str]:
        info = self._call("GET", f"/projects/{project}/artifacts/{name}/{tag}")
        return list(info.get("used_by") or []) if direction == "used" else (
            [info["logged_by"]] if info.get("logged_by") else [])

    def run_artifacts(self, project: str, run_id: str, direction: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/projects/{project}/runs/{run_id}/artifacts",  # type: ignore[no-any-return]
                          params={"direction": direction})

    def lineage(self, project: str, **kw: Any) -> dict[str, Any]:
        params = {k: v for k, v in kw.items() if v is not None}
        return self._call("GET", f"/projects/{project}/lineage", params=params)  # type: ignore[no-any-return]

    def delete_artifact(self, project: str, name: str, tag: str) -> dict[str, Any]:
        return self._call("DELETE", f"/projects/{project}/artifacts/{name}/{tag}")  # type: ignore[no-any-return]

    def registry_list(self) -> list[dict[str, Any]]:
        return self._call("GET", "/registry")  # type: ignore[no-any-return]

    def registry_get(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/registry/{name}")  # type: ignore[no-any-return]

    def registry_link(self, name: str, project: str, artifact: str, version: str,
                      aliases: list[str]) -> dict[str, Any]:
        return self._call("POST", f"/registry/{name}/links", json={  # type: ignore[no-any-return]
            "project": project, "name": artifact, "version": version, "aliases": aliases})

    def registry_move_alias(self, name: str, alias: str, version: int) -> dict[str, Any]:
        return self._call("POST", f"/registry/{name}/aliases",  # type: ignore[no-any-return]
                          json={"alias": alias, "version": version})

    def registry_remove_alias(self, name: str, alias: str) -> None:
        self._call("DELETE", f"/registry/{name}/aliases/{alias}")

    def registry_protect(self, name: str, alias: str, protected: bool) -> None:
        self._call("POST", f"/registry/{name}/protect",
                   json={"alias": alias, "protected": protected})

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

    def artifact(self, name: str, type: str | None = None) -> Any:
        """A version by ``"project/name:alias"`` or ``"project/name:v3"``, with
        ``.logged_by()``, ``.used_by()``, ``.files()``, ``.download()``."""
        from kiseki.sdk.artifacts import Artifact, parse_ref

        project, art, tag = parse_ref(name, None)
        info = self._backend.artifact(project, art, tag)
        if type is not None and info["type"] != type:
            raise ValidationError(f"artifact {name} is a {info['type']}, not a {type}")
        return Artifact._fetched(info, self._backend)

    def artifact_versions(self, project: str, name: str, tag: str | None = None) -> list[Any]:
        """Every committed version of ``project/name``, newest first (with ``tag`` only)."""
        from kiseki.sdk.artifacts import Artifact

        versions = self._backend.artifact_versions(project, name)
        return [Artifact._fetched(i, self._backend) for i in versions
                if tag is None or tag in (i.get("tags") or [])]

    def lineage(self, project: str, run: str | None = None, artifact: str | None = None,
                depth: int = 2) -> dict[str, Any]:
        """Nodes and edges around a run or a version (``artifact="name:alias"``).

        Nodes are runs, artifact versions and the registered models those versions are linked
        into (``kind`` ``"registry"``, with the aliases on links of versions in the graph);
        edges carry a ``kind``: ``produced``, ``used`` or ``linked``::

            graph = api.lineage("shapes", artifact="segmenter:best")
            [(e["from"], e["aliases"]) for e in graph["edges"] if e["kind"] == "linked"]
        """
        return self._backend.lineage(project, run=run, artifact=artifact, depth=depth)

    def registry(self, name: str | None = None) -> Any:
        """A registered model by name (``"registry/name"`` or ``"name"``), or all of them."""
        if name is None:
            return [RegisteredModel(self._backend, m) for m in self._backend.registry_list()]
        name = name.split("/", 1)[1] if name.startswith("registry/") else name
        return RegisteredModel(self._backend, self._backend.registry_get(name))

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RegisteredModel:
    """A registered model: linked versions, aliases (some protected) and the audit history."""

    def __init__(self, backend: Backend, data: dict[str, Any]) -> None:
        self._backend = backend
        self._data = data
        self.name: str = data["name"]

    def refresh(self) -> RegisteredModel:
        self._data = self._backend.registry_get(self.name)
        return self

    @property
    def versions(self) -> list[Any]:
        """Linked versions, newest first; each is the source artifact version."""
        from kiseki.sdk.artifacts import Artifact

        out = []
        for v in self._data["versions"]:
            art = Artifact._fetched(v.get("source") or v, self._backend)
            art.registry_version = v["version"]  # type: ignore[attr-defined]
            art.registry_aliases = v["aliases"]  # type: ignore[attr-defined]
            out.append(art)
        return out

    @property
    def aliases(self) -> dict[str, str]:
        """Alias -> registry version (``"v2"``)."""
        return {a: v["version"] for v in self._data["versions"] for a in v["aliases"]}

    @property
    def protected_aliases(self) -> list[str]:
        return list(self._data.get("protected_aliases") or [])

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every link and alias move: action, alias, from_version, to_version, actor, ts."""
        return list(self._data.get("history") or [])

    def link(self, artifact: str, aliases: list[str] | None = None) -> RegisteredModel:
        """Link ``"project/name:alias"`` into this model."""
        from kiseki.sdk.artifacts import parse_ref

        project, name, tag = parse_ref(artifact, None)
        self._backend.registry_link(self.name, project, name, tag, list(aliases or []))
        return self.refresh()

    def move_alias(self, alias: str, version: str | int) -> RegisteredModel:
        """Point ``alias`` at registry version ``vN`` (atomically; kept in the history)."""
        index = int(str(version).lstrip("v"))
        self._backend.registry_move_alias(self.name, alias, index)
        return self.refresh()

    def remove_alias(self, alias: str) -> RegisteredModel:
        self._backend.registry_remove_alias(self.name, alias)
        return self.refresh()

    def protect(self, alias: str, protected: bool = True) -> RegisteredModel:
        """Only maintainers may move a protected alias (or change protection)."""
        self._backend.registry_protect(self.name, alias, protected)
        return self.refresh()

    def __repr__(self) -> str:
        return f"<kiseki.RegisteredModel registry/{self.name} ({len(self._data['versions'])} versions)>"


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
        return self._count() if self._total is None else self._total

    @overload
    def __getitem__(self, index: int) -> PublicRun: ...

    @overload
    def __getitem__(self, index: slice) -> list[PublicRun]: ...

    def __getitem__(self, index: int | slice) -> PublicRun | list[PublicRun]:
        """As a list: ``runs[0]``, ``runs[-1]`` (the last), ``runs[:5]``, ``runs[::2]``."""
        if isinstance(index, slice):
            wanted = range(*index.indices(self._count()))
            if not wanted:
                return []
            low, high = min(wanted), max(wanted) + 1
            items = self._span(low, high)
            return [PublicRun(self._backend, items[i - low]) for i in wanted if i - low < len(items)]
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"runs[...] takes an int or a slice, got {type(index).__name__}")
        position = index + self._count() if index < 0 else index
        items = self._span(position, position + 1) if position >= 0 else []
        if not items:
            raise IndexError(f"run index {index} is out of range ({self._total} runs)")
        return PublicRun(self._backend, items[0])

    def _count(self) -> int:
        self._total = int(self._backend.list_runs(self.project, self._filters, self._order, 0,
                                                  1)["total"])
        return self._total

    def _span(self, start: int, stop: int) -> list[dict[str, Any]]:
        """Runs ``start`` to ``stop - 1`` of the listing, fetched a page at a time."""
        items: list[dict[str, Any]] = []
        while start + len(items) < stop:
            page = self._backend.list_runs(self.project, self._filters, self._order,
                                           start + len(items),
                                           min(self._per_page, stop - start - len(items)))
            if not page["items"]:
                break
            items.extend(page["items"])
        return items


_MEDIA_TYPES = frozenset({"image", "images", "table", "histogram"})


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        from kiseki.sdk.run import warn

        warn(message)


class PublicRun:
    """A stored run as the read API shows it."""

    _EDITABLE = ("name", "notes", "tags")

    def __init__(self, backend: Backend, data: dict[str, Any]) -> None:
        self._backend = backend
        self._edits: dict[str, Any] = {}
        self._load(data)
        self.project: str = data["project"]
        self.id: str = data["id"]

    def _load(self, data: dict[str, Any]) -> None:
        self._data = data
        self._stored_tags = list(data.get("tags") or [])  # to see tags changed in place

    def _full(self) -> dict[str, Any]:
        if "metadata" not in self._data:
            self._load({**self._backend.get_run(self.project, self.id), **self._edits})
        return self._data

    def __setattr__(self, name: str, value: Any) -> None:
        if name in PublicRun._EDITABLE:  # wandb's idiom: set, then update()
            if name == "tags":
                value = [str(t) for t in value]
            self._edits[name] = value
            self._data[name] = value
            return
        object.__setattr__(self, name, value)

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
    def url(self) -> str:
        """The run's page in the web app."""
        from kiseki.sdk.settings import run_page_url

        return run_page_url(getattr(self._backend, "base", None), self.project, self.id)

    @property
    def metadata(self) -> dict[str, Any]:
        return self._full().get("metadata") or {}

    def refresh(self) -> PublicRun:
        self._edits.clear()
        self._load(self._backend.get_run(self.project, self.id))
        return self

    def update(self, **values: Any) -> None:
        """Store changes of name, notes or tags: passed here, or made first as in wandb
        (``run.name = "best"``, ``run.tags.append("keep")``, then ``run.update()``)."""
        changes = dict(self._edits)
        tags = self._data.get("tags")
        if isinstance(tags, list) and tags != self._stored_tags:
            changes["tags"] = [str(t) for t in tags]
        changes.update(values)
        unknown = sorted(set(changes) - set(PublicRun._EDITABLE))
        if unknown:
            raise UsageError(f"update() changes name, notes or tags only, not {unknown}")
        self._load(self._backend.update_run(self.project, self.id, **changes))
        self._edits.clear()

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

    def history(self, keys: list[str] | None = None, samples: int = 500, pandas: bool = True,
                x_axis: str = "_step") -> Any:
        """Up to ``samples`` rows spread evenly over the run (all rows when fewer): a pandas
        DataFrame as in wandb, or a list of dicts with ``pandas=False`` (also when pandas is
        not installed, with a warning)."""
        rows = list(self.scan_history(keys=keys, page_size=10_000))
        if keys:
            rows = [r for r in rows if all(k in r for k in keys)]
        if len(rows) > samples > 0:
            stride = len(rows) / samples
            rows = [rows[int(i * stride)] for i in range(samples)]
        if pandas:
            try:
                import pandas as pd
            except ImportError:
                _warn_once("history(): pandas is not installed, so rows come as a list of "
                           "dicts; pip install 'kiseki[pandas]' or pass pandas=False")
                return rows
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

    def logged_artifacts(self) -> list[Any]:
        """Artifact versions this run produced."""
        from kiseki.sdk.artifacts import Artifact

        return [Artifact._fetched(i, self._backend)
                for i in self._backend.run_artifacts(self.project, self.id, "produced")]

    def used_artifacts(self) -> list[Any]:
        """Artifact versions this run used."""
        from kiseki.sdk.artifacts import Artifact

        return [Artifact._fetched(i, self._backend)
                for i in self._backend.run_artifacts(self.project, self.id, "used")]

    def system_metrics(self, keys: list[str] | None = None) -> list[dict[str, Any]]:
        page = self._backend.history_page(self.project, self.id, keys=keys, min_step=None,
                                          max_step=None, page_size=10_000, system=True)
        return page["rows"]

    def __repr__(self) -> str:
        return f"<kiseki.PublicRun {self.path} ({self._data.get('state')})>"
