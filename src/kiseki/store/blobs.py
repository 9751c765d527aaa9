"""Content-addressed blob storage behind one contract: a local folder (the default) or an
S3-compatible bucket.

A blob's name is the sha256 of its bytes, computed and verified here, never taken from a
client path (I08). Writes go to a temporary place first and become visible only once the
digest matches, so a reader never sees a partial blob and an interrupted upload leaves nothing
behind that the next upload does not replace.

The contract (both stores): ``exists``, ``missing`` (of many digests), ``size``, ``read``, ``iter_chunks``, ``begin`` (an
upload written chunk by chunk, then ``commit``/``abort``), ``put_file``, ``put_bytes``,
``remove``, ``listing`` (for garbage collection), ``local_path`` (a file the server may stream
itself, or None) and ``download_url``/``upload_url`` (presigned URLs on S3, None locally).
The S3 store also takes resumable multipart uploads straight to the bucket (``multipart_*``);
the local store takes resumable parts through the server (:class:`PartialUploads`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from kiseki.core.errors import (
    ConflictError, NotFoundError, StorageError, StorageUnavailableError, ValidationError,
)

_SHA256 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1024 * 1024
# S3 copies objects of up to 5 GiB in one request, with a checksum of the whole object
MAX_MULTIPART_BYTES = 5 * 1024 ** 3
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part (but the last)


def check_digest(sha: str) -> str:
    """``sha`` if it is a lowercase hex sha256, else a ValidationError naming it."""
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise ValidationError(f"blob id {str(sha)[:80]!r} is not a lowercase hex sha256 digest")
    return sha


class BlobMismatchError(ValidationError):
    """Uploaded bytes whose digest is not the one claimed."""


class LocalBlobStore:
    """Blobs as files under ``root/ab/cd/<sha256>``."""

    kind = "local"

    def __init__(self, root: str) -> None:
        self.root = root

    def local_path(self, sha: str) -> str | None:
        path = self.path(sha)
        return path if os.path.isfile(path) else None

    def touch(self, sha: str) -> None:
        """Mark a blob as wanted now: ``kiseki gc`` keeps blobs younger than its min age, so an
        upload that found its blob already stored is safe until its commit arrives."""
        try:
            os.utime(self.path(sha))
        except OSError:
            pass

    def download_url(self, sha: str, filename: str | None = None) -> str | None:
        return None

    def upload_url(self, sha: str) -> dict[str, Any] | None:
        return None

    def iter_chunks(self, sha: str, size: int = CHUNK) -> Iterator[bytes]:
        with self.open(sha) as fh:
            while chunk := fh.read(size):
                yield chunk

    def remove(self, sha: str) -> None:
        try:
            os.unlink(self.path(sha))
        except OSError:
            pass

    def listing(self) -> Iterator[tuple[str, int, float]]:
        """``(sha256, size, modified time)`` of every blob."""
        for root, _, files in os.walk(self.root):
            for name in files:
                if _SHA256.fullmatch(name):
                    try:
                        info = os.stat(os.path.join(root, name))
                    except OSError:
                        continue
                    yield name, info.st_size, info.st_mtime

    def path(self, sha: str) -> str:
        check_digest(sha)
        return os.path.join(self.root, sha[:2], sha[2:4], sha)

    def exists(self, sha: str) -> bool:
        return os.path.isfile(self.path(sha))

    def missing(self, shas: Iterable[str]) -> list[str]:
        """The digests of ``shas`` not stored, each once, in their first order."""
        return [sha for sha in dict.fromkeys(shas) if not self.exists(sha)]

    def size(self, sha: str) -> int:
        try:
            return os.path.getsize(self.path(sha))
        except OSError as exc:
            raise StorageError(f"blob {sha} is not in the store") from exc

    def open(self, sha: str) -> BinaryIO:
        try:
            return open(self.path(sha), "rb")
        except OSError as exc:
            raise StorageError(f"blob {sha} is not in the store") from exc

    def read(self, sha: str) -> bytes:
        with self.open(sha) as fh:
            return fh.read()

    def put_chunks(self, sha: str, chunks: Iterable[bytes], max_bytes: int | None = None) -> int:
        """Store the bytes of ``chunks`` as blob ``sha``; verify the digest; return the size."""
        final = self.path(sha)
        if os.path.isfile(final):
            for _ in chunks:  # drain, so a streaming caller sees the body consumed
                pass
            self.touch(sha)
            return os.path.getsize(final)
        folder = os.path.dirname(final)
        os.makedirs(folder, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ValidationError(f"blob is larger than {max_bytes:,} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha:
                raise BlobMismatchError(f"uploaded bytes have sha256 {digest.hexdigest()}, not "
                                        f"{sha}; the upload was corrupted or the id is wrong")
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return size

    def adopt(self, sha: str, source: str) -> int:
        """Move an already verified file (a completed resumable upload) into place."""
        final = self.path(sha)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        size = os.path.getsize(source)
        os.replace(source, final)
        return size

    def begin(self, sha: str, max_bytes: int | None = None) -> BlobUpload:
        """An upload written chunk by chunk (from a request body) and committed at the end."""
        return BlobUpload(self, sha, max_bytes)

    def put_file(self, sha: str, source: str) -> int:
        with open(source, "rb") as fh:
            return self.put_chunks(sha, iter(lambda: fh.read(CHUNK), b""))

    def put_bytes(self, payload: bytes) -> str:
        sha = hashlib.sha256(payload).hexdigest()
        self.put_chunks(sha, [payload])
        return sha

    def remove_all(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class _HashedSpool:
    """A blob being received into a temporary file, hashed as it is written."""

    size: int
    max_bytes: int | None
    digest: Any
    out: Any

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise ValidationError(f"blob is larger than {self.max_bytes:,} bytes")
        self.digest.update(chunk)
        self.out.write(chunk)


class BlobUpload(_HashedSpool):
    """One blob being received: hashed while written to a temporary file next to its final
    place; ``commit`` verifies the digest and renames it in, ``abort`` removes it."""

    def __init__(self, store: LocalBlobStore, sha: str, max_bytes: int | None) -> None:
        self.final = store.path(sha)
        self.sha = sha
        self.max_bytes = max_bytes
        self.size = 0
        self.digest = hashlib.sha256()
        folder = os.path.dirname(self.final)
        os.makedirs(folder, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        self.out = os.fdopen(fd, "wb")

    def commit(self) -> int:
        self.out.close()
        if self.digest.hexdigest() != self.sha:
            self.abort()
            raise BlobMismatchError(f"uploaded bytes have sha256 {self.digest.hexdigest()}, "
                                    f"not {self.sha}; the upload was corrupted or the id is wrong")
        os.replace(self.tmp, self.final)
        return self.size

    def abort(self) -> None:
        if not self.out.closed:
            self.out.close()
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


HEAD_THREADS = 16  # concurrent HEAD requests when checking many digests


class S3BlobStore:
    """Blobs as objects ``<prefix><sha256>`` in an S3-compatible bucket (boto3).

    Uploads through the server are buffered in a local temporary file while hashed, then put
    with the sha256 as S3 checksum (the bucket verifies it too). Clients may upload directly
    with a presigned PUT that signs the ``x-amz-checksum-sha256`` header, so the bucket
    refuses bytes with another digest; ``exists`` checks the stored checksum as well.
    """

    kind = "s3"

    def __init__(self, url: str, endpoint_url: str | None = None, region: str | None = None,
                 spool_dir: str | None = None) -> None:
        from urllib.parse import urlparse

        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValidationError(f"blob store URL {url!r} must look like s3://bucket/prefix")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.lstrip("/")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"
        self.root = url
        self.spool_dir = spool_dir or tempfile.gettempdir()
        os.makedirs(self.spool_dir, exist_ok=True)
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
            config=Config(retries={"max_attempts": 5, "mode": "standard"},
                          max_pool_connections=HEAD_THREADS + 4,
                          signature_version="s3v4"))

    def key(self, sha: str) -> str:
        return self.prefix + check_digest(sha)

    def path(self, sha: str) -> str:  # a name for messages; validates the digest
        return f"s3://{self.bucket}/{self.key(sha)}"

    def _head(self, sha: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]

        try:
            return self.client.head_object(  # type: ignore[no-any-return]
                Bucket=self.bucket, Key=self.key(sha), ChecksumMode="ENABLED")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(f"object store: {exc}") from exc

    def exists(self, sha: str) -> bool:
        """Stored with the right content. An object without a stored checksum (a presigned
        upload to a service that does not check the signed checksum header) is copied onto
        itself with SHA256 checksumming, so the bucket computes its digest without the bytes
        passing through kiseki; one with the wrong digest is deleted."""
        head = self._head(sha)
        if head is None:
            return False
        stored = head.get("ChecksumSHA256")
        if stored is None:
            key = self.key(sha)
            self.client.copy_object(Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256",
                                    CopySource={"Bucket": self.bucket, "Key": key},
                                    MetadataDirective="REPLACE")
            head = self._head(sha)
            stored = head.get("ChecksumSHA256") if head else None
        if stored != _b64(sha):
            self.remove(sha)
            return False
        return True

    def missing(self, shas: Iterable[str]) -> list[str]:
        """The digests of ``shas`` not stored (with the right content), each once, in their
        first order. One HEAD per digest, ``HEAD_THREADS`` at a time: checking an artifact of
        10,000 files one request after another would take minutes on a remote bucket."""
        todo = list(dict.fromkeys(shas))
        if len(todo) <= 1:
            return [sha for sha in todo if not self.exists(sha)]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(HEAD_THREADS, len(todo)),
                                thread_name_prefix="kiseki-s3-head") as pool:
            found = list(pool.map(self.exists, todo))
        return [sha for sha, ok in zip(todo, found) if not ok]

    def size(self, sha: str) -> int:
        head = self._head(sha)
        if head is None:
            raise StorageError(f"blob {sha} is not in the store")
        return int(head["ContentLength"])

    def read(self, sha: str) -> bytes:
        return b"".join(self.iter_chunks(sha))

    def iter_chunks(self, sha: str, size: int = CHUNK) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha))["Body"]
        except ClientError as exc:
            raise StorageError(f"blob {sha} is not in the store: {exc}") from exc
        yield from body.iter_chunks(size)

    def local_path(self, sha: str) -> str | None:
        return None

    def download_url(self, sha: str, filename: str | None = None,
                     expires: int = 3600) -> str | None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key(sha)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
            params["ResponseContentType"] = "application/octet-stream"
        return self.client.generate_presigned_url(  # type: ignore[no-any-return]
            "get_object", Params=params, ExpiresIn=expires)

    def upload_url(self, sha: str, expires: int = 3600) -> dict[str, Any] | None:
        url = self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": self.key(sha),
                                  "ChecksumSHA256": _b64(sha)}, ExpiresIn=expires)
        return {"url": url, "headers": {"x-amz-checksum-sha256": _b64(sha)}}

    def begin(self, sha: str, max_bytes: int | None = None) -> _S3Upload:
        return _S3Upload(self, sha, max_bytes)

    # -- resumable multipart uploads straight to the bucket ------------------------------------
    # Parts go to a staging key named by the blob, its size and the part size, with presigned
    # URLs that sign each part's length and sha256 (the bucket refuses other bytes). Completing
    # checks the parts the bucket lists against that plan, joins them, copies the result to a
    # verification key with SHA256 checksumming (the bucket computes the whole file's digest,
    # no byte passes through kiseki) and, only when it matches, to the blob's key: a stored
    # blob is never overwritten or removed by an upload. An upload interrupted at any point
    # resumes from what the bucket holds (R10); failures are aborted (R24).

    def _staging(self, sha: str, size: int, part_size: int) -> str:
        return f"{self.prefix}incoming/{check_digest(sha)}-{int(size)}-{int(part_size)}"

    @staticmethod
    def part_plan(size: int, part_size: int) -> tuple[int, int]:
        """``(part size, number of parts)`` for a file: S3 wants parts of 5 MiB or more (but
        the last) and at most 10,000 of them."""
        if size <= 0:
            raise ValidationError(f"a multipart upload needs a size above 0, got {size}")
        if size > MAX_MULTIPART_BYTES:
            raise ValidationError(f"a file of {size:,} bytes is over the S3 store's limit of "
                                  f"{MAX_MULTIPART_BYTES:,} bytes per file; split it")
        part = max(int(part_size), MIN_PART_BYTES, -(-size // 10_000))
        return part, -(-size // part)

    def _s3_call(self, what: str, call: Callable[..., Any], **kw: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call(Bucket=self.bucket, **kw)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, text = error.get("Code"), error.get("Message")
            if code in ("NoSuchUpload", "404", "NoSuchKey"):
                raise NotFoundError(f"{what}: the upload is gone ({code}); start it again"
                                    ) from exc
            if code in ("InvalidPart", "InvalidPartOrder"):
                raise ConflictError(f"{what}: the bucket holds other parts than these ({code}); "
                                    "start the upload again") from exc
            if code in ("BadDigest", "EntityTooSmall", "EntityTooLarge", "InvalidArgument",
                        "InvalidRequest", "InvalidDigest"):
                raise ValidationError(f"{what}: the bucket refused it ({code}: {text})") from exc
            if code in ("AccessDenied", "AllAccessDisabled", "NotImplemented",
                        "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise StorageError(f"{what}: the object store does not allow it ({code}: "
                                   f"{text}); the server's credentials or bucket policy need "
                                   "multipart upload permissions") from exc
            raise StorageUnavailableError(f"{what}: object store error {code}; retry") from exc
        except BotoCoreError as exc:
            raise StorageUnavailableError(f"{what}: object store unreachable ({exc}); retry"
                                          ) from exc

    def _key_checksum(self, key: str) -> str | None:
        """The stored SHA256 checksum of an object, None when it has none or is absent."""
        try:
            head = self._s3_call("read object", self.client.head_object, Key=key,
                                 ChecksumMode="ENABLED")
        except NotFoundError:
            return None
        return head.get("ChecksumSHA256")  # type: ignore[no-any-return]

    def _move_in(self, sha: str, key: str) -> bool:
        """Make the joined object at ``key`` the blob ``sha`` if the bucket computes that
        digest for it; the staging object is removed either way (False: it did not match).
        A transient failure raises and keeps the staging object for the next try."""
        verify = f"{key}.verify"
        self._s3_call("verify upload", self.client.copy_object, Key=verify,
                      CopySource={"Bucket": self.bucket, "Key": key},
                      ChecksumAlgorithm="SHA256", MetadataDirective="REPLACE")
        matches = self._key_checksum(verify) == _b64(sha)
        if matches and not self.exists(sha):
            self._s3_call("store blob", self.client.copy_object, Key=self.key(sha),
                          CopySource={"Bucket": self.bucket, "Key": verify},
                          ChecksumAlgorithm="SHA256", MetadataDirective="REPLACE")
        for leftover in (verify, key):
            self._s3_call("clean up upload", self.client.delete_object, Key=leftover)
        return matches

    def multipart_start(self, sha: str, size: int, part_size: int) -> dict[str, Any]:
        """``{"exists": true}``, or the multipart upload of blob ``sha`` in progress (resumed)
        or a new one: ``{"upload_id", "part_size", "parts": [{"n", "size", "etag",
        "sha256"}]}`` with the parts the bucket already holds."""
        part, _ = self.part_plan(size, part_size)
        if self.exists(sha):
            return {"exists": True}
        key = self._staging(sha, size, part)
        if self._object_exists(key):
            # joined earlier but not moved in (the server stopped in between): finish it
            if self._move_in(sha, key):
                return {"exists": True}
        found = self._s3_call("list uploads", self.client.list_multipart_uploads, Prefix=key)
        mine = [u for u in found.get("Uploads", []) if u["Key"] == key]
        if not mine:
            made = self._s3_call("start upload", self.client.create_multipart_upload, Key=key,
                                 ChecksumAlgorithm="SHA256")
            return {"exists": False, "upload_id": made["UploadId"], "part_size": part,
                    "parts": []}
        upload_id = max(mine, key=lambda u: u["Initiated"])["UploadId"]
        parts = [{"n": int(p["PartNumber"]), "size": int(p["Size"]), "etag": p["ETag"],
                  "sha256": _hex(p["ChecksumSHA256"]) if p.get("ChecksumSHA256") else None}
                 for p in self._parts(key, upload_id)]
        return {"exists": False, "upload_id": upload_id, "part_size": part, "parts": parts}

    def _object_exists(self, key: str) -> bool:
        try:
            self._s3_call("read object", self.client.head_object, Key=key)
            return True
        except NotFoundError:
            return False

    def _parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        marker = 0
        while True:
            page = self._s3_call("list parts", self.client.list_parts, Key=key,
                                 UploadId=upload_id, PartNumberMarker=marker)
            parts.extend(page.get("Parts", []))
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    def multipart_part_url(self, sha: str, size: int, part_size: int, upload_id: str,
                           number: int, part_sha: str, expires: int = 3600) -> dict[str, Any]:
        """A presigned PUT for part ``number`` that the bucket accepts only with this length
        and these bytes (the length follows from the plan: no part can be larger)."""
        part, count = self.part_plan(size, part_size)
        if part != part_size:
            raise ValidationError(f"part size {part_size} is not this upload's ({part})")
        if not 1 <= number <= count:
            raise ValidationError(f"part number {number} is outside 1-{count} for a file of "
                                  f"{size:,} bytes in parts of {part:,}")
        length = part if number < count else size - part * (count - 1)
        url = self.client.generate_presigned_url(
            "upload_part", Params={"Bucket": self.bucket,
                                   "Key": self._staging(sha, size, part),
                                   "UploadId": upload_id, "PartNumber": number,
                                   "ContentLength": length,
                                   "ChecksumSHA256": _b64(check_digest(part_sha))},
            ExpiresIn=expires)
        return {"url": url, "length": length,
                "headers": {"x-amz-checksum-sha256": _b64(part_sha)}}

    def multipart_complete(self, sha: str, size: int, part_size: int, upload_id: str,
                           sha256s: dict[int, str]) -> int:
        """Join the parts the bucket holds (checked against the plan: every part there, each
        of its planned length), then move the result in if its digest is ``sha``."""
        part, count = self.part_plan(size, part_size)
        key = self._staging(sha, size, part)
        if self.exists(sha):  # stored meanwhile (another client): these parts are not needed
            self.multipart_abort(sha, size, part, upload_id)
            return self.size(sha)
        held = {int(p["PartNumber"]): p for p in self._parts(key, upload_id)}
        for number in range(1, count + 1):
            length = part if number < count else size - part * (count - 1)
            got = held.get(number)
            if got is None or int(got["Size"]) != length or number not in sha256s:
                raise ConflictError(f"part {number} of {count} is missing or not {length:,} "
                                    "bytes; send it again")
        if set(held) - set(range(1, count + 1)):
            raise ValidationError(f"the upload holds parts beyond {count}; start it again")
        self._s3_call("complete upload", self.client.complete_multipart_upload, Key=key,
                      UploadId=upload_id, MultipartUpload={"Parts": [
                          {"PartNumber": n, "ETag": held[n]["ETag"],
                           "ChecksumSHA256": _b64(check_digest(sha256s[n]))}
                          for n in range(1, count + 1)]})
        if not self._move_in(sha, key):
            raise BlobMismatchError(f"uploaded parts do not join to sha256 {sha}; the upload "
                                    "was corrupted or the id is wrong: nothing was stored")
        return size

    def multipart_abort(self, sha: str, size: int, part_size: int, upload_id: str) -> None:
        """Drop an upload and the parts the bucket holds for it."""
        part, _ = self.part_plan(size, part_size)
        try:
            self._s3_call("abort upload", self.client.abort_multipart_upload,
                          Key=self._staging(sha, size, part), UploadId=upload_id)
        except NotFoundError:
            pass  # already gone

    def abort_stale_uploads(self, older_than: float) -> int:
        """Abort multipart uploads with no part stored since ``older_than`` (Unix time), and
        remove staging objects left from then; return how many (``kiseki gc``: parts nobody
        will join still cost storage)."""
        aborted = 0
        incoming = f"{self.prefix}incoming/"
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=incoming)
        for page in pages:
            for upload in page.get("Uploads", []):
                parts = self._parts(upload["Key"], upload["UploadId"])
                last = max([upload["Initiated"]] + [p["LastModified"] for p in parts])
                if last.timestamp() < older_than:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                       UploadId=upload["UploadId"])
                    aborted += 1
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=incoming):
            for obj in page.get("Contents", []):
                if obj["LastModified"].timestamp() < older_than:
                    self.client.delete_object(Bucket=self.bucket, Key=obj["Key"])
                    aborted += 1
        return aborted

    def put_chunks(self, sha: str, chunks: Iterable[bytes], max_bytes: int | None = None) -> int:
        upload = self.begin(sha, max_bytes)
        try:
            for chunk in chunks:
                upload.write(chunk)
            return upload.commit()
        except BaseException:
            upload.abort()
            raise

    def put_file(self, sha: str, source: str) -> int:
        with open(source, "rb") as fh:
            return self.put_chunks(sha, iter(lambda: fh.read(CHUNK), b""))

    def put_bytes(self, payload: bytes) -> str:
        sha = hashlib.sha256(payload).hexdigest()
        self.put_chunks(sha, [payload])
        return sha

    def adopt(self, sha: str, source: str) -> int:
        """Put an already verified local file (a completed resumable upload) into the bucket."""
        from botocore.exceptions import BotoCoreError, ClientError

        size = os.path.getsize(source)
        try:
            with open(source, "rb") as fh:
                self.client.put_object(Bucket=self.bucket, Key=self.key(sha), Body=fh,
                                       ChecksumSHA256=_b64(sha))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"object store refused blob {sha}: {exc}") from exc
        os.unlink(source)
        return size

    def remove(self, sha: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha))

    def listing(self) -> Iterator[tuple[str, int, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                name = obj["Key"][len(self.prefix):]
                if _SHA256.fullmatch(name):
                    yield name, int(obj["Size"]), obj["LastModified"].timestamp()


class _S3Upload(_HashedSpool):
    """An upload received by the server: spooled to a local temporary file while hashed, then
    put to the bucket with its sha256 checksum."""

    def __init__(self, store: S3BlobStore, sha: str, max_bytes: int | None) -> None:
        self.store, self.sha, self.max_bytes = store, check_digest(sha), max_bytes
        self.size = 0
        self.digest = hashlib.sha256()
        self.out = tempfile.NamedTemporaryFile(dir=store.spool_dir, prefix=".upload-",
                                               delete=False)

    def commit(self) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        self.out.close()
        try:
            if self.digest.hexdigest() != self.sha:
                raise BlobMismatchError(
                    f"uploaded bytes have sha256 {self.digest.hexdigest()}, not {self.sha}; "
                    "the upload was corrupted or the id is wrong")
            with open(self.out.name, "rb") as fh:
                self.store.client.put_object(Bucket=self.store.bucket,
                                             Key=self.store.key(self.sha), Body=fh,
                                             ChecksumSHA256=_b64(self.sha))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"object store refused blob {self.sha}: {exc}") from exc
        finally:
            self.abort()
        return self.size

    def abort(self) -> None:
        if not self.out.closed:
            self.out.close()
        try:
            os.unlink(self.out.name)
        except OSError:
            pass


def _hex(b64: str) -> str:
    import base64

    return base64.b64decode(b64.split("-")[0]).hex()


def _b64(sha: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(sha)).decode()


def make_blob_store(blob_dir: str | None, blob_url: str | None = None,
                    endpoint_url: str | None = None) -> LocalBlobStore | S3BlobStore | None:
    """The store for ``blob_url`` (``s3://bucket/prefix``), else ``<blob_dir>/blobs``."""
    if blob_url:
        return S3BlobStore(blob_url, endpoint_url=endpoint_url,
                           spool_dir=os.path.join(blob_dir, "upload-spool") if blob_dir
                           else None)
    return LocalBlobStore(os.path.join(blob_dir, "blobs")) if blob_dir else None


class PartialUploads:
    """Resumable uploads received in parts (``Content-Range``), kept on the server's disk under
    ``folder/<sha256>`` until complete, so an upload interrupted by a dropped connection or a
    server restart continues from the last byte received (R10)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def path(self, sha: str) -> str:
        return os.path.join(self.folder, check_digest(sha))

    def received(self, sha: str) -> int:
        try:
            return os.path.getsize(self.path(sha))
        except OSError:
            return 0

    @contextlib.contextmanager
    def lock(self, sha: str) -> Iterator[None]:
        """One part of one blob at a time (across server workers: a file lock)."""
        import fcntl

        os.makedirs(self.folder, exist_ok=True)
        fd = os.open(self.path(sha) + ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:  # never wait: the server's event loop must not block on a part in flight
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PartOffsetError(self.received(sha), busy=True) from None
            yield
        finally:
            os.close(fd)

    def open_part(self, sha: str, start: int) -> BinaryIO:
        """The partial file opened to append a part starting at byte ``start`` (which must be
        what was received so far)."""
        os.makedirs(self.folder, exist_ok=True)
        have = self.received(sha)
        if start != have:
            raise PartOffsetError(have)
        return open(self.path(sha), "ab")

    def append(self, sha: str, start: int, chunks: Iterable[bytes]) -> int:
        """Write a part starting at byte ``start``; return the bytes received in all."""
        with self.lock(sha):
            out = self.open_part(sha, start)
            with out:
                for chunk in chunks:
                    out.write(chunk)
            return self.received(sha)

    def finish(self, sha: str, store: Any) -> int:
        """Verify the complete upload's digest and hand it to the blob store."""
        path = self.path(sha)
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha:
            os.unlink(path)
            raise BlobMismatchError(f"uploaded parts have sha256 {digest.hexdigest()}, not "
                                    f"{sha}; the upload was corrupted, start it again")
        size = int(store.adopt(sha, path))
        try:
            os.unlink(path + ".lock")
        except OSError:
            pass
        return size


class PartOffsetError(ValidationError):
    """A part that does not start where the received bytes end."""

    def __init__(self, received: int, busy: bool = False) -> None:
        super().__init__(
            "another part of this upload is being received; retry shortly" if busy else
            f"part does not start at byte {received}, the bytes received so far; resume from "
            "there")
        self.received = received
