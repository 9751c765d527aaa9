"""Reliability R10 and R24 on the S3 blob store: large files go straight to the bucket in
multipart uploads that resume after an interruption, survive throttling and 5xx answers, and
leave nothing behind when they fail.

Real components only: moto's S3-compatible server over HTTP, a real `kiseki server` using it,
real training scripts with their sender. Between them sits a small HTTP relay that forwards
every request to moto and answers chosen ones with the errors a real object store gives
(503 SlowDown, 500 InternalError), so the faults happen on the wire as they would with S3.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import random
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import kiseki
from tests.conftest import S3_ENV, MotoS3, ServerProcess, run_script

PART = 5 * 1024 * 1024  # S3's smallest part


class FaultyRelay:
    """Forwards HTTP to moto; ``fault(method, path, query)`` may return an error to answer
    instead. ``seen`` lists (method, path, query) of every request."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.fault: Callable[[str, str, dict[str, str]], tuple[int, str] | None] = (
            lambda method, path, query: None)
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                relay.seen.append((self.command, url.path, query))
                injected = relay.fault(self.command, url.path, query)
                if injected is not None:
                    status, code = injected
                    payload = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}"
                               f"</Code><Message>injected</Message></Error>").encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                resp = httpx.request(self.command, relay.target + self.path, content=body,
                                     headers=headers, timeout=60)
                self.send_response(resp.status_code)
                for key, value in resp.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection",
                                           "content-encoding"):
                        self.send_header(key, value)
                # a HEAD answer keeps the object's length; others carry the body relayed
                length = (resp.headers.get("content-length", "0") if self.command == "HEAD"
                          else str(len(resp.content)))
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(resp.content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def parts_put(self, number: int) -> int:
        return sum(1 for method, _, query in self.seen
                   if method == "PUT" and query.get("partNumber") == str(number))

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def relay(moto_s3: MotoS3) -> Iterator[FaultyRelay]:
    proxy = FaultyRelay(moto_s3.url)
    yield proxy
    proxy.close()


@pytest.fixture
def bucket_server(tmp_path: Path, moto_s3: MotoS3, relay: FaultyRelay,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    bucket = f"kiseki-{uuid.uuid4().hex[:12]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    srv = ServerProcess(tmp_path / "server", extra=["--blob-url", f"s3://{bucket}/blobs",
                                                   "--s3-endpoint", relay.url], env=S3_ENV)
    srv.bucket = bucket  # type: ignore[attr-defined]
    srv.start()
    yield srv
    srv.stop()


def _big_file(path: Path, size: int, seed: int) -> str:
    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _start(url: str, sha: str, size: int) -> dict[str, Any]:
    started = httpx.post(f"{url}/api/v1/blobs/{sha}/multipart",
                         json={"size": size, "part_size": PART})
    assert started.status_code == 200, started.text
    return {"upload_id": started.json()["upload_id"], "size": size,
            "part_size": started.json()["part_size"], "parts": started.json()["parts"]}


def _put_part(url: str, sha: str, plan: dict[str, Any], number: int,
              data: bytes) -> httpx.Response:
    part_sha = hashlib.sha256(data).hexdigest()
    where = httpx.post(f"{url}/api/v1/blobs/{sha}/multipart/parts", json={
        "upload_id": plan["upload_id"], "size": plan["size"], "part_size": plan["part_size"],
        "number": number, "sha256": part_sha})
    assert where.status_code == 200, where.text
    target = where.json()
    assert target["length"] == len(data)
    return httpx.put(target["url"], content=data, headers=target["headers"], timeout=60)


def _complete(url: str, sha: str, plan: dict[str, Any],
              parts: list[bytes]) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/blobs/{sha}/multipart/complete", json={
        "upload_id": plan["upload_id"], "size": plan["size"], "part_size": plan["part_size"],
        "parts": [{"number": n, "sha256": hashlib.sha256(p).hexdigest()}
                  for n, p in enumerate(parts, start=1)]}, timeout=60)


def _uploads(moto_s3: MotoS3, bucket: str) -> list[dict[str, Any]]:
    return moto_s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def _keys(moto_s3: MotoS3, bucket: str) -> list[str]:
    listed = moto_s3.client().list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_r10_r24_interrupted_throttled_upload_resumes_in_the_bucket(
        tmp_path: Path, bucket_server: ServerProcess, relay: FaultyRelay,
        moto_s3: MotoS3) -> None:
    size = 2 * PART + 1234  # three parts
    big = tmp_path / "weights.bin"
    sha = _big_file(big, size, seed=7)
    data = big.read_bytes()

    # an earlier attempt sent part 1, then its process died
    plan = _start(bucket_server.url, sha, size)
    assert plan["parts"] == [] and plan["part_size"] == PART
    assert _put_part(bucket_server.url, sha, plan, 1, data[:PART]).status_code == 200

    # the bucket throttles part 2 twice, then fails the first completion with a 500
    calls = {"part2": 0, "complete": 0}

    def fault(method: str, path: str, query: dict[str, str]) -> tuple[int, str] | None:
        if method == "PUT" and query.get("partNumber") == "2":
            calls["part2"] += 1
            return (503, "SlowDown") if calls["part2"] <= 2 else None
        if method == "POST" and "uploadId" in query:
            calls["complete"] += 1
            return (500, "InternalError") if calls["complete"] == 1 else None
        return None

    relay.fault = fault
    run_script("""
        import kiseki
        with kiseki.init(project="r24") as run:
            art = kiseki.Artifact("weights", type="model")
            art.add_file("weights.bin")
            run.log_artifact(art)
            art.wait(timeout=120)
    """, tmp_path, env={"KISEKI_BASE_URL": bucket_server.url,
                        "KISEKI_UPLOAD_PART_BYTES": str(PART)}, timeout=180)

    assert relay.parts_put(1) == 1  # resumed: part 1 was not sent again
    assert relay.parts_put(2) == 3  # two throttled answers, then stored
    assert relay.parts_put(3) == 1
    assert calls["complete"] == 2  # the server's S3 client retried the failed completion
    bucket = bucket_server.bucket  # type: ignore[attr-defined]
    assert _keys(moto_s3, bucket) == [f"blobs/{sha}"]  # nothing left in incoming/
    assert _uploads(moto_s3, bucket) == []
    head = moto_s3.client().head_object(Bucket=bucket, Key=f"blobs/{sha}",
                                        ChecksumMode="ENABLED")
    assert head["ContentLength"] == size
    with kiseki.Api(settings={"base_url": bucket_server.url}) as api:
        art = api.artifact("r24/weights:latest")
        folder = Path(art.download(root=str(tmp_path / "down")))
        assert (folder / "weights.bin").read_bytes() == data
        art.verify(root=str(folder))  # raises on any mismatch


def test_r24_parts_that_do_not_join_to_the_digest_leave_nothing(
        tmp_path: Path, bucket_server: ServerProcess, moto_s3: MotoS3) -> None:
    url = bucket_server.url
    bucket = bucket_server.bucket  # type: ignore[attr-defined]
    claimed = hashlib.sha256(b"what the client said").hexdigest()
    size = PART + 10
    other = random.Random(3).randbytes(size)
    chunks = [other[:PART], other[PART:]]
    plan = _start(url, claimed, size)
    # the plan bounds the parts: none beyond it, and the URL says each one's length
    beyond = httpx.post(f"{url}/api/v1/blobs/{claimed}/multipart/parts", json={
        "upload_id": plan["upload_id"], "size": size, "part_size": plan["part_size"],
        "number": 3, "sha256": claimed})
    assert beyond.status_code == 400 and "outside 1-2" in beyond.json()["detail"]
    assert _put_part(url, claimed, plan, 1, chunks[0]).status_code == 200
    missing = _complete(url, claimed, plan, chunks)  # part 2 never sent
    assert missing.status_code == 409 and "part 2 of 2 is missing" in missing.json()["detail"]
    assert _put_part(url, claimed, plan, 2, chunks[1]).status_code == 200
    done = _complete(url, claimed, plan, chunks)
    assert done.status_code == 400 and "do not join" in done.json()["detail"]
    assert _keys(moto_s3, bucket) == [] and _uploads(moto_s3, bucket) == []
    assert httpx.post(f"{url}/api/v1/blobs/missing",
                      json={"sha256": [claimed]}).json()["missing"] == [claimed]

    # bad parts completed after the real blob was stored by someone else: the blob stays
    real = random.Random(4).randbytes(size)
    real_sha = hashlib.sha256(real).hexdigest()
    plan = _start(url, real_sha, size)
    for number, chunk in enumerate(chunks, start=1):
        assert _put_part(url, real_sha, plan, number, chunk).status_code == 200
    stored = httpx.put(f"{url}/api/v1/blobs/{real_sha}", content=real, timeout=60)
    assert stored.status_code == 200, stored.text
    late = _complete(url, real_sha, plan, chunks)
    assert late.status_code == 200 and late.json()["size"] == size
    body = moto_s3.client().get_object(Bucket=bucket, Key=f"blobs/{real_sha}")["Body"].read()
    assert body == real
    assert _keys(moto_s3, bucket) == [f"blobs/{real_sha}"] and _uploads(moto_s3, bucket) == []

    # an upload nobody finishes (one part sent, never completed) ...
    plan = _start(url, claimed, size)
    assert _put_part(url, claimed, plan, 1, chunks[0]).status_code == 200
    gc_args = [sys.executable, "-m", "kiseki", "gc", "--json", "--dir",
               str(bucket_server.data_dir), "--blob-url", f"s3://{bucket}/blobs",
               "--s3-endpoint", moto_s3.url]

    def gc(*extra: str) -> dict[str, Any]:
        proc = subprocess.run([*gc_args, *extra], capture_output=True, text=True,
                              env={**os.environ, **S3_ENV}, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    # ... is kept while it may still resume (a day by default) ...
    assert gc("--min-age", "0")["uploads_aborted"] == 0
    assert len(_uploads(moto_s3, bucket)) == 1
    # ... and aborted by `kiseki gc` once older than --upload-max-age
    assert gc("--min-age", "0", "--upload-max-age", "0")["uploads_aborted"] == 1
    assert _uploads(moto_s3, bucket) == []


def test_r10_an_upload_joined_before_a_server_stop_is_finished_on_resume(
        moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server stopped between joining the parts and moving the object in: the staging
    object is still there, and the next start finishes it instead of asking for the parts."""
    from kiseki.store.blobs import S3BlobStore

    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    bucket = f"kiseki-{uuid.uuid4().hex[:12]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    store = S3BlobStore(f"s3://{bucket}/blobs", endpoint_url=moto_s3.url)
    size = PART + 99
    data = random.Random(5).randbytes(size)
    sha = hashlib.sha256(data).hexdigest()
    plan = store.multipart_start(sha, size, PART)
    staging = f"blobs/incoming/{sha}-{size}-{plan['part_size']}"
    moto_s3.client().put_object(Bucket=bucket, Key=staging, Body=data)  # joined, not moved
    assert store.multipart_start(sha, size, PART) == {"exists": True}
    assert store.read(sha) == data
    store.abort_stale_uploads(older_than=float("inf"))  # the started upload nobody needs
    assert _keys(moto_s3, bucket) == [f"blobs/{sha}"] and _uploads(moto_s3, bucket) == []


def test_missing_of_many_digests_on_a_bucket(moto_s3: MotoS3,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``missing`` checks many digests at once (HEADs in parallel): stored ones are found,
    absent ones and one whose bytes do not match its name come back, in the asked order."""
    from kiseki.store.blobs import S3BlobStore

    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    bucket = f"kiseki-{uuid.uuid4().hex[:12]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    store = S3BlobStore(f"s3://{bucket}/blobs", endpoint_url=moto_s3.url)
    payloads = [f"blob {i}".encode() for i in range(120)]
    shas = [hashlib.sha256(p).hexdigest() for p in payloads]
    for sha, payload in zip(shas[::2], payloads[::2]):
        store.put_bytes(payload)
    forged = hashlib.sha256(b"what the name promises").hexdigest()
    moto_s3.client().put_object(Bucket=bucket, Key=f"blobs/{forged}", Body=b"something else")
    asked = shas + [forged, shas[1], shas[0]]  # repeats are answered once
    assert store.missing(asked) == shas[1::2] + [forged]
    assert f"blobs/{forged}" not in _keys(moto_s3, bucket)  # the forged object is removed
    assert store.missing([]) == [] and store.missing([shas[0]]) == []
