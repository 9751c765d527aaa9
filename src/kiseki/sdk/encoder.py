"""The media encoder: named threads that turn logged images and tables into blobs.

``log()`` appends a :class:`~kiseki.core.records.Media` reference record and calls
:meth:`MediaEncoder.submit`; an encoder thread encodes the value (PNG/JPEG, mask class counts, table
rows), writes content-addressed blobs into the run folder's ``media/`` and appends a
:class:`~kiseki.core.records.MediaStored` record. The queue is bounded: when encoding falls
behind, ``submit`` waits (back-pressure) up to ``BLOCK_S`` seconds, then drops the value with
a warning rather than stall training for good. Values still queued when the process dies are
reported as missing by the server and the UI; scalars are unaffected.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from kiseki.core import records as rec

MAX_QUEUE = 16  # values waiting: bounds the memory kept alive by references to user arrays
BLOCK_S = 30.0
POLL_S = 0.005  # how soon the encoder looks again after finding work
IDLE_POLL_S = 0.05  # the longest wait: each look that finds nothing doubles the wait up to it
_LIVE_LOCK = threading.Lock()


class MediaEncoder:
    """Encodes queued media values on its own threads (``kiseki-media``, ``kiseki-media-1``,
    ...): PNG compression releases the GIL, so several threads keep up with a fast GPU loop
    that logs an image every step, on a machine with cores to spare.

    The queue is a deque that the encoder polls instead of a ``queue.Queue``: waking a
    sleeping thread from ``log()`` hands it the GIL in the middle of the training step and
    costs ~100 us there, appending costs ~0.1 us. The poll backs off (5 ms after finding a
    value, doubling up to 50 ms while it finds none): each wake-up takes the GIL from the
    training thread for a moment, and a loop logging an image every 50 ms paid ~15 us more
    per ``log()`` with a steady 5 ms poll. A queue of 16 absorbs a 50 ms wait below 320
    values/s, and a loop that logs faster finds the encoder polling at 5 ms.
    """

    def __init__(self, media_dir: str, emit: Callable[[Any], None],
                 warn: Callable[[str, str], None], threads: int = 0) -> None:
        self.media_dir = media_dir
        self._emit = emit
        self._warn = warn
        self._queue: deque[tuple[str, str, str, Any]] = deque()
        self._closed = False
        count = threads if threads > 0 else default_threads()
        self._busy = [0] * count  # per worker: a value taken from the queue, not yet stored
        self._live = count  # workers not yet returned (one only ends at close or shutdown)
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True,
                                          name="kiseki-media" if i == 0 else f"kiseki-media-{i}")
                         for i in range(count)]
        for thread in self._threads:
            thread.start()

    def _alive(self) -> bool:
        return self._live > 0

    def submit(self, media_id: str, key: str, kind: str, value: Any) -> bool:
        """Queue a value; when the queue is full, wait (back-pressure) up to ``BLOCK_S``, then
        drop it with a warning and a MediaStored error. Never raises."""
        queue = self._queue
        if not self._alive():
            self._emit(rec.MediaStored(media_id, {}, error="dropped: the media encoder stopped"))
            return False
        if len(queue) >= MAX_QUEUE:
            deadline = time.monotonic() + BLOCK_S
            while len(queue) >= MAX_QUEUE and self._alive():
                if time.monotonic() > deadline:
                    self._warn(f"log(): media encoding is {BLOCK_S:g}s behind; {key!r} dropped "
                               "at this step (log images less often or smaller)",
                               f"media-full:{key}")
                    self._emit(rec.MediaStored(media_id, {}, error="dropped: the encoder was "
                                                                  "too far behind"))
                    return False
                time.sleep(POLL_S)
        queue.append((media_id, key, kind, value))
        return True

    def pending(self) -> int:
        return len(self._queue) + sum(self._busy)

    def _loop(self, index: int) -> None:
        try:
            self._work(index)
        finally:
            with _LIVE_LOCK:
                self._live -= 1

    def _work(self, index: int) -> None:
        from kiseki.sdk import media

        busy = self._busy
        wait = IDLE_POLL_S
        while True:
            busy[index] = 1  # before taking a value, so pending() never misses one in flight
            try:
                media_id, key, kind, value = self._queue.popleft()
            except IndexError:
                busy[index] = 0
                if self._closed:
                    return
                time.sleep(wait)
                wait = min(wait * 2, IDLE_POLL_S)
                continue
            try:
                self._encode_one(media, media_id, key, kind, value)
            except Exception:  # noqa: BLE001 - this thread must outlive any one value
                pass
            finally:
                del value
                busy[index] = 0
                wait = POLL_S

    def _encode_one(self, media: Any, media_id: str, key: str, kind: str, value: Any) -> None:
        blobs = media.BlobWriter(self.media_dir)
        try:
            data, warnings = media.encode(kind, value, blobs)
            record = rec.MediaStored(media_id, data, sorted(set(blobs.written)), warnings[:50])
        except media.MediaError as exc:
            record = rec.MediaStored(media_id, {}, error=str(exc))
            warnings = [str(exc)]
        except Exception as exc:  # noqa: BLE001 - user data can fail in any library
            record = rec.MediaStored(media_id, {}, error=f"could not encode: {exc!r}")
            warnings = [record.error or ""]
        for text in warnings[:10]:
            self._warn(f"log(): {key!r}: {text}", f"media:{key}:{text[:60]}")
        self._emit(record)

    def drain(self, timeout: float) -> int:
        """Wait until every queued value is encoded or ``timeout`` passes; return how many
        are still waiting."""
        deadline = time.monotonic() + timeout
        while self.pending() and self._alive() and time.monotonic() < deadline:
            time.sleep(POLL_S)
        return self.pending()

    def close(self) -> None:
        """Stop once the queue is empty (values still queued are reported missing)."""
        self._queue.clear()
        self._closed = True


def default_threads() -> int:
    """One encoder per spare core (the training loop keeps one), at least one, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may run on
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores - 1))


def media_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "media")
