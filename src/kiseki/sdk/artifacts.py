"""Artifacts: versioned datasets, models and results, with lineage recorded as you use them.

Shaped like wandb's::

    art = kiseki.Artifact("shapes", type="dataset", metadata={"images": 128})
    art.add_dir("data/")
    run.log_artifact(art, aliases=["best"])          # v0, v1, ...: a new version only on change
    data = run.use_artifact("shapes:latest")         # records the edge dataset -> this run
    path = data.download()                           # cached by content, verified by sha256

Files are content-addressed (sha256): a file shared by many versions is stored and uploaded
once. ``log_artifact`` copies the files into the run folder, hashing while copying (so a file
rewritten in place after logging keeps its logged content), and appends one record to the
run log; the sender uploads
the blobs before that record, and the server commits the version only when every file is
there. ``artifact.wait()`` waits for the commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kiseki.core.errors import NotFoundError, UsageError, ValidationError
from kiseki.core.names import (
    check_alias, check_artifact_name, check_artifact_path, check_artifact_type,
    check_reference_uri, parse_artifact_ref,
)
from kiseki.core.values import sanitize

CHUNK = 1024 * 1024


def _say(message: str) -> None:
    from kiseki.sdk.run import warn

    warn(message)


def file_sha256(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


@dataclass
class ArtifactEntry:
    """One file of an artifact: stored by content (``sha256``) or a reference (``ref``)."""

    path: str
    size: int
    sha256: str | None = None
    local_path: str | None = None
    ref: str | None = None
    ref_digest: str | None = None


class Artifact:
    """A versioned set of files with metadata (a dataset, a model, predictions...).

    Args:
        name: letters, digits, ``_ . -`` (``:`` and ``/`` are reserved for references).
        type: e.g. ``dataset``, ``model``, ``predictions``.
        description: free text.
        metadata: JSON-able dict shown with every version.
        tags: free labels of the version (``["augmented"]``); logging the same content again
            with new tags adds them to the existing version.
    """

    def __init__(self, name: str, type: str, description: str | None = None,
                 metadata: dict[str, Any] | None = None,
                 tags: list[str] | None = None) -> None:
        self.name = check_artifact_name(name)
        self.type = check_artifact_type(type)
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.tags: list[str] = [str(t) for t in (tags or [])]
        self._entries: dict[str, ArtifactEntry] = {}
        self._info: dict[str, Any] | None = None  # the committed version, once known
        self._backend: Any = None
        self._project: str | None = None
        self._client_id: str | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- building a version ---------------------------------------------------------------------
    def _check_draft(self) -> None:
        if self._info is not None or self._client_id is not None:
            raise UsageError(f"artifact {self.name} is logged; change a copy made with "
                             "artifact.new_draft()")

    def add_file(self, local_path: str, name: str | None = None) -> ArtifactEntry:
        """Add one file (hashed now); ``name`` is its path inside the artifact."""
        self._check_draft()
        local_path = os.fspath(local_path)
        path = check_artifact_path(name or os.path.basename(local_path))
        info = os.stat(local_path)  # follows a symlink given explicitly by the caller
        if not stat.S_ISREG(info.st_mode):
            raise ValidationError(f"{local_path!r} is not a regular file (FIFO, device or "
                                  "directory); add_dir() adds folders")
        sha, size = file_sha256(local_path)
        entry = ArtifactEntry(path=path, size=size, sha256=sha, local_path=local_path)
        self._entries[path] = entry
        return entry

    def add_dir(self, local_path: str, name: str | None = None) -> int:
        """Add every regular file under ``local_path`` (as ``name/relative/path``).

        Symlinks are followed only when they point inside the folder; links out of it, and
        FIFOs, sockets and devices, are skipped with one warning (I09). Returns the count.
        """
        self._check_draft()
        root = os.path.realpath(os.fspath(local_path))
        if not os.path.isdir(root):
            raise ValidationError(f"{local_path!r} is not a folder; add_file() adds one file")
        prefix = check_artifact_path(name) if name else ""
        skipped: list[str] = []
        added = 0
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs.sort()
            for fname in sorted(files) + [d for d in dirs if os.path.islink(
                    os.path.join(folder, d))]:
                full = os.path.join(folder, fname)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                real = os.path.realpath(full)
                if os.path.islink(full) and not (real == root or real.startswith(root + os.sep)):
                    skipped.append(f"{rel} (link out of the folder)")
                    continue
                try:
                    mode = os.stat(real).st_mode
                except OSError:
                    skipped.append(f"{rel} (broken link)")
                    continue
                if not stat.S_ISREG(mode):
                    if not stat.S_ISDIR(mode):
                        skipped.append(f"{rel} (not a regular file)")
                    continue
                self.add_file(real, f"{prefix}/{rel}" if prefix else rel)
                added += 1
        if skipped:
            _say(f"add_dir({local_path!r}): skipped {len(skipped)} entr(y/ies): "
                 f"{', '.join(skipped[:5])}")
        return added

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "w",
                 encoding: str | None = None) -> Iterator[Any]:
        """Write a new file straight into the artifact::

            with art.new_file("labels.json") as f:
                json.dump(labels, f)
        """
        self._check_draft()
        path = check_artifact_path(name)
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kiseki-artifact-")
        local = os.path.join(self._tmp.name, uuid.uuid4().hex)
        with open(local, mode, encoding=encoding if "b" not in mode else None) as fh:
            yield fh
        self.add_file(local, path)

    def add_reference(self, uri: str, name: str | None = None,
                      checksum: bool = True) -> ArtifactEntry:
        """Record a file that stays where it is (``file://``, ``http(s)://``, ``s3://``), by
        checksum or ETag; its content is not copied."""
        self._check_draft()
        from urllib.parse import unquote, urlparse

        parsed = urlparse(check_reference_uri(uri))
        path = check_artifact_path(name or (os.path.basename(parsed.path.rstrip("/"))
                                            or parsed.netloc))
        digest, size = None, 0
        if parsed.scheme == "file":
            local = unquote(parsed.path)
            if not os.path.isfile(local):
                raise ValidationError(f"reference {uri!r} is not a file")
            if checksum:
                digest, size = file_sha256(local)
            else:
                size = os.path.getsize(local)
        elif checksum and parsed.scheme in ("http", "https"):
            import httpx

            try:
                head = _head_http(uri)
            except httpx.HTTPError as exc:
                raise ValidationError(f"reference {uri!r} cannot be reached: {exc}") from exc
            digest = (head.headers.get("etag") or "").strip('"') or None
            size = int(head.headers.get("content-length") or 0)
        elif checksum and parsed.scheme == "s3":
            digest, size = _s3_head(parsed.netloc, parsed.path.lstrip("/"))
        entry = ArtifactEntry(path=path, size=size, ref=uri, ref_digest=digest)
        self._entries[path] = entry
        return entry

    def add(self, obj: Any, name: str) -> ArtifactEntry:
        """Add a :class:`kiseki.Table` (as ``name.table.json``, images as PNG files beside it)
        or a :class:`kiseki.Image` (as ``name.png``)."""
        self._check_draft()
        import json

        from kiseki.core.values import to_json_safe
        from kiseki.sdk import media

        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kiseki-artifact-")
        blobs = media.BlobWriter(os.path.join(self._tmp.name, "blobs"))
        if isinstance(obj, media.Table):
            desc, _ = media.encode_table(obj, blobs)
            table_sha = desc["sha256"]
            import msgspec

            with open(os.path.join(blobs.folder, table_sha), "rb") as fh:
                payload = msgspec.msgpack.decode(fh.read())
            for sha in set(blobs.written) - {table_sha}:
                self.add_file(os.path.join(blobs.folder, sha), f"media/{sha}.png")
            target = f"{name}.table.json"
            with self.new_file(target) as fh:
                json.dump(to_json_safe(payload), fh)
            return self._entries[target]
        if isinstance(obj, media.Image):
            desc, _ = media.encode_image(obj, blobs)
            return self.add_file(os.path.join(blobs.folder, desc["sha256"]), f"{name}.png")
        raise ValidationError(f"add() takes a kiseki.Table or kiseki.Image, got "
                              f"{type(obj).__name__}; use add_file() for files")

    def remove(self, name: str) -> None:
        self._check_draft()
        if self._entries.pop(name, None) is None:
            raise NotFoundError(f"artifact {self.name} has no file {name!r}")

    # -- what was stored --------------------------------------------------------------------------
    @property
    def version(self) -> str | None:
        return self._info["version"] if self._info else None

    @property
    def aliases(self) -> list[str]:
        return list(self._info["aliases"]) if self._info else []

    @property
    def digest(self) -> str | None:
        return self._info["digest"] if self._info else None

    @property
    def size(self) -> int:
        if self._info:
            return int(self._info["size"])
        return sum(e.size for e in self._entries.values())

    @property
    def project(self) -> str | None:
        return self._project

    @property
    def qualified_name(self) -> str:
        return f"{self._project}/{self.name}:{self.version or 'draft'}"

    def files(self) -> list[ArtifactEntry]:
        """The manifest (for a fetched version, read from the store)."""
        if self._info is not None and not self._entries:
            self._load_manifest()
        return sorted(self._entries.values(), key=lambda e: e.path)

    def get_entry(self, name: str) -> ArtifactEntry:
        for entry in self.files():
            if entry.path == name:
                return entry
        raise NotFoundError(f"artifact {self.qualified_name} has no file {name!r}")

    def _load_manifest(self) -> None:
        assert self._info is not None and self._backend is not None
        offset = 0
        while True:
            page = self._backend.artifact_files(self._project, self.name, self.version,
                                                offset=offset, limit=10_000)
            for f in page["files"]:
                self._entries[f["path"]] = ArtifactEntry(
                    path=f["path"], size=f["size"], sha256=f["sha256"], ref=f.get("ref"),
                    ref_digest=f.get("ref_digest"))
            offset += len(page["files"])
            if not page["files"] or offset >= page["total"]:
                return

    @classmethod
    def _fetched(cls, info: dict[str, Any], backend: Any) -> Artifact:
        art = cls.__new__(cls)
        art.name, art.type = info["name"], info["type"]
        art.description = info.get("description")
        art.metadata = dict(info.get("metadata") or {})
        art.tags = list(info.get("tags") or [])
        art._entries, art._info, art._backend = {}, info, backend
        art._project, art._client_id, art._tmp = info.get("project"), info.get("client_id"), None
        return art

    def wait(self, timeout: float = 120.0) -> Artifact:
        """Wait until the logged version is committed (its files uploaded and verified)."""
        if self._info is not None:
            return self
        if self._client_id is None or self._backend is None:
            raise UsageError("wait() is for an artifact passed to run.log_artifact()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self._backend.artifact_by_client_id(self._project, self._client_id)
            if info is not None:
                self._info = info
                return self
            time.sleep(0.1)
        raise NotFoundError(f"artifact {self.name} was not committed within {timeout:g}s "
                            "(still uploading, or the server refused it: see the run's log)")

    def new_draft(self) -> Artifact:
        """A new draft with the same files and metadata: change a few files of a big
        artifact; unchanged files are not sent again."""
        draft = Artifact(self.name, self.type, self.description, dict(self.metadata),
                         list(self.tags))
        for entry in self.files():
            draft._entries[entry.path] = ArtifactEntry(
                path=entry.path, size=entry.size, sha256=entry.sha256,
                local_path=entry.local_path if self._info is None else None, ref=entry.ref,
                ref_digest=entry.ref_digest)
        return draft

    # -- downloading ------------------------------------------------------------------------------
    def download(self, root: str | None = None) -> str:
        """Put the files under ``root`` (default ``./artifacts/<name>:<version>``) and return
        it. Files come from the local cache (by sha256, verified) or are downloaded once."""
        if self._info is None:
            raise UsageError("download() is for a logged or fetched artifact; call wait() or "
                             "use_artifact() first")
        root = os.path.abspath(root or os.path.join("artifacts", f"{self.name}:{self.version}"))
        os.makedirs(root, exist_ok=True)
        cache = _cache_dir(self._backend)

        def cached_path(sha: str) -> str:
            return os.path.join(cache, sha[:2], sha)

        entries = self.files()
        fetch = {}  # sha -> entry, for blobs missing from the cache (or damaged there)
        for entry in entries:
            if entry.sha256 is None or entry.sha256 in fetch:
                continue
            target = _safe_join(root, entry.path)
            if os.path.isfile(target) and file_sha256(target)[0] == entry.sha256:
                continue
            cached = cached_path(entry.sha256)
            if not (os.path.isfile(cached) and file_sha256(cached)[0] == entry.sha256):
                fetch[entry.sha256] = entry
        # small files several to a request, big ones one by one, a few requests at once
        jobs: list[list[ArtifactEntry]] = []
        batch: list[ArtifactEntry] = []
        batch_bytes = 0
        for entry in fetch.values():
            if entry.size >= SMALL_FILE:
                jobs.append([entry])
                continue
            if batch and (batch_bytes + entry.size > BATCH_BYTES or len(batch) >= 500):
                jobs.append(batch)
                batch, batch_bytes = [], 0
            batch.append(entry)
            batch_bytes += entry.size
        if batch:
            jobs.append(batch)

        def fetch_job(job: list[ArtifactEntry]) -> None:
            if len(job) == 1 and job[0].size >= SMALL_FILE:
                self._download_blob(job[0], cached_path(str(job[0].sha256)))
                return
            got = dict(self._backend.blobs(self._project, [str(e.sha256) for e in job]))
            for entry in job:
                _store_verified(got.get(str(entry.sha256), b""), entry,
                                cached_path(str(entry.sha256)))

        def place(entry: ArtifactEntry) -> None:
            target = _safe_join(root, entry.path)
            if entry.sha256 is None:
                _fetch_reference(entry, target)
                return
            if os.path.isfile(target) and file_sha256(target)[0] == entry.sha256:
                return
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = f"{target}.{uuid.uuid4().hex[:8]}.kiseki-tmp"
            shutil.copyfile(cached_path(entry.sha256), tmp)  # a copy: edits stay out of the cache
            os.replace(tmp, target)

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4, thread_name_prefix="kiseki-download") as pool:
            list(pool.map(fetch_job, jobs))
        for entry in entries:
            place(entry)
        return root

    def _download_blob(self, entry: ArtifactEntry, cached: str) -> None:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        tmp = f"{cached}.{uuid.uuid4().hex[:8]}.part"
        self._backend.download_artifact_file(self._project, self.name, self.version,
                                             entry.path, tmp)
        sha, _ = file_sha256(tmp)
        if sha != entry.sha256:
            os.unlink(tmp)
            raise ValidationError(f"downloaded {entry.path!r} has sha256 {sha}, expected "
                                  f"{entry.sha256}; the download was corrupted, try again")
        os.replace(tmp, cached)

    def verify(self, root: str | None = None) -> None:
        """Check every downloaded file against its sha256; ValidationError lists mismatches."""
        root = os.path.abspath(root or os.path.join("artifacts", f"{self.name}:{self.version}"))
        bad = []
        for entry in self.files():
            if entry.sha256 is None:
                continue
            target = _safe_join(root, entry.path)
            if not os.path.isfile(target):
                bad.append(f"{entry.path} (missing)")
            elif file_sha256(target)[0] != entry.sha256:
                bad.append(f"{entry.path} (changed)")
        if bad:
            raise ValidationError(f"{len(bad)} file(s) of {self.qualified_name} under {root} do "
                                  f"not match: {', '.join(bad[:10])}")

    def delete(self) -> None:
        """Remove this version from listings (ConflictError while a registry alias holds it);
        its files are reclaimed by ``kiseki gc`` once nothing references them."""
        if self._info is None or self._backend is None:
            raise UsageError("delete() is for a logged or fetched version")
        self._backend.delete_artifact(str(self._project), self.name, str(self.version))
        self._info = {**self._info, "state": "deleted", "aliases": []}

    # -- lineage ----------------------------------------------------------------------------------
    def logged_by(self) -> Any:
        """The run that produced this version (a read-API run), or None."""
        from kiseki.sdk.api import PublicRun

        if not self._info or not self._info.get("logged_by"):
            return None
        return PublicRun(self._backend, self._backend.get_run(self._project,
                                                              self._info["logged_by"]))

    def used_by(self) -> list[Any]:
        """Runs that used this version."""
        from kiseki.sdk.api import PublicRun

        if not self._info:
            return []
        ids = self._backend.artifact_runs(self._project, self.name, self.version, "used")
        return [PublicRun(self._backend, self._backend.get_run(self._project, rid))
                for rid in ids]

    def __repr__(self) -> str:
        return f"<kiseki.Artifact {self.qualified_name} ({self.type})>"


SMALL_FILE = 1024 * 1024  # files below this are downloaded several to a request
BATCH_BYTES = 8 * 1024 * 1024


def _store_verified(payload: bytes, entry: ArtifactEntry, cached: str) -> None:
    if hashlib.sha256(payload).hexdigest() != entry.sha256:
        raise ValidationError(f"downloaded {entry.path!r} does not match its sha256; the "
                              "download was corrupted, try again")
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    tmp = f"{cached}.{uuid.uuid4().hex[:8]}.part"
    with open(tmp, "wb") as fh:
        fh.write(payload)
    os.replace(tmp, cached)


def _safe_join(root: str, path: str) -> str:
    check_artifact_path(path)
    target = os.path.abspath(os.path.join(root, *path.split("/")))
    if not target.startswith(root + os.sep):
        raise ValidationError(f"artifact path {path!r} leaves the download folder")
    return target


def _cache_dir(backend: Any) -> str:
    base = getattr(backend, "cache_dir", None) or os.path.join(
        os.path.expanduser("~"), ".kiseki", "cache")
    return os.path.join(base, "artifact-blobs")


def _fetch_reference(entry: ArtifactEntry, target: str) -> None:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(entry.ref or "")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if parsed.scheme == "file":
        shutil.copyfile(unquote(parsed.path), target)
        if entry.ref_digest and file_sha256(target)[0] != entry.ref_digest:
            raise ValidationError(f"reference {entry.ref} changed since it was logged")
    elif parsed.scheme in ("http", "https"):
        _fetch_http(entry.ref or "", target)
    elif parsed.scheme == "s3":
        import boto3  # type: ignore[import-not-found]

        boto3.client("s3").download_file(parsed.netloc, parsed.path.lstrip("/"), target)


@contextlib.contextmanager
def _checked_response(method: str, url: str, timeout: float, hops: int = 5) -> Iterator[Any]:
    """The streamed answer to ``method url`` after at most ``hops`` redirects, followed by
    hand so every address on the way is checked: link-local addresses (cloud metadata services
    such as 169.254.169.254) are never reached, whoever logged the reference (I18)."""
    import httpx

    for _ in range(hops + 1):
        _check_reference_host(url)
        with httpx.stream(method, url, follow_redirects=False, timeout=timeout) as resp:
            if not (resp.is_redirect and "location" in resp.headers):
                yield resp
                return
            url = str(resp.url.join(resp.headers["location"]))
        if not url.startswith(("http://", "https://")):
            raise ValidationError(f"reference redirects to {url[:100]!r}, which is not "
                                  "http(s); not followed")
    raise ValidationError(f"reference {url[:200]} redirects more than {hops} times")


def _head_http(url: str) -> Any:
    """HEAD a reference (redirects checked as in :func:`_checked_response`)."""
    with _checked_response("HEAD", url, timeout=30) as resp:
        return resp


def _fetch_http(url: str, target: str) -> None:
    """GET a reference into ``target`` (redirects checked as in :func:`_checked_response`)."""
    with _checked_response("GET", url, timeout=60) as resp:
        if resp.status_code != 200:  # named by the address that answered, after redirects
            raise ValidationError(f"reference {str(resp.url)[:200]} answered HTTP "
                                  f"{resp.status_code}; "
                                  "fetch it yourself or log the file instead")
        with open(target, "wb") as fh:
            for chunk in resp.iter_bytes():
                fh.write(chunk)


def _check_reference_host(url: str) -> None:
    import ipaddress
    import socket
    from urllib.parse import urlparse

    host = urlparse(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return  # not resolvable here (a proxy may resolve it): nothing local to protect
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        mapped = getattr(address, "ipv4_mapped", None)
        address = mapped or address  # ::ffff:169.254.169.254 is 169.254.169.254
        if address.is_link_local or address.is_unspecified or str(address) == "fd00:ec2::254":
            raise ValidationError(
                f"reference {url[:200]} resolves to {address}, a link-local or unspecified "
                "address (where cloud metadata services answer); kiseki does not fetch it")


def _s3_head(bucket: str, key: str) -> tuple[str | None, int]:
    try:
        import boto3
    except ImportError:
        raise ValidationError("s3:// references need boto3: pip install boto3") from None
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    return str(head.get("ETag", "")).strip('"') or None, int(head.get("ContentLength", 0))


def stage(artifact: Artifact, folder: str) -> tuple[list[list[Any]], list[list[Any]], list[str]]:
    """Copy the artifact's local files into ``folder`` by sha256, hashing while copying, and
    return the manifest rows and the digests to upload.

    A copy, not a link: a training loop that rewrites ``ckpt.pt`` in place after logging it
    must not change what was logged. A file that changed since ``add_file`` is logged as it is
    now (its digest and size are taken from the copy)."""
    os.makedirs(folder, exist_ok=True)
    files, refs, blobs = [], [], []
    for entry in sorted(artifact._entries.values(), key=lambda e: e.path):
        if entry.sha256 is None:
            refs.append([entry.path, entry.ref, entry.ref_digest, entry.size])
            continue
        if entry.local_path is not None:
            entry.sha256, entry.size = _copy_hashed(entry.local_path, folder, entry.sha256)
            blobs.append(entry.sha256)
        files.append([entry.path, entry.sha256, entry.size])
    return files, refs, sorted(set(blobs))


def _copy_hashed(source: str, folder: str, expected: str) -> tuple[str, int]:
    if os.path.isfile(os.path.join(folder, expected)) and file_sha256(source)[0] == expected:
        return expected, os.path.getsize(source)  # staged before (a re-log of the same file)
    tmp = os.path.join(folder, f".stage-{uuid.uuid4().hex}")
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(tmp, "wb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    sha = digest.hexdigest()
    os.replace(tmp, os.path.join(folder, sha))
    return sha, size


def make_record(artifact: Artifact, folder: str, aliases: list[str]) -> Any:
    from kiseki.core import records as rec

    files, refs, blobs = stage(artifact, folder)
    if not files and not refs:
        raise ValidationError(f"artifact {artifact.name} has no files; add some with add_file, "
                              "add_dir, new_file or add_reference")
    clean_aliases = [check_alias(a) for a in aliases if a != "latest"]
    return rec.ArtifactLogged(
        client_id=uuid.uuid4().hex, name=artifact.name, type=artifact.type, ts=time.time(),
        files=files, references=refs, blobs=blobs, aliases=clean_aliases,
        description=artifact.description, metadata=sanitize(artifact.metadata),
        tags=[str(t)[:64] for t in artifact.tags])


def parse_ref(ref: str, project: str | None) -> tuple[str, str, str]:
    return parse_artifact_ref(ref, project)
