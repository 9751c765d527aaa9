"""The run log: an append-only file that is the queue between ``log()`` and the store.

Layout::

    header   b"KISEKI-RUNLOG <version> " + JSON object + b"\\n"
    frame*   MAGIC (2 bytes) | length (u32 LE) | crc32 of payload (u32 LE) | payload

A payload is one msgpack-encoded :class:`kiseki.core.records.Entry`. Each ``append`` is one
``os.write`` of one whole frame (``append_many`` one write of several), so a SIGKILL after it
returns loses nothing. The reader
checks every frame and, on damage, scans forward to the next frame that checks out: it
returns every intact record before and after a torn or corrupt stretch and counts what it
skipped (reliability R04). A frame cut short at the end of a file that is still being
written is not damage; it is read on the next call.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any

from kiseki.core.records import LOG_FORMAT_VERSION, Record, decode_entry, encode_entry

HEADER_PREFIX = b"KISEKI-RUNLOG "
MAGIC = b"\xa7\x4b"
_FRAME = struct.Struct("<2sII")
FRAME_OVERHEAD = _FRAME.size
MAX_PAYLOAD = 256 * 1024 * 1024
_READ_CHUNK = 8 * 1024 * 1024


class RunLogWriter:
    """Appends records to a run log. Thread-safe; one ``os.write`` per call.

    If the disk refuses a write (full, quota), records wait in a bounded memory buffer and are
    written when the disk accepts them again; past the bound they are dropped and counted
    (reliability R12). The training loop never sees an exception from here.
    """

    def __init__(self, path: str, header: dict[str, Any], *, start_seq: int = 0,
                 max_pending_bytes: int = 64 * 1024 * 1024) -> None:
        self.path = path
        # reentrant: the SIGTERM handler appends the Finish record on the main thread, which
        # may have been interrupted inside append() (R23)
        self._lock = threading.RLock()
        self._seq = start_seq
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._max_pending = max_pending_bytes
        self.dropped = 0
        self.write_errors = 0
        self.last_error: OSError | None = None
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        if os.fstat(self._fd).st_size == 0:
            line = HEADER_PREFIX + f"{LOG_FORMAT_VERSION} ".encode() + json.dumps(header).encode()
            os.write(self._fd, line + b"\n")

    @property
    def seq(self) -> int:
        """Sequence number of the last appended record."""
        return self._seq

    def append(self, record: Record) -> int:
        """Append one record; return its sequence number."""
        with self._lock:
            self._seq += 1
            payload = encode_entry(self._seq, record)
            self._write(_FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload)
            return self._seq

    def append_many(self, records: list[Record]) -> int:
        """Append records with one ``os.write`` (one ``log()`` call's metrics and media
        references); return the sequence number of the last one."""
        with self._lock:
            frames = []
            for record in records:
                self._seq += 1
                payload = encode_entry(self._seq, record)
                frames.append(_FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)))
                frames.append(payload)
            self._write(b"".join(frames), len(records))
            return self._seq

    def _write(self, frame: bytes, records: int = 1) -> None:
        if self._pending and not self._drain_pending():
            self._keep(frame, records)
            return
        try:
            written = os.write(self._fd, frame)
            if written != len(frame):  # only on a nearly full disk: finish the frame
                self._write_all(memoryview(frame)[written:])
        except OSError as exc:
            self._on_error(exc)
            self._keep(frame, records)

    def _write_all(self, data: memoryview) -> None:
        while data:
            data = data[os.write(self._fd, data):]

    def _keep(self, frame: bytes, records: int = 1) -> None:
        if self._pending_bytes + len(frame) > self._max_pending:
            self.dropped += records
            return
        self._pending.append(frame)
        self._pending_bytes += len(frame)

    def _drain_pending(self) -> bool:
        try:
            while self._pending:
                self._write_all(memoryview(self._pending[0]))
                self._pending_bytes -= len(self._pending.pop(0))
        except OSError as exc:
            self._on_error(exc)
            return False
        return True

    def _on_error(self, exc: OSError) -> None:
        self.write_errors += 1
        self.last_error = exc

    def flush_pending(self) -> int:
        """Try once more to write buffered records; return how many are still buffered."""
        with self._lock:
            self._drain_pending()
            return len(self._pending)

    def close(self) -> None:
        with self._lock:
            self._drain_pending()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


@dataclass
class ReadStats:
    """What a reader met besides intact records."""

    records: int = 0
    skipped_bytes: int = 0
    corrupt_frames: int = 0
    unknown_records: int = 0
    torn_tail_bytes: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (after seq, before seq)


@dataclass
class LogEntry:
    seq: int
    record: Record | None  # None: a record type this SDK version does not know
    payload: bytes


class RunLogReader:
    """Reads a run log incrementally and tolerantly. Never raises on damaged content."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.header: dict[str, Any] | None = None
        self.version: int | None = None
        self.offset = 0
        self.stats = ReadStats()
        self._last_seq = 0
        self._damaged_since: int | None = None

    def read_header(self) -> dict[str, Any] | None:
        """Parse the header line; returns None while it is not fully written yet."""
        if self.header is not None:
            return self.header
        with open(self.path, "rb") as fh:
            line = fh.readline(64 * 1024)
        if not line.endswith(b"\n") or not line.startswith(HEADER_PREFIX):
            return None
        try:
            version_text, _, body = line[len(HEADER_PREFIX):].partition(b" ")
            self.version = int(version_text)
            self.header = json.loads(body)
        except ValueError:
            return None
        self.offset = len(line)
        return self.header

    def read(self, final: bool = False, max_bytes: int = _READ_CHUNK) -> list[LogEntry]:
        """Return the intact entries written since the last call.

        Args:
            final: the writer is gone; an incomplete frame at the end counts as torn.
            max_bytes: read at most about this much of the file per call.
        """
        if self.header is None and self.read_header() is None:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(max_bytes)
            at_eof = len(data) < max_bytes or not fh.read(1)
            if not at_eof:
                needed = self._frame_length(data)
                if needed > len(data):  # one frame larger than the read size
                    fh.seek(self.offset)
                    data = fh.read(needed)
                    # a length claiming bytes past the end of the file is damage once the
                    # writer is gone: let the parser resync instead of stopping here
                    at_eof = len(data) < needed or not fh.read(1)
        entries: list[LogEntry] = []
        consumed = self._parse(data, entries, damaged_tail=final and at_eof)
        if final and at_eof and consumed < len(data):
            self.stats.torn_tail_bytes += len(data) - consumed
            self._mark_damage(len(data) - consumed)
            consumed = len(data)
        self.offset += consumed
        return entries

    @staticmethod
    def _frame_length(data: bytes) -> int:
        if len(data) < FRAME_OVERHEAD:
            return 0
        magic, length, _ = _FRAME.unpack_from(data, 0)
        return FRAME_OVERHEAD + length if magic == MAGIC and length <= MAX_PAYLOAD else 0

    def read_all(self, final: bool = True) -> list[LogEntry]:
        """Read everything from the current position to the end."""
        out: list[LogEntry] = []
        while True:
            before = self.offset
            out.extend(self.read(final=final))
            if self.offset == before:
                return out

    def _parse(self, data: bytes, entries: list[LogEntry], damaged_tail: bool) -> int:
        pos = 0
        size = len(data)
        view = memoryview(data)
        while pos + FRAME_OVERHEAD <= size:
            magic, length, crc = _FRAME.unpack_from(data, pos)
            if magic != MAGIC or length > MAX_PAYLOAD:
                pos = self._resync(data, pos)
                continue
            end = pos + FRAME_OVERHEAD + length
            if end > size:
                if not damaged_tail:
                    break  # still being written, or the rest comes with the next read
                # the writer is gone: a frame claiming bytes past the end is a torn or
                # corrupt length; intact frames may still follow it
                pos = self._resync(data, pos)
                continue
            payload = bytes(view[pos + FRAME_OVERHEAD:end])
            if zlib.crc32(payload) != crc:
                self.stats.corrupt_frames += 1
                pos = self._resync(data, pos)
                continue
            try:
                seq, record = decode_entry(payload)
            except Exception:  # noqa: BLE001 - any decoding failure is damage, never a crash
                self.stats.corrupt_frames += 1
                pos = self._resync(data, pos)
                continue
            self._accept(seq, record, payload, entries)
            pos = end
        return pos

    def _accept(self, seq: int, record: Record | None, payload: bytes,
                entries: list[LogEntry]) -> None:
        if self._damaged_since is not None:
            self.stats.gaps.append((self._last_seq, seq))
            self._damaged_since = None
        if record is None:
            self.stats.unknown_records += 1
        self.stats.records += 1
        self._last_seq = max(self._last_seq, seq)
        entries.append(LogEntry(seq, record, payload))

    def _resync(self, data: bytes, pos: int) -> int:
        nxt = data.find(MAGIC, pos + 1)
        new_pos = nxt if nxt >= 0 else max(pos + 1, len(data) - len(MAGIC) + 1)
        self._mark_damage(new_pos - pos)
        return new_pos

    def _mark_damage(self, nbytes: int) -> None:
        self.stats.skipped_bytes += nbytes
        if self._damaged_since is None:
            self._damaged_since = self._last_seq
