"""Where the sender ships records: the embedded store or a kiseki server over HTTP.

Contract (both sinks, called from one thread of the sender process):

- ``send(project, run_id, stream, entries, deadline, live)`` applies a batch of consecutive
  entries of one stream and returns the stream's high-water mark (HTTP 409 "already applied"
  counts as success). It retries transient failures itself with
  jittered exponential backoff (honouring ``Retry-After``) until ``deadline``, then raises
  :class:`TransportError`. It raises :class:`AuthError` when credentials are refused (not
  retried). An empty ``entries`` asks for the high-water mark only.
- ``put_blob(sha, path, deadline)`` stores a media/artifact file under its sha256 (a no-op
  when the target has it already); retried like ``send``. ``missing_blobs(shas)`` says which
  of many the target lacks, in one call. ``parallel`` is how many ``put_blob`` may run at once.
- ``heartbeat(runs)`` marks runs alive; failures are ignored.
- ``idle()`` is called when the sender has nothing to do (housekeeping).
- ``close()`` releases connections.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import threading
import time
from typing import Any, Protocol

from kiseki.core import records as rec
from kiseki.core.errors import (
    AuthError, KisekiError, StorageUnavailableError, TransportError, ValidationError,
)
from kiseki.sdk.runlog import LogEntry
from kiseki.sdk.settings import Settings


class Sink(Protocol):
    target: str

    def send(self, project: str, run_id: str, stream: str, entries: list[LogEntry],
             deadline: float | None = None, live: bool = True) -> rec.IngestResult: ...

    def put_blob(self, sha: str, path: str, deadline: float | None = None) -> None: ...

    def missing_blobs(self, shas: list[str], deadline: float | None = None) -> list[str]: ...

    def put_blob_batch(self, items: list[tuple[str, str]],
                       deadline: float | None = None) -> None: ...

    def heartbeat(self, runs: list[tuple[str, str]]) -> None: ...

    def idle(self) -> None: ...

    def close(self) -> None: ...


CHECKPOINT_IDLE_S = 2.0
CHECKPOINT_BUSY_S = 5.0


def backoff_delays(base: float = 0.2, cap: float = 30.0) -> Any:
    """Yield full-jitter exponential backoff delays."""
    attempt = 0
    while True:
        yield random.uniform(0, min(cap, base * (2**attempt)))
        attempt += 1


class EmbeddedSink:
    """Writes into the local store (SQLite by default) in this process."""

    def __init__(self, settings: Settings) -> None:
        from kiseki.store.sqlstore import SQLStore  # lazy: only the sender process pays for it

        self.target = settings.store_url()
        # checkpoints happen in idle(), off the path between finish() and its answer
        self.store = SQLStore.open(self.target, blob_dir=settings.root_dir, autocheckpoint=False)
        self._checkpointed = time.monotonic()

    def send(self, project: str, run_id: str, stream: str, entries: list[LogEntry],
             deadline: float | None = None, live: bool = True) -> rec.IngestResult:
        decoded = [(e.seq, e.record) for e in entries]
        delays = backoff_delays(0.05, 2.0)
        while True:
            try:
                result = self.store.ingest(project, run_id, stream, decoded, live=live)
                if time.monotonic() - self._checkpointed > CHECKPOINT_BUSY_S:
                    self._checkpoint()  # never idle: keep the write-ahead log bounded anyway
                return result
            except StorageUnavailableError as exc:
                if deadline is not None and time.monotonic() > deadline:
                    raise TransportError(f"store busy: {exc}") from exc
                time.sleep(next(delays))

    parallel = 1  # one SQLite writer process: copies are disk-bound anyway

    def missing_blobs(self, shas: list[str], deadline: float | None = None) -> list[str]:
        blobs = self.store.blob_store()
        return [s for s in shas if not blobs.exists(s)]

    def put_blob_batch(self, items: list[tuple[str, str]],
                       deadline: float | None = None) -> None:
        for sha, path in items:
            self.put_blob(sha, path, deadline)

    def put_blob(self, sha: str, path: str, deadline: float | None = None) -> None:
        from kiseki.store.blobs import BlobMismatchError

        try:
            self.store.blob_store().put_file(sha, path)
        except BlobMismatchError:
            pass  # a damaged local file: the value is reported missing, the sync goes on
        except OSError as exc:
            raise TransportError(f"cannot store blob {sha}: {exc}") from exc

    def heartbeat(self, runs: list[tuple[str, str]]) -> None:
        try:
            self.store.heartbeat(runs)
        except KisekiError:
            pass

    def idle(self) -> None:
        if time.monotonic() - self._checkpointed > CHECKPOINT_IDLE_S:
            self._checkpoint()

    def _checkpoint(self) -> None:
        self.store.checkpoint()
        self._checkpointed = time.monotonic()

    def close(self) -> None:
        self._checkpoint()
        self.store.close()


class HttpSink:
    """Posts msgpack batches (gzip) to ``POST /api/v1/ingest`` of a kiseki server."""

    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        import httpx  # lazy: not part of `import kiseki`

        self.target = str(settings.base_url).rstrip("/")
        headers = {"User-Agent": "kiseki-sdk"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self._httpx = httpx
        self._client = httpx.Client(base_url=self.target, headers=headers,
                                    timeout=httpx.Timeout(timeout, connect=5.0))
        # while a send retries, the sender sends no heartbeat; an applied batch refreshes the
        # run's heartbeat, so our own backoff never waits longer than one heartbeat interval:
        # a restarted server hears from a live run within its startup grace (R17)
        self._max_backoff = max(0.05, float(settings.heartbeat_interval))

    def send(self, project: str, run_id: str, stream: str, entries: list[LogEntry],
             deadline: float | None = None, live: bool = True) -> rec.IngestResult:
        import msgspec

        batch = rec.IngestBatch(project, run_id, stream, [msgspec.Raw(e.payload)
                                                          for e in entries], live)
        return self._post(batch, deadline)

    def _post(self, batch: rec.IngestBatch, deadline: float | None) -> rec.IngestResult:
        body = gzip.compress(rec.encode(batch), compresslevel=1)
        delays = backoff_delays()
        while True:
            status, result, retry_after = self._attempt(body)
            if status == 200 and result is not None:
                return result
            if status == 409 and batch.entries:
                # "already applied" (R08): a retry of a batch the server had stored
                return rec.IngestResult(hwm=_last_seq(batch), applied=0)
            if status in (401, 403):
                raise AuthError(f"server {self.target} refused the API key (HTTP {status}); "
                                "run `kiseki login URL --key KEY`")
            if status == 413 and len(batch.entries) > 1:
                half = len(batch.entries) // 2
                self._post(rec.IngestBatch(batch.project, batch.run_id, batch.stream,
                                           batch.entries[:half], batch.live), deadline)
                return self._post(rec.IngestBatch(batch.project, batch.run_id, batch.stream,
                                                  batch.entries[half:], batch.live), deadline)
            if status in (400, 404, 413, 422):
                raise ValidationError(f"server refused a batch of {run_id_of(batch)} "
                                      f"(HTTP {status}); it stays in the run log")
            delay = retry_after if retry_after is not None else min(next(delays),
                                                                    self._max_backoff)
            if deadline is not None and time.monotonic() + delay > deadline:
                raise TransportError(f"server {self.target} unavailable (last status {status})")
            time.sleep(delay)

    def _attempt(self, body: bytes) -> tuple[int, rec.IngestResult | None, float | None]:
        import msgspec

        try:
            resp = self._client.post(
                "/api/v1/ingest", content=body,
                headers={"Content-Type": "application/x-msgpack", "Content-Encoding": "gzip"})
        except self._httpx.HTTPError:
            return 0, None, None
        retry_after = _retry_after(resp.headers.get("Retry-After"))
        if resp.status_code == 200:
            try:
                return 200, msgspec.json.decode(resp.content, type=rec.IngestResult), None
            except msgspec.DecodeError:
                return 502, None, None
        return resp.status_code, None, retry_after

    parallel = 8  # uploads in flight at once (small files are latency-bound)

    @property
    def parts_done(self) -> threading.local:
        """``parts_done.hook(n)``, set per upload thread, hears of each part of a big file
        as it is stored (the sender's progress reports)."""
        local = self.__dict__.get("_parts_done")
        if local is None:
            local = self.__dict__.setdefault("_parts_done", threading.local())
        return local

    def _part_stored(self, n: int) -> None:
        hook = getattr(self.parts_done, "hook", None)
        if hook is not None:
            hook(n)

    def missing_blobs(self, shas: list[str], deadline: float | None = None) -> list[str]:
        """Which of ``shas`` the server lacks, 5,000 per request."""
        missing: list[str] = []
        for start in range(0, len(shas), 5000):
            chunk = shas[start:start + 5000]
            delays = backoff_delays()
            while True:
                try:
                    resp = self._client.post("/api/v1/blobs/missing", json={"sha256": chunk})
                    if resp.status_code == 200:
                        missing.extend(resp.json()["missing"])
                        break
                    status = resp.status_code
                except self._httpx.HTTPError:
                    status = 0
                if status in (401, 403):
                    raise AuthError(f"server {self.target} refused the API key (HTTP {status})")
                if status in (400, 404, 405, 422):
                    return list(shas)  # an older server: ask blob by blob in put_blob
                delay = min(next(delays), self._max_backoff)
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise TransportError(f"server {self.target} unavailable (last status "
                                         f"{status})")
                time.sleep(delay)
        return missing

    def put_blob_batch(self, items: list[tuple[str, str]],
                       deadline: float | None = None) -> None:
        """Small files in one request (``POST /api/v1/blobs/batch``, verified there)."""
        import msgspec

        payload: list[tuple[str, bytes]] = []
        for sha, path in items:
            try:
                with open(path, "rb") as fh:
                    payload.append((sha, fh.read()))
            except OSError:
                continue  # gone: the server reports that value missing
        body = msgspec.msgpack.encode(payload)
        delays = backoff_delays()
        while True:
            status = 0
            retry_after = None
            try:
                resp = self._client.post("/api/v1/blobs/batch", content=body, headers={
                    "Content-Type": "application/x-msgpack"})
                status = resp.status_code
                retry_after = _retry_after(resp.headers.get("Retry-After"))
            except self._httpx.HTTPError:
                pass
            if status == 200:
                return
            if status in (401, 403):
                raise AuthError(f"server {self.target} refused the API key (HTTP {status})")
            if status in (400, 404, 405, 413, 422):  # refused or an older server: one by one
                for sha, path in items:
                    self.put_blob(sha, path, deadline)
                return
            delay = retry_after if retry_after is not None else min(next(delays),
                                                                    self._max_backoff)
            if deadline is not None and time.monotonic() + delay > deadline:
                raise TransportError(f"server {self.target} unavailable (last status {status})")
            time.sleep(delay)

    def put_blob(self, sha: str, path: str, deadline: float | None = None) -> None:
        """Upload a file under its sha256 unless the server has it: straight to the bucket
        with a presigned URL when the server keeps blobs in S3, else to
        ``PUT /api/v1/blobs/{sha}``. Streamed (a 2 GB file never sits in memory) and verified
        on arrival; retried with backoff like batches."""
        delays = backoff_delays()
        while True:
            status, retry_after = 0, None
            try:
                where = self._client.post(f"/api/v1/blobs/{sha}/upload-url")
                status = where.status_code
                if status == 200:
                    target = where.json()
                    if target.get("exists"):
                        return
                    resp = self._upload(sha, path, target.get("url"),
                                        target.get("headers") or {})
                    status = resp.status_code
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
                else:
                    retry_after = _retry_after(where.headers.get("Retry-After"))
            except self._httpx.HTTPError:
                status = 0
            except (OSError, ValueError):
                return  # the file vanished: the server reports the value missing
            if status in (200, 201, 204):
                return
            if status in (401, 403):
                raise AuthError(f"server {self.target} refused the API key (HTTP {status}); "
                                "run `kiseki login URL --key KEY`")
            if status in (400, 413, 422):
                return  # refused for good (damaged file, too large): reported missing
            delay = retry_after if retry_after is not None else min(next(delays),
                                                                    self._max_backoff)
            if deadline is not None and time.monotonic() + delay > deadline:
                raise TransportError(f"server {self.target} unavailable (last status {status})")
            time.sleep(delay)

    def _upload(self, sha: str, path: str, url: str | None, headers: dict[str, str]) -> Any:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > _part_bytes():
                if url:
                    return self._upload_bucket_parts(sha, fh, size, url, headers)
                return self._upload_parts(sha, fh, size)
            all_headers = {"Content-Type": "application/octet-stream",
                           "Content-Length": str(size), **headers}
            timeout = self._httpx.Timeout(600.0, connect=5.0)
            if url:  # presigned: to the bucket, without our API key
                return self._httpx.put(url, content=_chunks(fh), headers=all_headers,
                                       timeout=timeout)
            return self._client.put(f"/api/v1/blobs/{sha}", content=_chunks(fh),
                                    headers=all_headers, timeout=timeout)

    def _upload_parts(self, sha: str, fh: Any, size: int) -> Any:
        """A large file in parts, resumed from what the server already holds (after a dropped
        connection, a retry, or a server restart)."""
        url = f"/api/v1/blobs/{sha}"
        state = self._client.get(f"{url}/upload")
        if state.status_code != 200:
            return state
        if state.json().get("exists"):
            return state
        offset = int(state.json().get("received") or 0)
        part = _part_bytes()
        while True:
            n = min(part, size - offset)
            # streamed from the file (a bytes body would be kept alive by the response's
            # reference cycle until the next garbage collection: parts piling up in memory)
            resp = self._client.put(url, content=_region(fh, offset, n), headers={
                "Content-Type": "application/octet-stream", "Content-Length": str(n),
                "Content-Range": f"bytes {offset}-{offset + n - 1}/{size}"},
                timeout=self._httpx.Timeout(600.0, connect=5.0))
            if resp.status_code in (202, 409):
                if resp.status_code == 409:
                    time.sleep(0.2)  # another sender is on this blob, or we were behind
                received = int(resp.json().get("received", offset))
                self._part_stored(max(0, received - offset))
                offset = received
                if offset >= size:  # complete but not yet committed: send the last byte again
                    offset = size - 1
                continue
            return resp

    def _upload_bucket_parts(self, sha: str, fh: Any, size: int, url: str,
                             headers: dict[str, str]) -> Any:
        """A large file straight to the server's bucket in parts (S3 multipart, each part
        presigned with its length and sha256), skipping the parts the bucket already holds
        from an interrupted upload. A failed part returns its answer: the caller's backoff
        retries and the next try resumes. Parts that do not join to the file's digest are
        dropped; a server without multipart routes gets the one presigned PUT of before."""
        base = f"/api/v1/blobs/{sha}/multipart"
        started = self._client.post(base, json={"size": size, "part_size": _part_bytes()})
        if started.status_code in (404, 405):  # an older server: one PUT (up to 5 GB)
            return self._httpx.put(url, content=_chunks(fh), headers={
                "Content-Type": "application/octet-stream", "Content-Length": str(size),
                **headers}, timeout=self._httpx.Timeout(600.0, connect=5.0))
        if started.status_code != 200 or started.json().get("exists"):
            return started
        plan = {"upload_id": started.json()["upload_id"], "size": size,
                "part_size": int(started.json()["part_size"])}
        held = {p["n"]: p for p in started.json().get("parts", [])}
        part = plan["part_size"]
        timeout = self._httpx.Timeout(600.0, connect=5.0)
        done = []
        for number, offset in enumerate(range(0, size, part), start=1):
            n = min(part, size - offset)
            digest, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
            for chunk in _region(fh, offset, n):
                digest.update(chunk)
                md5.update(chunk)
            part_sha = digest.hexdigest()
            have = held.get(number)
            # a part the bucket holds is kept when its sha256 (or, where the bucket lists no
            # checksum, its ETag: the part's MD5) and size match this file's bytes
            if not (have and have["size"] == n and (
                    have.get("sha256") == part_sha if have.get("sha256")
                    else have["etag"].strip('"') == md5.hexdigest())):
                target = self._client.post(f"{base}/parts", json={
                    **plan, "number": number, "sha256": part_sha})
                if target.status_code != 200:
                    return target
                where = target.json()
                resp = self._httpx.put(where["url"], content=_region(fh, offset, n), headers={
                    "Content-Length": str(n), **where["headers"]}, timeout=timeout)
                if resp.status_code != 200:
                    return resp
                self._part_stored(n)
            done.append({"number": number, "sha256": part_sha})
        final = self._client.post(f"{base}/complete", json={**plan, "parts": done},
                                  timeout=timeout)
        if final.status_code in (400, 409):
            # 400: the parts do not join to this file (nothing was stored): give up on them;
            # 409: the bucket holds other parts (another sender's plan): start afresh
            self._client.delete(base, params=plan)
        return final

    def heartbeat(self, runs: list[tuple[str, str]]) -> None:
        try:
            self._client.post("/api/v1/heartbeat",
                              json={"runs": [{"project": p, "run_id": r} for p, r in runs]},
                              timeout=5.0)
        except self._httpx.HTTPError:
            pass

    def idle(self) -> None:
        pass

    def close(self) -> None:
        self._client.close()


def _part_bytes() -> int:
    """Files above this size are sent in resumable parts of this size (default 64 MiB)."""
    try:
        return max(1024, int(os.environ.get("KISEKI_UPLOAD_PART_BYTES", 64 * 1024 * 1024)))
    except ValueError:
        return 64 * 1024 * 1024


def _region(fh: Any, offset: int, length: int, size: int = 1024 * 1024) -> Any:
    fh.seek(offset)
    while length > 0:
        chunk = fh.read(min(size, length))
        if not chunk:
            return
        length -= len(chunk)
        yield chunk


def _chunks(fh: Any, size: int = 1024 * 1024) -> Any:
    while chunk := fh.read(size):
        yield chunk


def _last_seq(batch: rec.IngestBatch) -> int:
    seq, _ = rec.decode_entry(bytes(batch.entries[-1]))
    return seq


def run_id_of(batch: rec.IngestBatch) -> str:
    return f"{batch.project}/{batch.run_id}"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), 300.0)
    except ValueError:
        return None


def make_sink(settings: Settings) -> Sink:
    return EmbeddedSink(settings) if settings.embedded else HttpSink(settings)
