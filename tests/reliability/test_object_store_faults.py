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
                self.send_header("Content-Length", str(len(resp.content)))
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


def _put_part(url: str, sha: str, upload_id: str, number: int, data: bytes) -> httpx.Response:
    part_sha = hashlib.sha256(data).hexdigest()
    where = httpx.post(f"{url}/api/v1/blobs/{sha}/multipart/parts", json={
        "upload_id": upload_id, "number": number, "sha256": part_sha})
    assert where.status_code == 200, where.text
    target = where.json()
    return httpx.put(target["url"], content=data, headers=target["headers"], timeout=60)


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
    started = httpx.post(f"{bucket_server.url}/api/v1/blobs/{sha}/multipart",
                         json={"size": size})
    assert started.status_code == 200 and started.json()["parts"] == []
    upload_id = started.json()["upload_id"]
    assert _put_part(bucket_server.url, sha, upload_id, 1, data[:PART]).status_code == 200

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
    claimed = hashlib.sha256(b"what the client said").hexdigest()
    size = PART + 10
    started = httpx.post(f"{bucket_server.url}/api/v1/blobs/{claimed}/multipart",
                         json={"size": size})
    upload_id = started.json()["upload_id"]
    other = random.Random(3).randbytes(size)
    parts = []
    for number, chunk in ((1, other[:PART]), (2, other[PART:])):
        resp = _put_part(bucket_server.url, claimed, upload_id, number, chunk)
        assert resp.status_code == 200
        parts.append({"number": number, "etag": resp.headers["ETag"],
                      "sha256": hashlib.sha256(chunk).hexdigest()})
    done = httpx.post(f"{bucket_server.url}/api/v1/blobs/{claimed}/multipart/complete",
                      json={"upload_id": upload_id, "parts": parts}, timeout=60)
    assert done.status_code == 400 and "do not join" in done.json()["detail"]
    bucket = bucket_server.bucket  # type: ignore[attr-defined]
    assert _keys(moto_s3, bucket) == [] and _uploads(moto_s3, bucket) == []
    assert httpx.post(f"{bucket_server.url}/api/v1/blobs/missing",
                      json={"sha256": [claimed]}).json()["missing"] == [claimed]

    # an upload nobody finishes (one part sent, never completed) ...
    again = httpx.post(f"{bucket_server.url}/api/v1/blobs/{claimed}/multipart",
                       json={"size": size}).json()
    assert _put_part(bucket_server.url, claimed, again["upload_id"], 1,
                     other[:PART]).status_code == 200

    # ... is aborted by `kiseki gc`
    assert len(_uploads(moto_s3, bucket)) == 1
    gc = subprocess.run([sys.executable, "-m", "kiseki", "gc", "--json", "--min-age", "0",
                         "--dir", str(bucket_server.data_dir),
                         "--blob-url", f"s3://{bucket}/blobs", "--s3-endpoint", moto_s3.url],
                        capture_output=True, text=True, env={**os.environ, **S3_ENV},
                        timeout=60, check=False)
    assert gc.returncode == 0, gc.stderr
    assert json.loads(gc.stdout.splitlines()[-1])["uploads_aborted"] == 1
    assert _uploads(moto_s3, bucket) == []
