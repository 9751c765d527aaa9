"""The built web app loads from `kiseki server` and lists what the SDK logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import ServerProcess
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import log_runs, open_app


def test_projects_page_lists_logged_project(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
for i in range(2):
    with kiseki.init(project="smoke", name=f"run-{i}", config={"lr": 0.1 * (i + 1)}) as run:
        for step in range(50):
            run.log({"train/loss": 1.0 / (step + 1), "val/acc": step / 50})
""")
    open_app(page, web)
    row = page.locator("[data-project='smoke']")
    row.wait_for()
    assert row.locator("[data-testid=run-count]").inner_text() == "2"
    row.get_by_role("link", name="smoke").click()
    page.wait_for_url("**/p/smoke")
    page.locator("[data-testid='panel-train/loss'] canvas").first.wait_for()
    assert page.locator("[data-run-id]").count() == 2
    screenshot(page, "smoke-workspace")
