"""Client-side faults (reliability R01-R03, R05-R09) on the real system.

Every test runs a user-style training script in its own process with the real SDK, against a
real ``kiseki server`` process on SQLite (directly, or through a small real HTTP proxy / a TCP
black hole written here), and checks the promise of docs/design/reliability.md: after
reconnection or ``kiseki sync`` the server holds exactly the points whose ``log()`` returned,
each once, and the training loop never crashes or stalls because of kiseki.

Scripts and the test talk through stdout lines (``LOGGED <step>``, ``RUN <id> <dir>``) and
"gate" files the script waits for, so every fault lands at a known point of the run. Every
process the test starts carries a marker variable in its environment (inherited by the SDK's
sender process); the ``marker`` fixture kills whatever is left of them at the end.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest

import kiseki
from kiseki.core import records as rec
from kiseki.sdk.runlog import RunLogReader
from tests.conftest import ServerProcess, free_port

PROJECT = "faults"
MARK_VAR = "KISEKI_TEST_FAULT_MARK"

PRELUDE = '''\
import json, os, sys, time
import kiseki


def gate(name, timeout=60.0):
    """Wait for the test to create file `name` (bounded)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(name):
        if time.monotonic() > deadline:
            sys.exit(f"gate {name} never opened")
        time.sleep(0.005)


def say(*parts):
    print(*parts, flush=True)

'''


# ----------------------------------------------------------------------------------------------
# helpers: processes
# ----------------------------------------------------------------------------------------------

def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - e.g. run not created yet: keep polling
            last_exc = exc
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last error: {last_exc!r})")


def _marked(mark: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARK_VAR) == mark and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def marker() -> Iterator[str]:
    """A tag put into the environment of every process a test starts; leftovers are killed."""
    mark = uuid.uuid4().hex
    yield mark
    for proc in _marked(mark):
        try:
            proc.kill()
        except psutil.Error:
            pass


class Script:
    """A training script (PRELUDE + ``code``) running as ``python script.py`` in ``tmp_path``."""

    def __init__(self, code: str, tmp_path: Path, env: dict[str, str], mark: str) -> None:
        path = tmp_path / f"train_{uuid.uuid4().hex[:6]}.py"
        path.write_text(PRELUDE + textwrap.dedent(code))
        self.stderr_path = tmp_path / f"{path.stem}.stderr"
        full_env = {**os.environ, **env, MARK_VAR: mark}
        self.started = time.monotonic()
        self.ended: float | None = None
        with open(self.stderr_path, "wb") as err:
            # stderr goes to a file: the sender process inherits it and may outlive the script
            self.proc = subprocess.Popen([sys.executable, str(path)], cwd=tmp_path,
                                         stdout=subprocess.PIPE, stderr=err, env=full_env,
                                         text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._eof = False
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def expect(self, prefix: str, timeout: float = 30.0) -> str:
        """Read stdout up to the next line starting with ``prefix``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                pytest.fail(f"no {prefix!r} line within {timeout}s; stderr:\n{self.stderr}")
            if line is None:
                self._eof = True
                pytest.fail(f"script ended before printing {prefix!r}; stderr:\n{self.stderr}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def drain(self, timeout: float = 10.0) -> list[str]:
        """Read the rest of stdout (the script must be ending); return every line seen."""
        deadline = time.monotonic() + timeout
        while not self._eof:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                pytest.fail(f"stdout of the script did not close within {timeout}s")
            if line is None:
                self._eof = True
            else:
                self.seen.append(line)
        return self.seen

    def wait(self, timeout: float) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"script did not exit within {timeout}s; stderr:\n{self.stderr}")
        self.ended = time.monotonic()
        self.drain()
        return rc

    @property
    def wall(self) -> float:
        assert self.ended is not None
        return self.ended - self.started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.ended = time.monotonic()
        self.drain()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def run_info(self) -> tuple[str, str]:
        """(run id, run dir) from the script's ``RUN <id> <dir>`` line."""
        _, run_id, run_dir = self.expect("RUN ").split(" ", 2)
        return run_id, run_dir

    def logged_steps(self) -> list[int]:
        return [int(line.split()[1]) for line in self.seen if line.startswith("LOGGED ")]

    def sender(self, timeout: float = 15.0) -> psutil.Process:
        """The sender process the SDK started for this script."""
        def find() -> psutil.Process | None:
            for child in psutil.Process(self.proc.pid).children():
                if "kiseki.sdk.sender" in " ".join(child.cmdline()):
                    return child
            return None
        proc: psutil.Process = wait_for(find, timeout, "the sender process of the script")
        return proc


@pytest.fixture
def scripts(tmp_path: Path, marker: str) -> Iterator[Callable[..., Script]]:
    started: list[Script] = []

    def start(code: str, env: dict[str, str]) -> Script:
        script = Script(code, tmp_path, env, marker)
        started.append(script)
        return script

    yield start
    for script in started:
        script.close()


def sync(paths: list[str], base_url: str, mark: str, timeout: float = 90.0) -> list[dict[str, Any]]:
    """``python -m kiseki sync PATHS --json`` against ``base_url``; the JSON result per log."""
    env = {**os.environ, "KISEKI_BASE_URL": base_url, MARK_VAR: mark}
    proc = subprocess.run([sys.executable, "-m", "kiseki", "sync", *paths, "--json",
                           "--timeout", "30"], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, f"sync failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def server_on(port: int, data_dir: Path, **kw: Any) -> ServerProcess:
    """A ServerProcess bound to a given port (to restart on, or come up on, a known address)."""
    srv = ServerProcess(data_dir, **kw)
    srv.port, srv.url = port, f"http://127.0.0.1:{port}"
    return srv


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    servers: list[ServerProcess] = []

    def make(port: int | None = None, **kw: Any) -> ServerProcess:
        data = tmp_path / "server"
        srv = server_on(port, data, **kw) if port else ServerProcess(data, **kw)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop(kill=True)


# ----------------------------------------------------------------------------------------------
# helpers: what the user sees
# ----------------------------------------------------------------------------------------------

def log_contents(run_dir: str) -> tuple[list[int], list[rec.Finish]]:
    """Metrics steps (in log order) and Finish records of a run log."""
    reader = RunLogReader(os.path.join(run_dir, "run.kiseki"))
    entries = reader.read_all()
    assert reader.stats.skipped_bytes == 0 and reader.stats.corrupt_frames == 0
    steps = [e.record.step for e in entries if isinstance(e.record, rec.Metrics)]
    finishes = [e.record for e in entries if isinstance(e.record, rec.Finish)]
    return steps, finishes


def stored(base_url: str, run_id: str) -> tuple[Any, list[dict[str, Any]], int]:
    """(run, history rows of ``x``, number of stored ``x`` points) through the read API."""
    with kiseki.Api(settings={"base_url": base_url}) as api:
        run = api.run(f"{PROJECT}/{run_id}")
        rows = list(run.scan_history(keys=["x"], page_size=500))
        points = sum(run.series("x", buckets=50)["count"]) if rows else 0
        return run, rows, points


def assert_exactly_once(base_url: str, run_id: str, n_steps: int) -> Any:
    """Steps 0..n-1 are stored, each exactly once and with its own value; returns the run."""
    run, rows, points = stored(base_url, run_id)
    assert [r["_step"] for r in rows] == list(range(n_steps))
    assert all(r["x"] == float(r["_step"]) for r in rows)
    assert points == n_steps, f"{points} points stored for {n_steps} steps (duplicates?)"
    return run


def state_of(base_url: str, run_id: str) -> str:
    with kiseki.Api(settings={"base_url": base_url}) as api:
        return str(api.run(f"{PROJECT}/{run_id}").state)


def last_step(base_url: str, run_id: str) -> int | None:
    with kiseki.Api(settings={"base_url": base_url}) as api:
        value = api.run(f"{PROJECT}/{run_id}").last_step
        return None if value is None else int(value)


def kiseki_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("kiseki")]


# ----------------------------------------------------------------------------------------------
# helpers: a real HTTP proxy with faults, and a TCP black hole
# ----------------------------------------------------------------------------------------------

Action = tuple[Any, ...]


class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 in front of a real server.

    ``policy(index, body)`` decides for each ``POST /api/v1/ingest`` (``index`` counts them from
    0): ``("forward",)``, ``("answer", status, headers)`` without forwarding,
    ``("forward_then", status)`` (the server applies the batch, the client gets ``status``:
    a lost reply) or ``("delay", seconds)`` then forward. ``heartbeat_status`` answers
    heartbeats without forwarding when set. Everything else is forwarded.
    """

    def __init__(self, upstream_port: int, policy: Callable[[int, bytes], Action],
                 heartbeat_status: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.policy = policy
        self.heartbeat_status = heartbeat_status
        self.counts: collections.Counter[str] = collections.Counter()
        self.ingest_index = 0
        self.max_forwarded_ingest = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = proxy.handle(self.command, self.path, self.headers,
                                                     body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def handle(self, method: str, path: str, headers: Any,
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "POST" and path.startswith("/api/v1/heartbeat") and self.heartbeat_status:
            with self.lock:
                self.counts[f"heartbeat-{self.heartbeat_status}"] += 1
            return self._answer(self.heartbeat_status, {})
        if not (method == "POST" and path.startswith("/api/v1/ingest")):
            return self.forward(method, path, headers, body)
        with self.lock:
            index = self.ingest_index
            self.ingest_index += 1
            action = self.policy(index, body)
            self.counts[str(action[0]) + ("" if action[0] in ("forward", "delay")
                                          else f"-{action[1]}")] += 1
        if action[0] == "answer":
            return self._answer(action[1], action[2])
        if action[0] == "delay":
            time.sleep(action[1])
        result = self.forward(method, path, headers, body)
        with self.lock:
            if result[0] == 200:
                self.counts["applied"] += 1
                self.max_forwarded_ingest = max(self.max_forwarded_ingest, len(body))
        if action[0] == "forward_then":
            return self._answer(action[1], {})
        return result

    @staticmethod
    def _answer(status: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        detail = json.dumps({"detail": f"fault injected by the test proxy (HTTP {status})"})
        return status, {"Content-Type": "application/json", **headers}, detail.encode()

    def forward(self, method: str, path: str, headers: Any,
                body: bytes) -> tuple[int, dict[str, str], bytes]:
        keep = ("Content-Type", "Content-Encoding", "Authorization", "Accept")
        out = {k: headers[k] for k in keep if headers.get(k)}
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=out)
            resp = conn.getresponse()
            data = resp.read()
            reply = {"Content-Type": resp.getheader("Content-Type") or "application/json"}
            if resp.getheader("Retry-After"):
                reply["Retry-After"] = resp.getheader("Retry-After") or ""
            return resp.status, reply, data
        except OSError:
            return 502, {"Content-Type": "text/plain"}, b"upstream unreachable"
        finally:
            conn.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def proxies() -> Iterator[Callable[..., FaultProxy]]:
    made: list[FaultProxy] = []

    def make(*args: Any, **kw: Any) -> FaultProxy:
        proxy = FaultProxy(*args, **kw)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


class BlackHole:
    """A TCP server that accepts connections, reads nothing and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


# ----------------------------------------------------------------------------------------------
# R01: SIGKILL mid log loop
# ----------------------------------------------------------------------------------------------

R01_TRAIN = '''
run = kiseki.init(project="faults")
say("RUN", run.id, run.dir)
for step in range(100_000):
    run.log({"x": float(step)})
    say("LOGGED", step)
    time.sleep(0.001)
'''

R01_RESUME = '''
run = kiseki.init(project="faults", id=os.environ["RUN_ID"], resume="must")
say("START", run.step)
run.log({"x": -1.0})
run.finish()
say("FINISHED")
'''


def test_r01_sigkill_mid_log_loses_nothing(make_server: Callable[..., ServerProcess],
                                           scripts: Callable[..., Script], marker: str) -> None:
    server = make_server(extra=["--heartbeat-timeout", "2"],
                         env={"KISEKI_STARTUP_GRACE": "0"}).start()
    env = {"KISEKI_BASE_URL": server.url, "KISEKI_HEARTBEAT_INTERVAL": "0.5"}
    script = scripts(R01_TRAIN, env)
    run_id, run_dir = script.run_info()
    for _ in range(300):
        script.expect("LOGGED ")
    sender = script.sender()
    script.kill()

    printed = script.logged_steps()
    assert len(printed) >= 300 and printed == list(range(len(printed)))
    # every log() that returned is in the run log, once, in order
    in_log, finishes = log_contents(run_dir)
    assert in_log == list(range(len(in_log))) and len(in_log) >= len(printed)
    assert finishes == []
    # the orphaned sender drains what it knows and exits on its own
    wait_for(lambda: _gone(sender), 30, "the sender to exit after its parent was killed")

    results = sync([run_dir], server.url, marker)
    assert [(r["status"], r["finished"]) for r in results] == [("synced", False)]
    assert_exactly_once(server.url, run_id, len(in_log))
    # no heartbeat any more: crashed after the (2 s) heartbeat timeout
    wait_for(lambda: state_of(server.url, run_id) == "crashed", 30, "state crashed")

    resumed = scripts(R01_RESUME, {**env, "RUN_ID": run_id})
    assert resumed.wait(timeout=60) == 0, resumed.stderr
    start = int(next(line for line in resumed.seen if line.startswith("START")).split()[1])
    assert start == len(in_log)  # last step + 1
    run, rows, points = stored(server.url, run_id)
    assert [r["_step"] for r in rows] == list(range(len(in_log) + 1))
    assert rows[-1]["x"] == -1.0 and all(r["x"] == r["_step"] for r in rows[:-1])
    assert points == len(in_log) + 1
    assert run.state == "finished" and run.last_step == len(in_log)


# ----------------------------------------------------------------------------------------------
# R02: SIGKILL during finish()
# ----------------------------------------------------------------------------------------------

R02_TRAIN = '''
run = kiseki.init(project="faults")
say("RUN", run.id, run.dir)
for step in range(400):
    run.log({"x": float(step)})
say("LOGGED_ALL")
gate("finish.go")
say("FINISHING")
run.finish()
say("FINISHED")
'''


def test_r02_sigkill_during_finish_then_sync_is_idempotent(
        tmp_path: Path, make_server: Callable[..., ServerProcess],
        scripts: Callable[..., Script], marker: str) -> None:
    server = make_server().start()
    script = scripts(R02_TRAIN, {"KISEKI_BASE_URL": server.url, "KISEKI_FINISH_TIMEOUT": "120"})
    run_id, run_dir = script.run_info()
    script.expect("LOGGED_ALL")
    wait_for(lambda: last_step(server.url, run_id) == 399, 30, "the server to hold all points")
    server.stop(kill=True)
    (tmp_path / "finish.go").touch()
    script.expect("FINISHING")
    # finish() wrote its Finish record and now waits for the (unreachable) server
    wait_for(lambda: log_contents(run_dir)[1], 15, "the Finish record in the run log")
    assert script.proc.poll() is None, "finish() returned although the server is down"
    script.kill()
    assert "FINISHED" not in script.seen

    server.start()
    first = sync([run_dir], server.url, marker)
    assert [(r["status"], r["finished"]) for r in first] == [("synced", True)]
    run = assert_exactly_once(server.url, run_id, 400)
    assert (run.state, run.exit_code, run.error) == ("finished", 0, None)

    second = sync([run_dir], server.url, marker)
    assert [(r["status"], r["finished"], r["hwm"]) for r in second] == \
        [("synced", True, first[0]["hwm"])]
    assert second[0]["already_synced_through"] == first[0]["hwm"]  # nothing sent again
    again = assert_exactly_once(server.url, run_id, 400)
    assert (again.state, again.exit_code) == ("finished", 0)
    assert again.updated_at == run.updated_at  # the second sync changed nothing


# ----------------------------------------------------------------------------------------------
# R03: the sender process dies
# ----------------------------------------------------------------------------------------------

R03_TRAIN = '''
run = kiseki.init(project="faults")
say("RUN", run.id, run.dir)
for step in range(200):
    run.log({"x": float(step)})
say("PHASE1")
gate("sender.dead")
t0 = time.monotonic()
worst = 0.0
for step in range(200, 1200):
    a = time.perf_counter()
    run.log({"x": float(step)})
    worst = max(worst, time.perf_counter() - a)
say("PHASE2", time.monotonic() - t0, worst)
run.finish()
say("FINISHED")
'''


def test_r03_sender_death_does_not_stop_training(
        tmp_path: Path, make_server: Callable[..., ServerProcess],
        scripts: Callable[..., Script], marker: str) -> None:
    server = make_server().start()
    script = scripts(R03_TRAIN, {"KISEKI_BASE_URL": server.url, "KISEKI_FINISH_TIMEOUT": "5"})
    run_id, run_dir = script.run_info()
    script.expect("PHASE1")
    sender = script.sender()
    # the sender has delivered the first phase: the server's high-water mark is past step 199
    wait_for(lambda: last_step(server.url, run_id) == 199, 30, "the first 200 steps on the server")
    sender.kill()
    wait_for(lambda: _gone(sender), 10, "the sender to die")
    (tmp_path / "sender.dead").touch()

    _, phase2_seconds, worst = script.expect("PHASE2", timeout=30).split()
    assert float(phase2_seconds) < 5.0 and float(worst) < 0.5
    assert script.wait(timeout=30) == 0, script.stderr
    assert "FINISHED" in script.seen
    assert "kiseki sync" in script.stderr  # finish() says what to do with the rest
    in_log, finishes = log_contents(run_dir)
    assert in_log == list(range(1200)) and [f.state for f in finishes] == ["finished"]
    assert last_step(server.url, run_id) == 199  # nothing was sent after the kill

    results = sync([run_dir], server.url, marker)
    assert [(r["status"], r["finished"]) for r in results] == [("synced", True)]
    run = assert_exactly_once(server.url, run_id, 1200)
    assert (run.state, run.exit_code) == ("finished", 0)


# ----------------------------------------------------------------------------------------------
# R05: server down at init
# ----------------------------------------------------------------------------------------------

R05_TRAIN = '''
t0 = time.monotonic()
run = kiseki.init(project="faults", id="r05-run", resume="allow")
say("INIT", time.monotonic() - t0)
say("RUN", run.id, run.dir)
for step in range(500):
    run.log({"x": float(step)})
run.finish()
say("FINISHED")
'''


def test_r05_server_down_at_init(make_server: Callable[..., ServerProcess],
                                 scripts: Callable[..., Script], marker: str) -> None:
    port = free_port()  # nothing listens here yet
    url = f"http://127.0.0.1:{port}"
    script = scripts(R05_TRAIN, {"KISEKI_BASE_URL": url, "KISEKI_INIT_TIMEOUT": "3",
                                 "KISEKI_FINISH_TIMEOUT": "2"})
    init_seconds = float(script.expect("INIT").split()[1])
    run_id, run_dir = script.run_info()
    assert script.wait(timeout=30) == 0, script.stderr
    assert init_seconds < 5.0
    assert script.wall < 15.0, f"script took {script.wall:.1f}s with the server down"
    assert "FINISHED" in script.seen and "kiseki sync" in script.stderr
    in_log, finishes = log_contents(run_dir)
    assert in_log == list(range(500)) and [f.state for f in finishes] == ["finished"]

    server = make_server(port=port).start()
    results = sync([run_dir], server.url, marker)
    assert [(r["status"], r["finished"]) for r in results] == [("synced", True)]
    run = assert_exactly_once(server.url, run_id, 500)
    assert (run.state, run.exit_code) == ("finished", 0)


# ----------------------------------------------------------------------------------------------
# R06: server down mid-run, then back
# ----------------------------------------------------------------------------------------------

R06_TRAIN = '''
run = kiseki.init(project="faults")
say("RUN", run.id, run.dir)
for step in range(300):
    run.log({"x": float(step)})
say("PHASE1")
gate("server.down")
down = []
for step in range(300, 1300):
    a = time.perf_counter()
    run.log({"x": float(step)})
    down.append(time.perf_counter() - a)
say("PHASE2")
gate("server.up")
for step in range(1300, 1500):
    run.log({"x": float(step)})
t0 = time.monotonic()
run.finish()
say("FINISHED", time.monotonic() - t0)
down.sort()
say("LATENCY", json.dumps({"median": down[len(down) // 2], "max": down[-1]}))
'''


def test_r06_server_down_mid_run_backlog_drains(
        tmp_path: Path, make_server: Callable[..., ServerProcess],
        scripts: Callable[..., Script]) -> None:
    server = make_server().start()
    script = scripts(R06_TRAIN, {"KISEKI_BASE_URL": server.url, "KISEKI_FINISH_TIMEOUT": "60"})
    run_id, _ = script.run_info()
    script.expect("PHASE1")
    server.stop()
    (tmp_path / "server.down").touch()
    script.expect("PHASE2")
    server.start()
    (tmp_path / "server.up").touch()
    assert script.wait(timeout=90) == 0, script.stderr
    latency = json.loads(next(x for x in script.seen if x.startswith("LATENCY")).split(" ", 1)[1])
    # a sanity bound, not a benchmark: log() never waits for the network
    assert latency["median"] < 200e-6, latency
    assert latency["max"] < 0.5, latency
    assert "did not finish" not in script.stderr and "not sent yet" not in script.stderr
    # finish() returned after the backlog drained: everything is there without a sync
    run, rows, points = stored(server.url, run_id)
    assert [r["_step"] for r in rows] == list(range(1500)) and points == 1500
    assert all(r["x"] == r["_step"] for r in rows)
    # drained in order: wall-clock timestamps follow the steps
    stamps = [r["_timestamp"] for r in rows]
    assert stamps == sorted(stamps)
    assert (run.state, run.exit_code) == ("finished", 0)


# ----------------------------------------------------------------------------------------------
# R07: flaky server
# ----------------------------------------------------------------------------------------------

R07_TRAIN = '''
run = kiseki.init(project="faults")
say("RUN", run.id, run.dir)
for chunk in range(40):
    for step in range(chunk * 50, chunk * 50 + 50):
        run.log({"x": float(step)})
    time.sleep(0.02)
run.finish()
say("FINISHED")
'''


def _flaky(index: int, body: bytes) -> Action:
    if index % 5 == 1:
        return ("answer", 500, {})
    if index % 5 == 2:
        return ("answer", 429, {"Retry-After": "0"})
    if index % 7 == 3:
        return ("forward_then", 502)  # applied by the server, reply lost
    if index % 11 == 4:
        return ("delay", 0.3)  # latency spike
    return ("forward",)


def test_r07_flaky_server_no_loss_no_duplicates(make_server: Callable[..., ServerProcess],
                                                scripts: Callable[..., Script],
                                                proxies: Callable[..., FaultProxy]) -> None:
    server = make_server().start()
    proxy = proxies(server.port, _flaky)
    script = scripts(R07_TRAIN, {"KISEKI_BASE_URL": proxy.url, "KISEKI_FINISH_TIMEOUT": "60"})
    run_id, _ = script.run_info()
    assert script.wait(timeout=90) == 0, script.stderr
    assert "did not finish" not in script.stderr
    run = assert_exactly_once(server.url, run_id, 2000)
    assert (run.state, run.exit_code) == ("finished", 0)
    counts = proxy.counts
    assert counts["answer-500"] >= 1 and counts["answer-429"] >= 1, counts
    assert counts["forward_then-502"] >= 1 and counts["applied"] >= 3, counts


# ----------------------------------------------------------------------------------------------
# R08: non-retryable answers
# ----------------------------------------------------------------------------------------------

R08_TRAIN = '''
import random
random.seed(8)
run = kiseki.init(project="faults")
say("RUN", run.id, run.dir)
for step in range(int(os.environ.get("STEPS", "500"))):
    run.log({"x": float(step), "a": random.random(), "b": random.random(),
             "c": random.random()})
say("LOGGED_ALL")
t0 = time.monotonic()
run.finish()
say("FINISHED", time.monotonic() - t0)
'''


def test_r08_401_stops_sending_keeps_log_then_sync_uploads(
        make_server: Callable[..., ServerProcess], scripts: Callable[..., Script],
        proxies: Callable[..., FaultProxy], marker: str) -> None:
    server = make_server().start()
    proxy = proxies(server.port, lambda i, body: ("answer", 401, {}), heartbeat_status=401)
    script = scripts(R08_TRAIN, {"KISEKI_BASE_URL": proxy.url, "KISEKI_FINISH_TIMEOUT": "20"})
    run_id, run_dir = script.run_info()
    sender = script.sender()
    assert script.wait(timeout=60) == 0, script.stderr
    finish_seconds = float(next(x for x in script.seen if x.startswith("FINISHED")).split()[1])
    # refused credentials are not retried: finish() does not sit out its 20 s timeout
    assert finish_seconds < 10.0, script.stderr
    warnings = [line for line in kiseki_lines(script.stderr) if "401" in line]
    assert len(warnings) == 1, script.stderr  # one clear warning ...
    assert "kiseki login" in warnings[0] or "kiseki sync" in warnings[0]
    # ... and the sender stops: it exits, and the refusals stop
    wait_for(lambda: _gone(sender), 15, "the sender to exit after 401")
    refused = proxy.counts["answer-401"]
    assert 1 <= refused <= 3, proxy.counts
    in_log, finishes = log_contents(run_dir)
    assert in_log == list(range(500)) and [f.state for f in finishes] == ["finished"]

    results = sync([run_dir], server.url, marker)  # straight to the server, which accepts it
    assert [(r["status"], r["finished"]) for r in results] == [("synced", True)]
    run = assert_exactly_once(server.url, run_id, 500)
    assert (run.state, run.exit_code) == ("finished", 0)


def test_r08_413_splits_batches(make_server: Callable[..., ServerProcess],
                                scripts: Callable[..., Script],
                                proxies: Callable[..., FaultProxy]) -> None:
    limit = 16 * 1024
    server = make_server().start()
    proxy = proxies(server.port, lambda i, body: ("answer", 413, {}) if len(body) > limit
                    else ("forward",))
    script = scripts(R08_TRAIN, {"KISEKI_BASE_URL": proxy.url, "KISEKI_FINISH_TIMEOUT": "60",
                                 "STEPS": "3000"})
    run_id, _ = script.run_info()
    assert script.wait(timeout=90) == 0, script.stderr
    assert "did not finish" not in script.stderr and "refused" not in script.stderr
    run = assert_exactly_once(server.url, run_id, 3000)
    assert (run.state, run.exit_code) == ("finished", 0)
    assert proxy.counts["answer-413"] >= 1, proxy.counts  # batches were too big at first ...
    assert 0 < proxy.max_forwarded_ingest <= limit  # ... and were split until they fit


def test_r08_409_already_applied_is_success(make_server: Callable[..., ServerProcess],
                                            scripts: Callable[..., Script],
                                            proxies: Callable[..., FaultProxy]) -> None:
    # every batch is stored by the server but answered with 409 "already applied": a client
    # that retried 409 would never get past the first batch
    server = make_server().start()
    proxy = proxies(server.port, lambda i, body: ("forward_then", 409))
    script = scripts(R08_TRAIN, {"KISEKI_BASE_URL": proxy.url, "KISEKI_FINISH_TIMEOUT": "30",
                                 "STEPS": "1500"})
    run_id, _ = script.run_info()
    assert script.wait(timeout=60) == 0, script.stderr
    assert "did not finish" not in script.stderr and "refused" not in script.stderr
    run = assert_exactly_once(server.url, run_id, 1500)
    assert (run.state, run.exit_code) == ("finished", 0)
    assert proxy.counts["forward_then-409"] >= 1, proxy.counts


# ----------------------------------------------------------------------------------------------
# R09: hung connection
# ----------------------------------------------------------------------------------------------

R09_TRAIN = '''
run = kiseki.init(project="faults", id="r09-run", resume="allow")
say("RUN", run.id, run.dir)
for step in range(300):
    run.log({"x": float(step)})
t0 = time.monotonic()
run.finish()
say("FINISHED", time.monotonic() - t0)
'''


def test_r09_hung_connection_finish_is_bounded(make_server: Callable[..., ServerProcess],
                                               scripts: Callable[..., Script],
                                               marker: str) -> None:
    hole = BlackHole()
    try:
        script = scripts(R09_TRAIN, {"KISEKI_BASE_URL": hole.url, "KISEKI_INIT_TIMEOUT": "2",
                                     "KISEKI_FINISH_TIMEOUT": "2"})
        run_id, run_dir = script.run_info()
        assert script.wait(timeout=30) == 0, script.stderr
        assert script.wall < 15.0, f"script took {script.wall:.1f}s against a hung server"
        finish_seconds = float(next(x for x in script.seen if x.startswith("FINISHED")).split()[1])
        assert finish_seconds < 5.0
        assert f"kiseki sync {run_dir}" in script.stderr
        assert hole.accepted, "the SDK never connected to the hung server"
    finally:
        hole.close()
    in_log, finishes = log_contents(run_dir)
    assert in_log == list(range(300)) and [f.state for f in finishes] == ["finished"]

    server = make_server().start()
    results = sync([run_dir], server.url, marker)
    assert [(r["status"], r["finished"]) for r in results] == [("synced", True)]
    run = assert_exactly_once(server.url, run_id, 300)
    assert (run.state, run.exit_code) == ("finished", 0)
