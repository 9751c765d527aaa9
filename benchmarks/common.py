"""Pieces every benchmark script uses: a fresh kiseki home, a real server, printing figures."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any


def fresh_home() -> str:
    """A new, empty kiseki home for this process (and the processes it starts)."""
    home = tempfile.mkdtemp(prefix="kiseki-bench-")
    os.environ["KISEKI_ROOT_DIR"] = home
    return home


@contextlib.contextmanager
def running_server(home: str, *args: str) -> Iterator[str]:
    """A `kiseki server` process on a free port (log in ``home``); yields its base URL."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(os.path.join(home, "server.log"), "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "kiseki", "server", "--port", str(port),
                                 "--dir", home, *args], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit(f"server did not start; see {home}/server.log")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def report(result: dict[str, Any], as_json: bool) -> None:
    """Print the figures: one JSON object, or one ``name: value`` line each."""
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
