"""Feeding a server with real SDK runs for browser tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import ServerProcess, run_script


def log_runs(srv: ServerProcess, tmp_path: Path, body: str, timeout: float = 120.0) -> None:
    """Run ``body`` (a training script using ``kiseki``) against ``srv`` in its own process."""
    run_script("import kiseki, math\n" + body, tmp_path,
               env={"KISEKI_BASE_URL": srv.url, "KISEKI_CAPTURE_SYSTEM": "false"},
               timeout=timeout)


def open_app(page: Any, srv: ServerProcess, path: str = "/") -> Any:
    page.goto(srv.url + path)
    return page
