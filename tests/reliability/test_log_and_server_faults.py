"""Reliability R04, R16-R23: damaged run logs, database and server faults, resume, clock skew,
repeated and concurrent sync, foreign log versions, fork and signals.

Everything runs on the real system: the real RunLogWriter/RunLogReader, real training scripts in
their own processes (with their real sender process), the real `kiseki sync` CLI, real
`kiseki server` processes on SQLite and PostgreSQL. See docs/architecture.md and
/work/shared/design/reliability.md for the promises checked here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiseki
from kiseki.core import records as rec
from kiseki.sdk.runlog import HEADER_PREFIX, MAGIC, RunLogReader, RunLogWriter
from tests.conftest import ServerProcess, _clean_pg, free_port, run_script

FRAME = struct.Struct("<2sII")


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def wait_for(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``cond`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = cond()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last one
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc!r})")


def frames_of(data: bytes) -> tuple[int, list[tuple[int, int, int, bytes]]]:
    """Independent parse of an undamaged log: header length and (start, end, seq, payload)."""
    header_end = data.index(b"\n") + 1
    assert data.startswith(HEADER_PREFIX)
    out = []
    pos = header_end
    while pos < len(data):
        magic, length, crc = FRAME.unpack_from(data, pos)
        assert magic == MAGIC
        payload = data[pos + FRAME.size: pos + FRAME.size + length]
        assert zlib.crc32(payload) == crc
        seq = msgspec.msgpack.decode(payload)[0]
        out.append((pos, pos + FRAME.size + length, seq, payload))
        pos += FRAME.size + length
    assert pos == len(data)
    return header_end, out


def read_log(path: str | Path) -> tuple[RunLogReader, list[Any]]:
    reader = RunLogReader(str(path))
    entries = reader.read_all(final=True)
    return reader, entries


def log_path_of(run_dir: Path) -> Path:
    logs = sorted(run_dir.glob("kiseki-runs/run-*/run.kiseki"))
    assert logs, f"no run log under {run_dir}"
    return logs[-1]


def sync_json(paths: list[str | Path], env: dict[str, str] | None = None,
              timeout: float = 60.0) -> list[dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "kiseki", "sync", "--json", "--timeout", "20",
                           *map(str, paths)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)
    assert proc.returncode == 0, f"sync failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def server_failures(srv: ServerProcess) -> list[str]:
    """Requests the server logged as failed with anything but a transient 503 or 507."""
    failed = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) \S+ failed: (\w+)\(")
    lines = srv.log.read_text(errors="replace").splitlines()
    return [line for line in lines if (m := failed.match(line))
            and m.group(2) not in ("StorageUnavailableError", "StorageFullError")]


def history(api: kiseki.Api, path: str, keys: list[str] | None = None) -> list[dict[str, Any]]:
    return list(api.run(path).scan_history(keys=keys, page_size=1000))


def script_value(stdout: str, tag: str) -> str:
    for line in stdout.splitlines():
        if line.startswith(tag + " "):
            return line.split(" ", 1)[1]
    raise AssertionError(f"{tag!r} not printed by the script:\n{stdout}")


# ----------------------------------------------------------------------------------------------
# R04: torn or corrupt run log
# ----------------------------------------------------------------------------------------------

N_RECORDS = 200


def _metrics(i: int) -> rec.Metrics:
    return rec.Metrics(i, 1.7e9 + i, {"loss": 1.0 / (i + 1), "acc": i / N_RECORDS, "lr": 0.1})


@cache
def _pristine_log() -> bytes:
    """200 Metrics records written by the real RunLogWriter (seq 1..200, step 0..199)."""
    folder = tempfile.mkdtemp(prefix="kiseki-r04-")
    path = os.path.join(folder, "run.kiseki")
    writer = RunLogWriter(path, {"project": "r04", "run_id": "torn", "stream": "s1"})
    for i in range(N_RECORDS):
        assert writer.append(_metrics(i)) == i + 1
    writer.close()
    data = Path(path).read_bytes()
    shutil.rmtree(folder)
    return data


def _check_records(entries: list[Any], seqs: list[int]) -> None:
    """Entries are exactly ``seqs``, in order, with the values that were written."""
    assert [e.seq for e in entries] == seqs
    for e in entries:
        assert e.record == _metrics(e.seq - 1)


def test_r04_truncate_at_every_byte_of_the_tail(tmp_path: Path) -> None:
    data = _pristine_log()
    _, frames = frames_of(data)
    assert len(frames) == N_RECORDS
    path = tmp_path / "run.kiseki"
    tail_start = frames[-3][0]
    for cut in range(tail_start, len(data) + 1):
        path.write_bytes(data[:cut])
        reader, entries = read_log(path)  # never raises
        intact = [seq for start, end, seq, _ in frames if end <= cut]
        _check_records(entries, intact)
        last_end = max(end for _, end, _, _ in frames if end <= cut)
        assert reader.stats.skipped_bytes == cut - last_end, cut
        assert reader.stats.torn_tail_bytes <= cut - last_end
        assert reader.stats.records == len(intact)
        assert reader.stats.gaps == []  # nothing intact after the torn tail
        assert reader.offset == cut  # the whole file was consumed


def test_r04_torn_tail_of_a_live_log_is_not_damage(tmp_path: Path) -> None:
    """While the writer may still be writing, a partial last frame is left for the next read."""
    data = _pristine_log()
    _, frames = frames_of(data)
    path = tmp_path / "run.kiseki"
    start = frames[-1][0]
    path.write_bytes(data[:start + 7])
    reader = RunLogReader(str(path))
    assert [e.seq for e in reader.read()] == list(range(1, N_RECORDS))
    assert reader.stats.skipped_bytes == 0
    with open(path, "ab") as fh:  # the writer completes its frame
        fh.write(data[start + 7:])
    assert [e.seq for e in reader.read()] == [N_RECORDS]
    assert reader.stats.skipped_bytes == 0 and reader.stats.gaps == []


def test_r04_bit_flips_in_a_middle_frame(tmp_path: Path) -> None:
    """Flipping any single bit of frame #100 (magic, length, crc or payload) loses that frame
    only: every other record is returned, the gap is reported around it."""
    data = _pristine_log()
    _, frames = frames_of(data)
    victim = 99  # seq 100
    start, end, seq, _ = frames[victim]
    assert seq == 100
    path = tmp_path / "run.kiseki"
    expected = [s for s in range(1, N_RECORDS + 1) if s != 100]
    for offset in range(start, end):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[offset] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            reader, entries = read_log(path)
            _check_records(entries, expected)
            assert reader.stats.gaps == [(99, 101)], (offset, bit)
            assert reader.stats.skipped_bytes == end - start, (offset, bit)


def test_r04_zeroed_page_in_the_middle(tmp_path: Path) -> None:
    data = _pristine_log()
    _, frames = frames_of(data)
    page = (4096, 8192)
    assert len(data) > page[1] + 1000
    damaged = bytearray(data)
    damaged[page[0]:page[1]] = bytes(page[1] - page[0])
    path = tmp_path / "run.kiseki"
    path.write_bytes(bytes(damaged))
    reader, entries = read_log(path)
    before = [f for f in frames if f[1] <= page[0]]
    after = [f for f in frames if f[0] >= page[1]]
    lost = [f for f in frames if f not in before and f not in after]
    assert len(lost) >= 4096 // (frames[0][1] - frames[0][0])
    _check_records(entries, [f[2] for f in before + after])
    assert reader.stats.gaps == [(before[-1][2], after[0][2])]
    assert reader.stats.skipped_bytes == after[0][0] - before[-1][1]
    assert reader.stats.records == len(before) + len(after)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_r04_random_corruption_property(data: st.DataObject) -> None:
    """Random corruption of random bytes (overwrite, zero runs, truncation) never raises, and
    every frame whose bytes were untouched is returned with its original content."""
    log = _pristine_log()
    header_end, frames = frames_of(log)
    damaged = bytearray(log)
    touched: set[int] = set()
    for _ in range(data.draw(st.integers(1, 6), label="n_damages")):
        kind = data.draw(st.sampled_from(["byte", "run", "bit"]), label="kind")
        offset = data.draw(st.integers(header_end, len(log) - 1), label="offset")
        if kind == "byte":
            damaged[offset] = data.draw(st.integers(0, 255), label="value")
            touched.add(offset)
        elif kind == "bit":
            damaged[offset] ^= 1 << data.draw(st.integers(0, 7), label="bit")
            touched.add(offset)
        else:
            length = data.draw(st.integers(1, 600), label="length")
            fill = data.draw(st.sampled_from([0x00, 0xFF, MAGIC[0], MAGIC[1]]), label="fill")
            stop = min(len(log), offset + length)
            damaged[offset:stop] = bytes([fill]) * (stop - offset)
            touched.update(range(offset, stop))
    cut = data.draw(st.one_of(st.just(len(log)), st.integers(header_end, len(log))), label="cut")
    damaged = damaged[:cut]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "run.kiseki")
        with open(path, "wb") as fh:
            fh.write(bytes(damaged))
        reader, entries = read_log(path)
        # incremental reading, as the sender does while the writer is alive, must not raise
        live = RunLogReader(path)
        live.read(final=False, max_bytes=1024)
        live.read_all(final=True)
    untouched = [seq for start, end, seq, _ in frames
                 if end <= cut and not any(start <= t < end for t in touched)]
    got = {e.seq: e for e in entries}
    missing = [seq for seq in untouched if seq not in got]
    assert not missing, f"untouched frames not returned: {missing}"
    for e in entries:  # whatever came back is a real record, never garbage
        assert 1 <= e.seq <= N_RECORDS and e.record == _metrics(e.seq - 1)
    seqs = [e.seq for e in entries]
    assert seqs == sorted(set(seqs))
    # every byte is accounted for: in a returned frame or counted as skipped
    assert reader.offset == cut
    returned_bytes = sum(FRAME.size + len(e.payload) for e in entries)
    assert reader.stats.skipped_bytes == cut - header_end - returned_bytes


R04_SCRIPT = """
import kiseki
run = kiseki.init(project="r04", mode="offline")
for step in range(300):
    run.log({"x": float(step), "y": step * 0.5})
run.finish()
print("RUN_ID", run.id)
"""


def test_r04_sync_uploads_what_survived_and_reports_the_gap(
        tmp_path: Path, server: ServerProcess) -> None:
    proc = run_script(R04_SCRIPT, tmp_path, env={"KISEKI_CAPTURE_CONSOLE": "false",
                                                 "KISEKI_CAPTURE_SYSTEM_METRICS": "false"})
    run_id = script_value(proc.stdout, "RUN_ID")
    log = log_path_of(tmp_path)
    data = log.read_bytes()
    _, frames = frames_of(data)
    by_seq = {e.seq: e.record for e in read_log(log)[1]}
    metric_frames = [f for f in frames if isinstance(by_seq[f[2]], rec.Metrics)]
    assert len(metric_frames) == 300
    # zero 2000 bytes in the middle of the metrics
    lo = metric_frames[100][0] + 3
    hi = lo + 2000
    damaged = bytearray(data)
    damaged[lo:hi] = bytes(hi - lo)
    log.write_bytes(bytes(damaged))
    survivors = [f for f in frames if f[1] <= lo or f[0] >= hi]
    surviving_steps = sorted(by_seq[f[2]].step for f in survivors
                             if isinstance(by_seq[f[2]], rec.Metrics))
    before = [f for f in frames if f[1] <= lo][-1]
    after = next(f for f in frames if f[0] >= hi)
    assert 200 < len(surviving_steps) < 300

    [res] = sync_json([log.parent], env={"KISEKI_BASE_URL": server.url})
    assert res["status"] == "synced" and res["run"] == f"r04/{run_id}"
    assert res["finished"] is True
    assert res["gaps"] == [[before[2], after[2]]]
    assert res["skipped_bytes"] == after[0] - before[1]
    assert res["records"] == len(survivors)

    with kiseki.Api(settings={"base_url": server.url}) as api:
        run = api.run(f"r04/{run_id}")
        assert run.state == "finished"
        rows = history(api, f"r04/{run_id}")
        assert [r["_step"] for r in rows] == surviving_steps
        assert all(r["x"] == float(r["_step"]) and r["y"] == r["_step"] * 0.5 for r in rows)
        assert run.summary["x"] == 299.0


def test_r04_corrupt_length_in_a_log_larger_than_one_read(tmp_path: Path) -> None:
    """A damaged length field that claims more bytes than the file holds, with more than one
    read chunk (8 MiB) after it: the reader resyncs and returns everything after the damage
    (it used to stop there and silently drop the rest of the log)."""
    path = tmp_path / "run.kiseki"
    writer = RunLogWriter(str(path), {"project": "r04", "run_id": "big", "stream": "s1"})
    values = {f"k{j:04d}": float(j) for j in range(1000)}  # ~15 KB per frame
    starts = []
    for i in range(1000):
        starts.append(path.stat().st_size)
        writer.append(rec.Metrics(i, 1.7e9 + i, values))
    writer.close()
    assert path.stat().st_size - starts[100] > 8 * 1024 * 1024 + 1024  # > one read chunk
    damaged = bytearray(path.read_bytes())
    struct.pack_into("<I", damaged, starts[100] + 2, 100 * 1024 * 1024)  # frame of seq 101
    path.write_bytes(bytes(damaged))
    reader, entries = read_log(path)
    assert [e.seq for e in entries] == [s for s in range(1, 1001) if s != 101]
    assert entries[-1].record == rec.Metrics(999, 1.7e9 + 999, values)
    assert reader.stats.gaps == [(100, 102)]
    assert reader.stats.skipped_bytes == starts[101] - starts[100]


# ----------------------------------------------------------------------------------------------
# R21: a run log written by an older or newer SDK version
# ----------------------------------------------------------------------------------------------

class FutureRecord(msgspec.Struct, array_like=True, tag_field="t", tag="future"):
    """A record type some later SDK version might write."""

    what: str
    payload: dict[str, Any]


class FutureMetrics(msgspec.Struct, array_like=True, tag_field="t", tag="m"):
    """``Metrics`` as a later SDK might write it: one more trailing field."""

    step: int
    ts: float
    values: dict[str, float]
    unit: str = "s"


class OldRunStart(msgspec.Struct, array_like=True, tag_field="t", tag="start"):
    """``RunStart`` as an older SDK wrote it: fewer trailing fields."""

    project: str
    run_id: str
    name: str
    created_at: float


def _foreign_log(folder: Path, run_id: str) -> Path:
    """A log whose header says format version 7 (with fields this SDK does not know), holding
    known, extended, shortened and unknown record types."""
    folder.mkdir(parents=True)
    path = folder / "run.kiseki"
    header = {"project": "r21", "run_id": run_id, "stream": uuid.uuid4().hex,
              "created_at": time.time(), "sdk_version": "9.0.0", "compression": "none",
              "segment": {"index": 0}}
    path.write_bytes(HEADER_PREFIX + b"7 " + json.dumps(header).encode() + b"\n")
    writer = RunLogWriter(str(path), {"ignored": "header exists already"})
    writer.append(OldRunStart("r21", run_id, "from-the-future", time.time()))  # type: ignore[arg-type]
    for step in range(30):
        if step % 10 == 5:
            writer.append(FutureRecord("hologram", {"step": step, "x": [1, 2]}))  # type: ignore[arg-type]
        cls = FutureMetrics if step % 2 else rec.Metrics
        writer.append(cls(step, time.time(), {"loss": step / 10}))  # type: ignore[arg-type]
    writer.append(rec.Finish("finished", 0, time.time()))
    writer.close()
    return path


def test_r21_reader_skips_and_counts_unknown_records(tmp_path: Path) -> None:
    path = _foreign_log(tmp_path / "run-x", "future1")
    reader, entries = read_log(path)
    assert reader.version == 7
    assert reader.header is not None and reader.header["run_id"] == "future1"
    assert len(entries) == 1 + 30 + 3 + 1
    assert reader.stats.unknown_records == 3
    assert [e.seq for e in entries] == list(range(1, 36))
    unknown = [e for e in entries if e.record is None]
    assert len(unknown) == 3 and all(e.payload for e in unknown)
    metrics = [e.record for e in entries if isinstance(e.record, rec.Metrics)]
    assert [m.step for m in metrics] == list(range(30))
    assert [m.values for m in metrics] == [{"loss": s / 10} for s in range(30)]
    start = entries[0].record
    assert isinstance(start, rec.RunStart) and start.name == "from-the-future"
    assert start.config == {} and start.resumed is False
    assert reader.stats.skipped_bytes == 0 and reader.stats.corrupt_frames == 0


def test_r21_sync_uploads_the_rest_and_reports_unknown(tmp_path: Path) -> None:
    path = _foreign_log(tmp_path / "runs" / "run-future2", "future2")
    [res] = sync_json([tmp_path / "runs"])
    assert res["status"] == "synced" and res["run"] == "r21/future2"
    assert res["unknown_records"] == 3
    assert res["records"] == 35 and res["hwm"] == 35 and res["finished"] is True
    assert res["skipped_bytes"] == 0 and res["gaps"] == []
    with kiseki.Api() as api:
        run = api.run("r21/future2")
        assert run.state == "finished" and run.name == "from-the-future"
        rows = history(api, "r21/future2")
        assert [(r["_step"], r["loss"]) for r in rows] == [(s, s / 10) for s in range(30)]
    # the human-readable output says it too
    proc = subprocess.run([sys.executable, "-m", "kiseki", "sync", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "3 record(s) of unknown type skipped" in proc.stdout


# ----------------------------------------------------------------------------------------------
# R18: resume at a lower step than already logged
# ----------------------------------------------------------------------------------------------

QUIET = {"KISEKI_CAPTURE_SYSTEM_METRICS": "false", "KISEKI_CAPTURE_GIT": "false",
         "KISEKI_CAPTURE_CODE": "false"}


def test_r18_lower_step_after_resume_is_loud_and_rewind_is_explicit(tmp_path: Path) -> None:
    run_script("""
        import kiseki
        run = kiseki.init(project="r18", id="rs18")
        for step in range(10):
            run.log({"loss": float(step)})
        run.finish()
    """, tmp_path, env=QUIET)

    # resume, then log below the current step: a StepOrderError the script can catch
    proc = run_script("""
        import kiseki
        run = kiseki.init(project="r18", id="rs18", resume="must")
        print("START", run.step)
        try:
            run.log({"loss": -1.0}, step=5)
            print("NO ERROR")
        except kiseki.StepOrderError as exc:
            print("ERROR", str(exc).replace("\\n", " "))
        try:
            kiseki.log({"loss": -2.0}, step=9)
            print("NO ERROR")
        except kiseki.StepOrderError as exc:
            print("ERROR2", type(exc).__name__)
        run.log({"loss": 10.0})
        run.log({"loss": 11.0})
        run.finish()
    """, tmp_path, env=QUIET)
    assert script_value(proc.stdout, "START") == "10"
    assert "NO ERROR" not in proc.stdout
    message = script_value(proc.stdout, "ERROR")
    assert "step 5" in message and "current step 10" in message
    assert "resume_from='rs18?_step=5'" in message  # names the explicit way to rewind
    assert script_value(proc.stdout, "ERROR2") == "StepOrderError"
    with kiseki.Api() as api:
        rows = history(api, "r18/rs18")
        assert [(r["_step"], r["loss"]) for r in rows] == [(s, float(s)) for s in range(12)]
        assert api.run("r18/rs18").state == "finished"

    # explicit rewind: history >= 5 is replaced by what is logged now
    proc = run_script("""
        import kiseki
        run = kiseki.init(project="r18", resume_from="rs18?_step=5")
        print("START", run.step)
        for step in range(5, 8):
            run.log({"loss": 100.0 + step})
        run.finish()
    """, tmp_path, env=QUIET)
    assert script_value(proc.stdout, "START") == "5"
    with kiseki.Api() as api:
        run = api.run("r18/rs18")
        rows = history(api, "r18/rs18")
        assert [(r["_step"], r["loss"]) for r in rows] == \
            [(s, float(s)) for s in range(5)] + [(s, 100.0 + s) for s in range(5, 8)]
        assert run.state == "finished"
        assert run.last_step == 7
        assert run.summary["loss"] == 107.0
        assert sum(run.series("loss", buckets=4)["count"]) == 8
        assert max(run.series("loss", buckets=4)["max"]) == 107.0

    # resuming after the rewind continues after the rewound history (step 8), not after the
    # steps the rewind deleted
    proc = run_script("""
        import kiseki
        run = kiseki.init(project="r18", id="rs18", resume="must")
        print("START", run.step)
        run.log({"loss": 108.0})
        run.finish()
    """, tmp_path, env=QUIET)
    assert script_value(proc.stdout, "START") == "8"
    with kiseki.Api() as api:
        rows = history(api, "r18/rs18")
        assert [r["_step"] for r in rows] == list(range(9))
        assert rows[-1]["loss"] == 108.0


# ----------------------------------------------------------------------------------------------
# R19: client clock skew / non-monotonic wall clock
# ----------------------------------------------------------------------------------------------

def test_r19_history_ordered_by_step_whatever_the_client_clock(tmp_path: Path) -> None:
    proc = run_script("""
        import itertools, json, time, kiseki
        import kiseki.sdk.run as runmod

        real = time.time
        base = real()
        ticks = itertools.count()
        # the whole process's wall clock is a month behind and runs backwards
        time.time = lambda: base - 30 * 86400 - next(ticks)
        stamps = ([base - 1000.0 * i for i in range(20)]      # backwards
                  + [base + 365 * 86400.0]                      # jumps a year ahead
                  + [base - 10 * 86400.0 - i for i in range(19)]  # and back
                  + [base] * 10)                                # frozen
        clock = iter(stamps)
        runmod._now = lambda: next(clock)
        run = kiseki.init(project="r19")
        for step in range(50):
            run.log({"x": float(step), "y": -float(step)})
        run.finish()
        print("RUN_ID", run.id)
        print("STAMPS", json.dumps(stamps))
    """, tmp_path, env=QUIET)
    run_id = script_value(proc.stdout, "RUN_ID")
    stamps = json.loads(script_value(proc.stdout, "STAMPS"))
    assert "Traceback" not in proc.stderr and "warning" not in proc.stderr.lower()
    with kiseki.Api() as api:
        run = api.run(f"r19/{run_id}")
        assert run.state == "finished"
        rows = history(api, f"r19/{run_id}")
        assert [r["_step"] for r in rows] == list(range(50))
        assert [(r["x"], r["y"]) for r in rows] == [(float(s), -float(s)) for s in range(50)]
        assert [r["_timestamp"] for r in rows] == stamps
        assert run.summary["x"] == 49.0 and run.last_step == 49  # last by step, not by time
        assert sum(run.series("x", buckets=7)["count"]) == 50
        assert sum(run.series("x", buckets=7, x_axis="_timestamp")["count"]) == 50
        assert run.runtime >= 0


# ----------------------------------------------------------------------------------------------
# R22: fork() after init
# ----------------------------------------------------------------------------------------------

R22_SCRIPT = """
import json, multiprocessing, os, signal, sys, time, kiseki

def square(x):
    return x * x

run = kiseki.init(project="r22", config={"lr": 0.1})
for step in range(5):
    run.log({"x": float(step)})
log_path = run.log_path
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    out = {}
    print("child says hi")  # console capture must not forward this into the parent's log
    actions = {
        "log": lambda: run.log({"x": 99.0}),
        "module_log": lambda: kiseki.log({"x": 99.0}),
        "config": lambda: run.config.update({"child": 1}),
        "summary": lambda: run.summary.__setitem__("child", 1),
        "name": lambda: setattr(run, "name", "child"),
        "alert": lambda: run.alert("child", "from the child"),
        "define_metric": lambda: run.define_metric("child/*", summary="max"),
    }
    for name, action in actions.items():
        try:
            action()
            out[name] = None
        except kiseki.UsageError as exc:
            out[name] = str(exc)
        except Exception as exc:
            out[name] = "UNEXPECTED " + repr(exc)
    run.finish()  # not the child's run: nothing happens
    os.write(w, json.dumps(out).encode())
    os.close(w)
    sys.exit(0)  # a normal exit: the child's atexit hooks run too
os.close(w)
chunks = []
while True:
    chunk = os.read(r, 65536)
    if not chunk:
        break
    chunks.append(chunk)
_, status = os.waitpid(pid, 0)
print("CHILD", b"".join(chunks).decode())
print("STATUS", status)
for step in range(5, 10):
    run.log({"x": float(step)})
for _ in range(4):  # Pool.__exit__ terminates its workers with SIGTERM right away
    with multiprocessing.get_context("fork").Pool(2) as pool:
        squares = pool.map(square, range(8))
print("SQUARES", squares)
# a forked worker busy in C code dies at once on SIGTERM, as it would without kiseki
r, w = os.pipe()
busy = os.fork()
if busy == 0:
    os.write(w, b"x")
    sum(range(10**12))  # a loop in C that never returns to the interpreter
    os._exit(3)
os.read(r, 1)
time.sleep(0.2)
os.kill(busy, signal.SIGTERM)
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    pid, status = os.waitpid(busy, os.WNOHANG)
    if pid:
        print("BUSY", "signal" if os.WIFSIGNALED(status) else "exit",
              os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
        break
    time.sleep(0.02)
else:
    print("BUSY still running 5 s after SIGTERM")
    os.kill(busy, signal.SIGKILL)
    os.waitpid(busy, 0)
for step in range(10, 15):
    run.log({"x": float(step)})
run.finish()
print("RUN_ID", run.id)
print("LOG", log_path)
"""


def test_r22_fork_after_init_child_cannot_touch_the_parents_run(tmp_path: Path) -> None:
    proc = run_script(R22_SCRIPT, tmp_path, env=QUIET, timeout=60)  # a hang is the failure
    child = json.loads(script_value(proc.stdout, "CHILD"))
    assert script_value(proc.stdout, "STATUS") == "0"
    for action, message in child.items():
        assert message is not None, f"{action}() in the forked child did not raise"
        assert "forked" in message and "child" in message, (action, message)
    assert script_value(proc.stdout, "SQUARES") == str([x * x for x in range(8)])
    assert script_value(proc.stdout, "BUSY") == f"signal {int(signal.SIGTERM)}"
    run_id = script_value(proc.stdout, "RUN_ID")

    reader, entries = read_log(script_value(proc.stdout, "LOG"))
    assert reader.stats.skipped_bytes == 0 and reader.stats.corrupt_frames == 0
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    metrics = [e.record for e in entries if isinstance(e.record, rec.Metrics)]
    assert [(m.step, m.values) for m in metrics] == [(s, {"x": float(s)}) for s in range(15)]
    assert not any(isinstance(e.record, (rec.ConfigUpdate, rec.SummaryUpdate, rec.RunUpdate,
                                         rec.Alert, rec.DefineMetric)) for e in entries)
    assert sum(isinstance(e.record, rec.Finish) for e in entries) == 1

    with kiseki.Api() as api:
        run = api.run(f"r22/{run_id}")
        assert run.state == "finished" and run.exit_code == 0
        assert run.config == {"lr": 0.1} and "child" not in run.summary
        assert run.name == run_id and run.alerts == []
        assert not any("child says hi" in line["text"] for line in run.console())
        rows = history(api, f"r22/{run_id}")
        assert [(r["_step"], r["x"]) for r in rows] == [(s, float(s)) for s in range(15)]


def test_r22_sigterm_sent_before_a_forked_child_first_runs_still_kills_it(tmp_path: Path) -> None:
    # Pool.terminate() sends SIGTERM to workers that may not have run yet. Under kiseki's
    # Python-level SIGTERM handler, CPython's after-fork code cleared the flag such a signal
    # had set, so the worker lived on and the pool's join hung (seen 4 times in ~25 runs of
    # the script above). Parent and child share one CPU, so the parent's kill always lands
    # before the child runs.
    proc = run_script("""
        import os, signal, time, kiseki
        try:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except (AttributeError, OSError):
            pass
        run = kiseki.init(project="r22-race")
        outcomes = []
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                time.sleep(2)
                os._exit(7)
            os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            outcomes.append(f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                            else f"exit {os.WEXITSTATUS(status)}")
        run.log({"x": 1.0})  # the parent's own handling is untouched
        print("OUTCOMES", "|".join(outcomes))
        run.finish()
        """, tmp_path, env=QUIET, timeout=60)
    assert script_value(proc.stdout, "OUTCOMES") == "|".join([f"signal {int(signal.SIGTERM)}"] * 5)


# ----------------------------------------------------------------------------------------------
# R23: SIGTERM / SIGINT
# ----------------------------------------------------------------------------------------------

R23_SCRIPT = """
import sys, time, kiseki
from kiseki.core.records import Environment
from kiseki.sdk.runlog import RunLogReader

run = kiseki.init(project="r23")
print("RUN_ID", run.id, flush=True)
# let the environment capture land first: the tight loop below keeps the log's lock so busy
# that the capture thread starves, and the SIGTERM handler would wait 5 s for it
reader, deadline = RunLogReader(run.log_path), time.monotonic() + 20
while time.monotonic() < deadline:
    if any(isinstance(e.record, Environment) for e in reader.read()):
        break
    time.sleep(0.01)
progress = open("progress.txt", "w")
for step in range(2_000_000):  # a tight loop: the signal lands anywhere, also inside log()
    run.log({"x": float(step)})
    if step % 64 == 0:  # mostly log(): the signal most likely lands inside it
        progress.write(f"{step}\\n")
        progress.flush()
time.sleep(60)
"""


def _signal_a_logging_script(tmp_path: Path, sig: int) -> tuple[str, int, float]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(R23_SCRIPT))
    env = {**os.environ, **QUIET, "KISEKI_CAPTURE_HARDWARE": "false"}
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with open(out_path, "w") as out, open(err_path, "w") as err:  # files: a pipe would fill
        proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                                stdout=out, stderr=err)
    try:
        progress = tmp_path / "progress.txt"
        wait_for(lambda: progress.exists() and progress.stat().st_size > 200, 30,
                 "the script to log")
        os.kill(proc.pid, sig)
        sent = time.monotonic()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("script did not exit within 30 s of the signal (deadlock in "
                                 f"the signal handler?):\n{err_path.read_text()[-3000:]}"
                                 ) from None
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = progress.read_text().split("\n")
    last_done = int([line for line in lines if line][-1])
    return script_value(out_path.read_text(), "RUN_ID"), last_done, took


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_r23_signal_flushes_marks_killed_and_resumes(tmp_path: Path, sig: int) -> None:
    run_id, last_done, took = _signal_a_logging_script(tmp_path, sig)
    assert took < 20
    with kiseki.Api() as api:
        run = api.run(f"r23/{run_id}")
        assert run.state == "killed"
        assert run.exit_code == (143 if sig == signal.SIGTERM else 130)
        steps = [r["_step"] for r in history(api, f"r23/{run_id}", keys=["x"])]
    # every log() that returned before the signal is stored (the one in flight may be too)
    assert steps == list(range(len(steps)))
    assert last_done + 1 <= len(steps) <= last_done + 65  # progress is written every 64 steps

    proc = run_script(f"""
        import kiseki
        run = kiseki.init(project="r23", id="{run_id}", resume="must")
        print("START", run.step)
        for _ in range(3):
            run.log({{"x": -1.0}})
        run.finish()
    """, tmp_path, env=QUIET)
    assert script_value(proc.stdout, "START") == str(len(steps))
    with kiseki.Api() as api:
        run = api.run(f"r23/{run_id}")
        assert run.state == "finished"
        rows = history(api, f"r23/{run_id}", keys=["x"])
        assert [r["_step"] for r in rows] == list(range(len(steps) + 3))
        assert [r["x"] for r in rows[-3:]] == [-1.0] * 3


# ----------------------------------------------------------------------------------------------
# R16: SQLite lock contention; PostgreSQL connections killed under a live server
# ----------------------------------------------------------------------------------------------

R16_SCRIPT = """
import sys, kiseki
worker = int(sys.argv[2])
run = kiseki.init(project="r16", id=sys.argv[1], config={"worker": worker})
for step in range(250):
    run.log({"loss": 1.0 / (step + 1), "worker": float(worker)})
    if step % 50 == 0:
        run.summary["checkpoint"] = step
run.finish()
"""


def test_r16_sqlite_many_concurrent_writers(tmp_path: Path, isolated_home: Path) -> None:
    """Four training processes (each with its own sender process) write into one embedded
    SQLite store at once: every run completes with every point; the file is not corrupt."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(R16_SCRIPT))
    env = {**os.environ, **QUIET}
    procs = [subprocess.Popen([sys.executable, str(script), f"w{i}", str(i)], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(4)]
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=90))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "not finish" not in err and "warning" not in err, err
    with kiseki.Api() as api:
        assert len(api.runs("r16")) == 4
        for i in range(4):
            run = api.run(f"r16/w{i}")
            assert run.state == "finished" and run.config == {"worker": i}
            assert run.summary["checkpoint"] == 200 and run.summary["worker"] == float(i)
            rows = history(api, f"r16/w{i}")
            assert [(r["_step"], r["loss"], r["worker"]) for r in rows] == \
                [(s, 1.0 / (s + 1), float(i)) for s in range(250)]
    db = sqlite3.connect(isolated_home / "kiseki.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()


R16_PG_SCRIPT = """
import time, kiseki
run = kiseki.init(project="r16pg", id="pgrun")
for step in range(300):
    run.log({"x": float(step)})
    time.sleep(0.01)
run.finish()
"""


def _terminate_backends(admin_url: str) -> int:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return len(rows)


@pytest.mark.postgres
def test_r16_postgres_connections_killed_while_a_client_logs(
        tmp_path: Path, pg_url: str) -> None:
    _clean_pg(pg_url)
    srv = ServerProcess(tmp_path / "server", database_url=pg_url).start()
    admin_url = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    answers: list[tuple[int, float, str]] = []
    killed: list[int] = []
    stop = threading.Event()

    def chaos() -> None:
        with httpx.Client(base_url=srv.url, timeout=10.0) as client:
            while not stop.is_set():
                killed.append(_terminate_backends(admin_url))
                for path in ("/api/v1/projects", "/api/v1/projects/r16pg/runs/pgrun"):
                    started = time.monotonic()
                    try:
                        resp = client.get(path)
                        answers.append((resp.status_code, time.monotonic() - started,
                                        resp.text[:300]))
                    except httpx.HTTPError as exc:
                        answers.append((0, time.monotonic() - started, repr(exc)))
                stop.wait(0.3)

    chaos_thread = threading.Thread(target=chaos, daemon=True)
    try:
        chaos_thread.start()
        run_script(R16_PG_SCRIPT, tmp_path, env={**QUIET, "KISEKI_BASE_URL": srv.url},
                   timeout=90)
        stop.set()
        chaos_thread.join(timeout=20)
        assert not chaos_thread.is_alive()
        assert sum(killed) > 0, "no backend was terminated: the fault did not happen"
        for status, took, body in answers:
            assert status in (200, 404, 503), (status, body)  # never a 500
            assert took < 5.0, (status, took)  # answers quickly, never hangs
            if status == 503:
                assert "Traceback" not in body
        # the server recovered: normal answers again, and every point arrived exactly once
        with kiseki.Api(settings={"base_url": srv.url}) as api:
            run = api.run("r16pg/pgrun")
            assert run.state == "finished"
            rows = history(api, "r16pg/pgrun")
            assert [(r["_step"], r["x"]) for r in rows] == [(s, float(s)) for s in range(300)]
            assert sum(run.series("x", buckets=10)["count"]) == 300
        assert server_failures(srv) == []  # what failed was answered 503, never 500
    finally:
        stop.set()
        srv.stop()


# ----------------------------------------------------------------------------------------------
# R17: server restart during runs
# ----------------------------------------------------------------------------------------------

R17_SCRIPT = """
import os, time, kiseki
run = kiseki.init(project="r17")
print("RUN_ID", run.id, flush=True)
step = 0
deadline = time.monotonic() + 60
while not os.path.exists("stop") and time.monotonic() < deadline:
    run.log({"x": float(step)})
    step += 1
    time.sleep(0.02)
run.finish()
print("STEPS", step, flush=True)
"""


def test_r17_server_restart_does_not_mark_live_runs_crashed(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "server", extra=["--heartbeat-timeout", "3"]).start()
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(R17_SCRIPT))
    out_path = tmp_path / "stdout.txt"
    env = {**os.environ, **QUIET, "KISEKI_BASE_URL": srv.url, "KISEKI_HEARTBEAT_INTERVAL": "0.5"}
    with open(out_path, "w") as out:
        proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    states: list[tuple[str, str]] = []

    def state(phase: str) -> str:
        with httpx.Client(base_url=srv.url, timeout=5.0) as client:
            resp = client.get(f"/api/v1/projects/r17/runs/{run_id}")
        assert resp.status_code == 200, resp.text
        states.append((phase, resp.json()["state"]))
        return str(resp.json()["state"])

    def watch(phase: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            state(phase)
            time.sleep(0.2)

    try:
        run_id = wait_for(lambda: "RUN_ID" in out_path.read_text() and
                          script_value(out_path.read_text(), "RUN_ID"), 30, "the run to start")
        wait_for(lambda: state("start") == "running", 30, "the run on the server")
        watch("before", 1.0)
        srv.stop()
        time.sleep(2.0)  # the fault itself: the server is down for ~2 s
        srv.start()
        watch("after restart", 3.0 + 2.5)  # through the startup grace and past it
        assert all(s == "running" for _, s in states), states
        (tmp_path / "stop").touch()
        proc.wait(timeout=60)
        assert proc.returncode == 0, out_path.read_text()
        steps = int(script_value(out_path.read_text(), "STEPS"))
        with kiseki.Api(settings={"base_url": srv.url}) as api:
            run = api.run(f"r17/{run_id}")
            assert run.state == "finished"
            rows = history(api, f"r17/{run_id}")
            assert [(r["_step"], r["x"]) for r in rows] == [(s, float(s)) for s in range(steps)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        srv.stop()


# ----------------------------------------------------------------------------------------------
# R20: sync twice, two syncs at once, a partial sync resumes
# ----------------------------------------------------------------------------------------------

def _offline_run(tmp_path: Path, steps: int, project: str = "r20") -> tuple[str, Path]:
    proc = run_script(f"""
        import kiseki
        run = kiseki.init(project="{project}", mode="offline")
        for step in range({steps}):
            run.log({{"x": float(step)}})
        run.finish()
        print("RUN_ID", run.id)
    """, tmp_path, env={**QUIET, "KISEKI_CAPTURE_CONSOLE": "false"})
    return script_value(proc.stdout, "RUN_ID"), log_path_of(tmp_path).parent


def _assert_exactly_once(url: str, path: str, steps: int) -> None:
    with kiseki.Api(settings={"base_url": url}) as api:
        run = api.run(path)
        assert run.state == "finished" and run.last_step == steps - 1
        rows = history(api, path)
        assert len(rows) == steps
        assert all(r["_step"] == s and r["x"] == float(s) for s, r in enumerate(rows))
        assert sum(run.series("x", buckets=16)["count"]) == steps  # no duplicate point


def test_r20_sync_twice_is_a_no_op(tmp_path: Path, server: ServerProcess) -> None:
    run_id, run_dir = _offline_run(tmp_path, 300)
    env = {"KISEKI_BASE_URL": server.url}
    [first] = sync_json([run_dir], env=env)
    assert first["status"] == "synced" and first["already_synced_through"] == 0
    assert first["finished"] is True and first["hwm"] == first["records"]
    _assert_exactly_once(server.url, f"r20/{run_id}", 300)
    [second] = sync_json([run_dir], env=env)
    assert second["status"] == "synced"
    assert second["already_synced_through"] == first["hwm"] == second["hwm"]
    _assert_exactly_once(server.url, f"r20/{run_id}", 300)


def test_r20_two_syncs_of_one_log_at_once(tmp_path: Path, any_server: ServerProcess) -> None:
    run_id, run_dir = _offline_run(tmp_path, 3000)
    env = {**os.environ, "KISEKI_BASE_URL": any_server.url}
    cmd = [sys.executable, "-m", "kiseki", "sync", "--json", "--timeout", "20", str(run_dir)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        results.append(json.loads(out.splitlines()[-1]))
    assert [r["status"] for r in results] == ["synced", "synced"]
    assert results[0]["hwm"] == results[1]["hwm"] == 3003  # start, 3000 metrics, env, finish
    assert server_failures(any_server) == []  # the race is no 500 either
    _assert_exactly_once(any_server.url, f"r20/{run_id}", 3000)


def test_r20_killed_sync_resumes(tmp_path: Path, server: ServerProcess) -> None:
    steps = 100_000  # five ingest batches of 20,000 entries
    run_id, run_dir = _offline_run(tmp_path, steps)
    env = {**os.environ, "KISEKI_BASE_URL": server.url}
    cmd = [sys.executable, "-m", "kiseki", "sync", "--json", "--timeout", "20", str(run_dir)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=server.url, timeout=5.0) as client:
            def first_batch_in() -> int | None:
                resp = client.get(f"/api/v1/projects/r20/runs/{run_id}")
                return resp.json()["last_step"] if resp.status_code == 200 else None
            seen = wait_for(first_batch_in, 60, "the first batch", interval=0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert 0 < seen < steps - 1, "the sync was not killed midway"
    [res] = sync_json([run_dir], env={"KISEKI_BASE_URL": server.url})
    assert res["status"] == "synced" and res["finished"] is True
    assert res["already_synced_through"] >= 20_000  # resumed from the server's mark
    _assert_exactly_once(server.url, f"r20/{run_id}", steps)


def test_r23_sigterm_while_finish_waits_for_an_unreachable_server(
        tmp_path: Path, server: ServerProcess) -> None:
    """Preempted while ``finish()`` waits for a server that is down: the process still dies at
    once (the handler does not start a second finish on top of the first one, which used to
    deadlock), and the log it leaves syncs completely."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import kiseki
        run = kiseki.init(project="r23")
        print("RUN_ID", run.id, flush=True)
        for step in range(20):
            run.log({"x": float(step)})
        run.finish()
    """))
    out_path = tmp_path / "stdout.txt"
    env = {**os.environ, **QUIET, "KISEKI_BASE_URL": f"http://127.0.0.1:{free_port()}",
           "KISEKI_FINISH_TIMEOUT": "60"}
    with open(out_path, "w") as out:
        proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        def finish_written() -> bool:
            logs = list(tmp_path.glob("kiseki-runs/run-*/run.kiseki"))
            return bool(logs) and any(isinstance(e.record, rec.Finish)
                                      for e in RunLogReader(str(logs[0])).read_all(final=False))
        wait_for(finish_written, 30, "finish() to write its Finish record")
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("SIGTERM during finish() did not end the process") from None
        assert proc.returncode == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run_id = script_value(out_path.read_text(), "RUN_ID")
    [res] = sync_json([tmp_path / "kiseki-runs"], env={"KISEKI_BASE_URL": server.url})
    assert res["status"] == "synced" and res["finished"] is True
    _assert_exactly_once(server.url, f"r23/{run_id}", 20)


# ----------------------------------------------------------------------------------------------
# R13: the server's disk fills up
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A real 24 MB filesystem (tmpfs) that fills up with ENOSPC like a full disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI and the dev VM run as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Write a filler file until the filesystem refuses (ENOSPC)."""
    filler = folder / "filler"
    block = os.urandom(1024 * 1024)
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC
    with open(filler, "ab", buffering=0) as out:  # the last few KB too
        try:
            while True:
                out.write(block[:4096])
        except OSError:
            pass
    return filler


def test_r13_server_disk_full_507_then_everything_arrives(tmp_path: Path,
                                                           small_disk: Path) -> None:
    srv = ServerProcess(small_disk / "server")
    srv.log = tmp_path / "server.log"  # the server's own log stays off the full disk
    srv.start()
    env = {**QUIET, "KISEKI_BASE_URL": srv.url, "KISEKI_CAPTURE_CONSOLE": "false"}
    try:
        first = script_value(run_script("""
            import kiseki
            with kiseki.init(project="r13", name="before") as run:
                for step in range(50):
                    run.log({"x": float(step)})
            print("RUN_ID", run.id)
        """, tmp_path, env=env).stdout, "RUN_ID")
        filler = _fill(small_disk)

        # a blob upload is refused with 507, names the problem, leaves no half-written object
        payload = os.urandom(2 * 1024 * 1024)
        sha = hashlib.sha256(payload).hexdigest()
        resp = httpx.put(f"{srv.url}/api/v1/blobs/{sha}", content=payload, timeout=30)
        assert resp.status_code == 507, resp.text
        assert "full" in resp.json()["detail"] and "retry" in resp.json()["detail"]
        assert resp.headers["Retry-After"]
        blob_root = small_disk / "server" / "blobs"
        leftovers = [p.name for p in blob_root.rglob("*") if p.is_file()]
        assert not any(sha in name or name.startswith(".upload-") for name in leftovers)

        # reads keep working
        with kiseki.Api(settings={"base_url": srv.url}) as api:
            assert [r["x"] for r in history(api, f"r13/{first}")] == [float(s) for s in range(50)]

        # a training run while the disk is full: never crashed, its data waits in the run log
        work = tmp_path / "work"
        work.mkdir()
        proc = run_script("""
            import os, kiseki
            with open("weights.bin", "wb") as fh:
                fh.write(bytes(range(256)) * 12288)  # 3 MiB
            run = kiseki.init(project="r13", name="during", settings={"finish_timeout": 6})
            for step in range(200):
                run.log({"x": float(step)})
            art = kiseki.Artifact("weights", type="model")
            art.add_file("weights.bin")
            run.log_artifact(art)
            run.finish()
            print("RUN_ID", run.id)
        """, work, env=env, timeout=120)
        second = script_value(proc.stdout, "RUN_ID")

        # space comes back: sync delivers everything, exactly once, the file verified
        filler.unlink()
        [result] = sync_json([log_path_of(work).parent], env={"KISEKI_BASE_URL": srv.url})
        assert result["status"] == "synced" and result["finished"] is True
        with kiseki.Api(settings={"base_url": srv.url}) as api:
            rows = history(api, f"r13/{second}")
            assert [r["x"] for r in rows] == [float(s) for s in range(200)]
            art = api.artifact("r13/weights:latest")
            assert art.version == "v0"
            out = art.download(root=str(tmp_path / "down"))
            assert (Path(out) / "weights.bin").read_bytes() == bytes(range(256)) * 12288
        assert server_failures(srv) == []  # every refusal was a 507 (or 503), nothing else
        assert "StorageFullError" in srv.log.read_text(errors="replace")
    finally:
        srv.stop()


def test_r13_a_full_database_is_told_apart_from_a_busy_one(tmp_path: Path) -> None:
    """SQLite's "database or disk is full" (here a real one: a page limit) becomes a 507 with
    a message naming it; a locked database stays a 503."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from kiseki.core.errors import StorageFullError, StorageUnavailableError
    from kiseki.server.errors import status_for
    from kiseki.store.sqlstore import _unavailable

    engine = create_engine(f"sqlite:///{tmp_path / 'small.db'}")
    with pytest.raises(OperationalError) as full:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA max_page_count = 8")
            conn.exec_driver_sql("CREATE TABLE t (x BLOB)")
            for _ in range(100):
                conn.exec_driver_sql("INSERT INTO t VALUES (randomblob(4000))")
    error = _unavailable(full.value)
    assert isinstance(error, StorageFullError) and status_for(error) == 507
    assert "database is full" in str(error) and "free space" in str(error)

    other = create_engine(f"sqlite:///{tmp_path / 'small.db'}",
                          connect_args={"timeout": 0.05})
    with engine.connect() as holder:
        holder.exec_driver_sql("BEGIN EXCLUSIVE")
        with pytest.raises(OperationalError) as locked:
            with other.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        holder.exec_driver_sql("ROLLBACK")
    busy = _unavailable(locked.value)
    assert type(busy) is StorageUnavailableError and status_for(busy) == 503
