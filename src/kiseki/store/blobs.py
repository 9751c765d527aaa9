"""Content-addressed blob storage: the local folder store (the default).

A blob's name is the sha256 of its bytes, computed and verified here, never taken from a
client path (I08). Writes go to a temporary file first and are renamed into place once the
digest matches, so a reader never sees a partial blob and an interrupted upload leaves
nothing behind but a temporary file that the next upload replaces.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from typing import BinaryIO

from kiseki.core.errors import StorageError, ValidationError

_SHA256 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1024 * 1024


def check_digest(sha: str) -> str:
    """``sha`` if it is a lowercase hex sha256, else a ValidationError naming it."""
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise ValidationError(f"blob id {str(sha)[:80]!r} is not a lowercase hex sha256 digest")
    return sha


class BlobMismatchError(ValidationError):
    """Uploaded bytes whose digest is not the one claimed."""


class LocalBlobStore:
    """Blobs as files under ``root/ab/cd/<sha256>``."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, sha: str) -> str:
        check_digest(sha)
        return os.path.join(self.root, sha[:2], sha[2:4], sha)

    def exists(self, sha: str) -> bool:
        return os.path.isfile(self.path(sha))

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


class BlobUpload:
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

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise ValidationError(f"blob is larger than {self.max_bytes:,} bytes")
        self.digest.update(chunk)
        self.out.write(chunk)

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
