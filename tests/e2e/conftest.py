"""Browser fixtures: Debian's Chromium driven by Playwright against a real `kiseki server`.

The web app must be built (`make ui`, part of `make setup`); Chromium comes from the system
(`apt-get install chromium`, done by `.ci/run`). Playwright never downloads a browser here.
Every page's console errors and uncaught exceptions fail the test that caused them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
# KISEKI_UI_DIR (read by the server too) points at a bundle built elsewhere.
BUNDLE = Path(os.environ.get("KISEKI_UI_DIR") or ROOT / "src" / "kiseki" / "server" / "static") \
    / "index.html"
SHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    path = os.environ.get("KISEKI_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium not found: install Debian's package (apt-get install chromium) "
                    "or set KISEKI_CHROMIUM to its path")
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not BUNDLE.is_file():
        pytest.fail(f"the web app is not built ({BUNDLE} missing): run `make ui`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                               args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; JS errors on the page fail the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    pg.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}")
          if msg.type == "error" else None)
    yield pg
    snapshot = list(errors)
    context.close()
    errors[:] = snapshot
    allowed = getattr(request.node, "allowed_console_errors", ())
    real = [e for e in errors if not any(a in e for a in allowed)]
    assert not real, f"errors on the page: {real}"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[ServerProcess]:
    """A `kiseki server` (SQLite) whose URL the browser opens; clients log to it."""
    srv = ServerProcess(tmp_path / "server").start()
    yield srv
    srv.stop()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-output/screenshots."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
