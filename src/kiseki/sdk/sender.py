"""The sender: a small process that tails run logs and ships them to the sink.

Why a process and not a thread: decoding and ingesting 1M points costs seconds of Python
work; on a thread that work holds the training process's GIL and shows up directly in
``log()``'s p99 (the interpreter hands the GIL back only every 5 ms). The run log is the
queue, so moving its reader out of the process changes nothing for ``log()``.

Protocol on the pipes (JSON lines):
  parent -> sender  {"op": "watch", "path": LOG}             tail a live log
                    {"op": "recover", "path": LOG}           sync a log left behind by a crash
                    {"op": "finish", "path": LOG, "seq": N}  the writer is done at seq N
  sender -> parent  {"op": "done", "path": LOG, "hwm": N, "pending": K, "error": ...}

When its stdin closes (the parent exited or died) the sender drains every log it knows,
then exits. It ignores SIGINT so a Ctrl-C of the training job does not cut the upload.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from kiseki.core import records as rec
from kiseki.core.errors import AuthError, KisekiError, ValidationError
from kiseki.sdk.runlog import LogEntry, RunLogReader
from kiseki.sdk.settings import Settings

BATCH_ENTRIES = 20_000
SMALL_BLOB = 1024 * 1024  # files below this are uploaded several to a request
BLOB_BATCH_BYTES = 8 * 1024 * 1024
BATCH_BYTES = 8 * 1024 * 1024
SYNCED_MARKER = "synced.json"
MISSING_TEXT = "the process ended before this value was stored"
# where a record's blobs wait in the run folder until they are uploaded
_BLOB_FOLDERS: dict[type, str] = {rec.MediaStored: "media", rec.ArtifactLogged: "artifacts"}


# ----------------------------------------------------------------------------------------------
# shipping one log: shared by the sender process and `kiseki sync`
# ----------------------------------------------------------------------------------------------

@dataclass
class LogShipper:
    """Reads one run log and sends its entries in order, batch by batch."""

    path: str
    sink: Any
    reader: RunLogReader = field(init=False)
    hwm: int = 0
    known_hwm: bool = False
    finished: bool = False  # a Finish record was read
    final_seq: int | None = None
    backlog: deque[LogEntry] = field(default_factory=deque)
    error: str | None = None
    fatal: bool = False
    live: bool = False  # a log being written now (its batches also signal liveness)
    uploaded: set[str] = field(default_factory=set)  # blobs this shipper has sent
    counted: set[str] = field(default_factory=set)  # blobs in the progress total already
    # called as on_progress(bytes_done, bytes_added) while files upload (kiseki sync's bar)
    on_progress: Any = None
    media_logged: set[str] = field(default_factory=set)  # media ids not stored (yet)
    media_failed: int = 0  # values the encoder refused (bad input, named in the log)
    media_lost: int = 0  # stored values whose files are gone from the run folder

    def media_missing(self) -> int:
        """Media values that will never be stored: logged, but the process ended before
        encoding them, or their files were removed."""
        return len(self.media_logged) + self.media_lost

    def __post_init__(self) -> None:
        self.reader = RunLogReader(self.path)

    @property
    def ident(self) -> tuple[str, str, str] | None:
        header = self.reader.read_header()
        if header is None:
            return None
        return header["project"], header["run_id"], header["stream"]

    def pull(self, final: bool) -> int:
        """Read newly written entries into the backlog; return how many."""
        entries = self.reader.read(final=final)
        for entry in entries:
            record = entry.record
            if isinstance(record, rec.Finish):
                self.finished = True
            elif type(record) is rec.Media and record.data is None:
                self.media_logged.add(record.media_id)
            elif type(record) is rec.MediaStored:
                self.media_logged.discard(record.media_id)
                folder = os.path.join(os.path.dirname(self.path), "media")
                if record.error:
                    self.media_failed += 1
                elif not all(os.path.isfile(os.path.join(folder, b)) for b in record.blobs):
                    self.media_lost += 1
        self.backlog.extend(entries)
        return len(entries)

    def push(self, deadline: float | None) -> int:
        """Send the backlog in batches; return the number of entries acknowledged."""
        ident = self.ident
        if ident is None or self.fatal:
            return 0
        project, run_id, stream = ident
        if not self.known_hwm:
            try:
                self.hwm = self.sink.send(project, run_id, stream, [], deadline, self.live).hwm
            except (AuthError, ValidationError) as exc:  # refused: stop, never retry (R08)
                self.fatal, self.error = True, str(exc)
                return 0
            self.known_hwm = True
        sent = 0
        while self.backlog:
            batch = self._next_batch()
            if not batch:
                continue
            try:
                self._upload_blobs(batch, deadline)
                result = self.sink.send(project, run_id, stream, batch, deadline, self.live)
            except (AuthError, ValidationError) as exc:
                self.fatal, self.error = True, str(exc)
                return sent
            self.hwm = max(self.hwm, result.hwm)
            for _ in batch:
                self.backlog.popleft()
            sent += len(batch)
        return sent

    def report_missing(self, deadline: float | None) -> int:
        """Tell the target which logged media values will never be stored (their writer is
        gone), so they show as missing at once. Sent as a side stream of this log with its
        own sequence numbers: idempotent, and the log file itself stays untouched."""
        ident = self.ident
        missing = sorted(self.media_logged)
        if ident is None or not missing or self.fatal:
            return 0
        from kiseki.sdk.runlog import LogEntry as Entry

        project, run_id, stream = ident
        entries = []
        for i, media_id in enumerate(missing, start=1):
            record = rec.MediaStored(media_id, {}, error=MISSING_TEXT, missing=True)
            entries.append(Entry(i, record, rec.encode_entry(i, record)))
        self.sink.send(project, run_id, f"{stream[:40]}.missing", entries, deadline, False)
        return len(missing)

    def _upload_blobs(self, batch: list[LogEntry], deadline: float | None) -> None:
        """Upload the files named by the batch's MediaStored and ArtifactLogged records before
        the records: the server keeps a value or commits a version only when every blob it
        needs is there. One request asks which blobs the target lacks; those go up in
        parallel (``sink.parallel`` at once). A file that is gone is skipped (the server then
        reports that value missing or refuses that version, never a failed sync)."""
        run_dir = os.path.dirname(self.path)
        todo: dict[str, str] = {}
        for entry in batch:
            record = entry.record
            kind = type(record)
            if entry.seq <= self.hwm or kind not in _BLOB_FOLDERS:
                continue
            folder = os.path.join(run_dir, _BLOB_FOLDERS[kind])
            for sha in record.blobs:  # type: ignore[union-attr]
                path = os.path.join(folder, sha)
                if sha not in self.uploaded and sha not in todo and os.path.isfile(path):
                    todo[sha] = path
        if not todo:
            return
        missing = self.sink.missing_blobs(sorted(todo), deadline) if len(todo) > 1 \
            else list(todo)
        sizes = {sha: os.path.getsize(todo[sha]) for sha in missing if os.path.isfile(todo[sha])}
        if self.on_progress is not None:  # each file counted once, also when retried
            self.on_progress(0, sum(n for sha, n in sizes.items() if sha not in self.counted))
            self.counted.update(sizes)
        # small files go several to a request (latency-bound), big ones one by one
        jobs: list[list[str]] = []
        group: list[str] = []
        group_bytes = 0
        for sha, size in sizes.items():
            if size >= SMALL_BLOB:
                jobs.append([sha])
                continue
            if group and (group_bytes + size > BLOB_BATCH_BYTES or len(group) >= 1000):
                jobs.append(group)
                group, group_bytes = [], 0
            group.append(sha)
            group_bytes += size
        if group:
            jobs.append(group)

        parted: dict[str, int] = {}  # bytes of a big file already reported part by part
        progress = self.on_progress
        # the HTTP sink tells each upload thread of every stored part (None: embedded store)
        parts_done = getattr(self.sink, "parts_done", None) if progress is not None else None

        def upload(job: list[str]) -> int:
            if len(job) == 1 and sizes[job[0]] >= SMALL_BLOB:
                sha = job[0]

                def part(n: int) -> None:
                    n = min(n, sizes[sha] - parted.get(sha, 0))  # a part sent again
                    parted[sha] = parted.get(sha, 0) + n
                    if n > 0 and progress is not None:
                        progress(n, 0)

                if parts_done is not None:
                    parts_done.hook = part
                try:
                    self.sink.put_blob(sha, todo[sha], deadline)
                finally:
                    if parts_done is not None:
                        parts_done.hook = None
                return max(0, sizes[sha] - parted.get(sha, 0))
            self.sink.put_blob_batch([(sha, todo[sha]) for sha in job], deadline)
            return sum(sizes[sha] for sha in job)

        workers = max(1, min(int(getattr(self.sink, "parallel", 1)), len(jobs)))
        if workers == 1:
            for job in jobs:
                done = upload(job)
                if self.on_progress is not None:
                    self.on_progress(done, 0)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers, thread_name_prefix="kiseki-upload") as pool:
                for done in pool.map(upload, jobs):
                    if self.on_progress is not None:
                        self.on_progress(done, 0)
        self.uploaded.update(todo)

    def _next_batch(self) -> list[LogEntry]:
        while self.backlog and self.backlog[0].seq <= self.hwm:
            self.backlog.popleft()  # already applied (a resumed or repeated sync)
        batch: list[LogEntry] = []
        size = 0
        for entry in self.backlog:
            if len(batch) >= BATCH_ENTRIES or size >= BATCH_BYTES:
                break
            batch.append(entry)
            size += len(entry.payload)
        return batch

    @property
    def last_seq(self) -> int:
        return self.backlog[-1].seq if self.backlog else self.hwm

    def pending(self) -> int:
        return len(self.backlog)

    def mark_synced(self, target: str) -> None:
        marker = os.path.join(os.path.dirname(self.path), SYNCED_MARKER)
        stats = self.reader.stats
        data = {"target": target, "hwm": self.hwm, "finished": self.finished,
                "skipped_bytes": stats.skipped_bytes, "unknown_records": stats.unknown_records,
                "gaps": stats.gaps}
        try:
            with open(marker, "w") as fh:
                json.dump(data, fh)
        except OSError:
            pass


def writer_alive(log_path: str) -> bool:
    """True while the process that writes ``log_path`` holds its lock."""
    import fcntl

    try:
        fd = os.open(log_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def is_synced(run_dir: str, target: str) -> bool:
    try:
        with open(os.path.join(run_dir, SYNCED_MARKER)) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return False
    return bool(data.get("target") == target and data.get("finished"))


# ----------------------------------------------------------------------------------------------
# the sender process
# ----------------------------------------------------------------------------------------------

class SenderLoop:
    """Main loop of the sender process."""

    def __init__(self, settings: Settings, out: Any) -> None:
        from kiseki.sdk.sinks import make_sink

        self.settings = settings
        self.sink = make_sink(settings)
        self.out = out
        self.shippers: dict[str, LogShipper] = {}
        self.finishing: dict[str, int] = {}
        self.live: set[str] = set()
        self.commands: deque[dict[str, Any]] = deque()
        self.parent_gone = threading.Event()
        self.wake = threading.Event()  # set by a new command: no waiting out an idle sleep
        self.last_heartbeat = 0.0
        self.warned: set[str] = set()
        self.drain_limit = max(30.0, float(settings.finish_timeout))
        self._out_lock = threading.Lock()  # upload threads report progress too

    def read_commands(self, stream: Any) -> None:
        for line in stream:
            try:
                self.commands.append(json.loads(line))
            except ValueError:
                continue
            self.wake.set()
        self.parent_gone.set()
        self.wake.set()

    def run(self) -> None:
        idle = 0.01
        last_progress = time.monotonic()
        while True:
            self._apply_commands()
            moved = self._step()
            self._heartbeat()
            now = time.monotonic()
            if moved:
                last_progress = now
            else:
                self.sink.idle()
            if self.parent_gone.is_set() and not self.commands:
                if self._all_drained():
                    break
                if now - last_progress > self.drain_limit:
                    # the training process is gone and the target stays unreachable: the
                    # logs stay on disk for `kiseki sync`; do not linger forever
                    self._log("giving up for now; the rest waits for `kiseki sync`")
                    break
            idle = 0.01 if moved else min(idle * 1.5, 0.25)
            self.wake.wait(idle)
            self.wake.clear()
        self.sink.close()

    def _apply_commands(self) -> None:
        while self.commands:
            cmd = self.commands.popleft()
            path = cmd.get("path", "")
            if cmd.get("op") in ("watch", "recover") and path not in self.shippers:
                shipper = self.shippers[path] = LogShipper(path, self.sink)
                if cmd["op"] == "watch":
                    shipper.on_progress = self._progress_reporter(path)
                    # a live log is a new stream (fresh UUID): nothing of it can be stored yet
                    shipper.known_hwm = True
                    shipper.live = True
                    self.live.add(path)
            elif cmd.get("op") == "finish":
                self.finishing[path] = int(cmd.get("seq", 0))
                self.live.discard(path)
                self.shippers.setdefault(path, LogShipper(path, self.sink))

    def _step(self) -> int:
        moved = 0
        for path, shipper in list(self.shippers.items()):
            # the writer is done once it asked to finish or no longer holds the log's lock
            done = path in self.finishing or not writer_alive(path)
            try:
                moved += shipper.pull(final=done)
                moved += shipper.push(deadline=time.monotonic() + 30)
            except KisekiError as exc:
                self._warn(path, f"sending paused: {exc}")
            except Exception as exc:  # noqa: BLE001 - the loop must survive anything (R03)
                self._warn(path, f"sender error: {exc!r}")
            self._maybe_done(path, shipper, done)
        return moved

    def _maybe_done(self, path: str, shipper: LogShipper, final: bool) -> None:
        if shipper.fatal:
            self._reply(path, shipper, error=shipper.error)
            return
        if path in self.finishing:
            target = self.finishing[path]
            if shipper.hwm >= target or (shipper.finished and not shipper.backlog):
                shipper.mark_synced(self.sink.target)
                self._reply(path, shipper)
        elif final and not shipper.backlog:  # final: the writer no longer holds the log
            if shipper.finished:
                shipper.mark_synced(self.sink.target)
            self.shippers.pop(path, None)

    def _progress_reporter(self, path: str) -> Any:
        """``on_progress`` of a live run's shipper: tells the training process how many bytes
        of files are uploaded out of how many (at most 4 messages a second), so ``finish()``
        can show a progress bar while it waits for a big artifact."""
        state = {"done": 0, "total": 0, "sent": 0.0}
        lock = threading.Lock()

        def report(done: int, added: int) -> None:
            with lock:
                state["total"] += added
                state["done"] = min(state["done"] + done, state["total"])
                now = time.monotonic()
                if state["done"] < state["total"] and now - state["sent"] < 0.25:
                    return
                state["sent"] = now
                self._write({"op": "progress", "path": path, "done": state["done"],
                             "total": state["total"]})

        return report

    def _write(self, msg: dict[str, Any]) -> None:
        with self._out_lock:
            try:
                self.out.write(json.dumps(msg) + "\n")
                self.out.flush()
            except (OSError, ValueError):
                pass

    def _reply(self, path: str, shipper: LogShipper, error: str | None = None) -> None:
        self._write({"op": "done", "path": path, "hwm": shipper.hwm,
                     "pending": shipper.pending(), "error": error,
                     "skipped_bytes": shipper.reader.stats.skipped_bytes})
        self.shippers.pop(path, None)
        self.finishing.pop(path, None)
        self.live.discard(path)

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self.last_heartbeat < self.settings.heartbeat_interval:
            return
        self.last_heartbeat = now
        runs = []
        for path in self.live:
            ident = self.shippers[path].ident if path in self.shippers else None
            if ident and self.shippers[path].known_hwm:
                runs.append((ident[0], ident[1]))
        if runs:
            self.sink.heartbeat(runs)

    def _all_drained(self) -> bool:
        return all(not s.backlog and (s.fatal or not writer_alive(p))
                   for p, s in self.shippers.items()) and not self._unread()

    def _unread(self) -> bool:
        for path, shipper in self.shippers.items():
            try:
                if os.path.getsize(path) > shipper.reader.offset:
                    return True
            except OSError:
                continue
        return False

    def _warn(self, path: str, message: str) -> None:
        """Tell the training process once (it prints the warning) and keep it in the log."""
        if message in self.warned:
            return
        self.warned.add(message)
        text = f"{os.path.basename(os.path.dirname(path))}: {message}"
        self._log(text)
        self._write({"op": "warn", "path": path, "message": text})

    @staticmethod
    def _log(text: str) -> None:
        try:
            sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} kiseki sender: {text}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def main() -> None:
    """Entry point of ``python -m kiseki.sdk.sender``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = Settings.from_json(os.environ["KISEKI_SENDER_SETTINGS"])
    loop = SenderLoop(settings, sys.stdout)
    reader = threading.Thread(target=loop.read_commands, args=(sys.stdin,),
                              name="kiseki-sender-commands", daemon=True)
    reader.start()
    loop.run()


# ----------------------------------------------------------------------------------------------
# the training-process side
# ----------------------------------------------------------------------------------------------

class SenderClient:
    """Starts and talks to the sender process of this training process (one per target).

    A daemon thread (``kiseki-sender-replies``) reads the sender's answers: it is blocked in
    ``read`` (no GIL held) except when a message arrives, which is rare.
    """

    def __init__(self, settings: Settings) -> None:
        env = dict(os.environ)
        env["KISEKI_SENDER_SETTINGS"] = settings.to_json()
        self._pid = os.getpid()
        log = _sender_log(settings)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "from kiseki.sdk.sender import main; main()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                close_fds=True, start_new_session=True, text=True, bufsize=1)
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # the sender has its own copy
        self._replies: dict[str, dict[str, Any]] = {}
        self._progress: dict[str, tuple[int, int]] = {}  # path -> file bytes sent, to send
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read_replies, name="kiseki-sender-replies",
                                        daemon=True)
        self._reader.start()

    def alive(self) -> bool:
        return self._pid == os.getpid() and self._proc.poll() is None

    def _send(self, msg: dict[str, Any]) -> bool:
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(msg) + "\n")
            self._proc.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def watch(self, path: str) -> bool:
        return self._send({"op": "watch", "path": path})

    def recover(self, path: str) -> bool:
        return self._send({"op": "recover", "path": path})

    def finish(self, path: str, seq: int, timeout: float) -> dict[str, Any] | None:
        """Ask the sender to finish ``path`` and wait up to ``timeout`` seconds for it."""
        if not self._send({"op": "finish", "path": path, "seq": seq}):
            return None
        deadline = time.monotonic() + timeout
        bar = UploadBar()
        try:
            with self._cond:
                while path not in self._replies:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._eof:
                        return None
                    self._cond.wait(min(left, 0.25))
                    bar.show(*self._progress.get(path, (0, 0)))
                bar.show(*self._progress.pop(path, (0, 0)))
                return self._replies.pop(path)
        finally:
            bar.close()

    def _read_replies(self) -> None:
        from kiseki.sdk.run import warn

        out = self._proc.stdout
        assert out is not None
        # raw reads on the descriptor: a thread blocked inside a buffered file object holds
        # its lock, and a forked child (DataLoader, Pool workers) that closes that object at
        # exit would wait for the lock forever (R22)
        fd = out.fileno()
        buffer = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                self._on_reply(line, warn)
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _on_reply(self, line: bytes, warn: Any) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            return
        if msg.get("op") == "warn":
            warn(str(msg.get("message")))
            return
        if msg.get("op") == "progress":
            self._progress[str(msg.get("path"))] = (int(msg.get("done") or 0),
                                                    int(msg.get("total") or 0))
            return
        with self._cond:
            self._replies[msg.get("path", "")] = msg
            self._cond.notify_all()

    def close(self) -> None:
        """Close the command pipe; the sender drains what is left and exits on its own."""
        if self._pid != os.getpid():
            return
        try:
            if self._proc.stdin:
                self._proc.stdin.close()
        except OSError:
            pass


class UploadBar:
    """What ``finish()`` shows while files are still uploading: a line redrawn in place on a
    terminal (``kiseki: uploading files 1.2/2.0 GB 60%``), else one line when it starts and
    one when it ends. Nothing for uploads that finish within a second."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.stream = getattr(sys, "__stderr__", None) or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = False
        self.last = (0, 0)

    def show(self, done: int, total: int) -> None:
        if total <= 0 or (done, total) == self.last:
            return
        if not self.shown and (done >= total or time.monotonic() - self.started < 1.0):
            return
        self.last = (done, total)
        text = (f"kiseki: uploading files {_size(done)} / {_size(total)} "
                f"{100 * done // total}%")
        if self.tty:
            self._write(f"\r{text}\x1b[K")
        elif not self.shown or done >= total:
            self._write(text + "\n")
        self.shown = True

    def close(self) -> None:
        if self.shown and self.tty:
            self._write("\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError, RuntimeError):
            pass


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _sender_log(settings: Settings) -> Any:
    """The sender's own log file (its warnings also reach the training process once)."""
    try:
        os.makedirs(settings.root_dir, exist_ok=True)
        return open(os.path.join(settings.root_dir, "sender.log"), "a")  # noqa: SIM115
    except OSError:
        return subprocess.DEVNULL


_clients: dict[str, SenderClient] = {}
_clients_lock = threading.Lock()


def client_for(settings: Settings) -> SenderClient:
    """The sender process for this target, started on first use."""
    key = settings.base_url or settings.store_url()
    with _clients_lock:
        client = _clients.get(key)
        if client is None or not client.alive():
            client = SenderClient(settings)
            _clients[key] = client
        return client


def close_all() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


if __name__ == "__main__":
    main()
