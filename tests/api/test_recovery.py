"""A crash leaves a run log behind: the next kiseki.init in the same folder uploads it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

import kiseki
from tests.conftest import ServerProcess, run_script

CRASHING = """
import kiseki, sys, time
run = kiseki.init(project="rec", id="crashed1")
for step in range(300):
    run.log({"x": step})
print("LOGGED", flush=True)
time.sleep(60)
"""


def test_next_init_uploads_a_log_left_behind(tmp_path: Path, server: ServerProcess) -> None:
    env = {**os.environ, "KISEKI_BASE_URL": "http://127.0.0.1:9", "KISEKI_INIT_TIMEOUT": "1"}
    script = tmp_path / "crash.py"
    script.write_text(CRASHING)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "LOGGED"
    for child in psutil.Process(proc.pid).children(recursive=True):  # the sender dies too
        try:
            child.kill()
        except psutil.NoSuchProcess:  # a short-lived child (environment capture) already ended
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    run_script("""
import kiseki
run = kiseki.init(project="rec", id="next1")
run.log({"y": 1})
run.finish()
""", tmp_path, env={"KISEKI_BASE_URL": server.url})
    api = kiseki.Api(settings={"base_url": server.url})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if api.run("rec/crashed1").last_step == 299:
                break
        except kiseki.NotFoundError:
            pass
        time.sleep(0.2)
    rows = list(api.run("rec/crashed1").scan_history())
    assert [r["_step"] for r in rows] == list(range(300))
    assert api.run("rec/next1").state == "finished"
