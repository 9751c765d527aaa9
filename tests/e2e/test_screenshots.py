"""The main pages on the demo project, in both themes; screenshots go to test-output/screenshots.

Also checks the things every page must do: theme toggle persists, keyboard focus is visible,
deep links open the view they name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ServerProcess, run_script
from tests.e2e.conftest import screenshot

POPULATE = """
from kiseki.demo.project import populate
populate(settings={{"base_url": "{url}"}}, runs=3, steps_scale=0.25, echo=True)
"""


def test_main_pages_on_the_demo_project(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    run_script(POPULATE.format(url=web.url), tmp_path, timeout=300)
    runs = httpx.get(f"{web.url}/api/v1/projects/shapes-segmentation/runs").json()["items"]
    # prepare-data, 3 trainings, the one that diverges, evaluate-best
    assert sorted(r["job_type"] for r in runs) == ["data", "eval"] + ["train"] * 4
    ids = [r["id"] for r in runs if r["job_type"] == "train" and r["state"] == "finished"]

    page.goto(web.url + "/")
    page.locator("[data-project='shapes-segmentation']").wait_for()
    screenshot(page, "projects")

    page.goto(web.url + "/p/shapes-segmentation")
    page.locator("[data-testid^='panel-'][data-state='drawn']").first.wait_for()
    screenshot(page, "workspace-light")
    page.get_by_test_id("theme-toggle").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"  # remembered
    page.locator("[data-testid^='panel-'][data-state='drawn']").first.wait_for()
    screenshot(page, "workspace-dark")
    page.get_by_test_id("theme-toggle").click()

    # Keyboard focus is visible: Tab to the first link and read its outline.
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")

    page.goto(f"{web.url}/p/shapes-segmentation/r/{ids[0]}")
    page.get_by_test_id("run-page").wait_for()
    screenshot(page, "run-overview")
    page.goto(f"{web.url}/p/shapes-segmentation/r/{ids[0]}?tab=console")
    page.locator("[data-testid=console] [data-line]").first.wait_for()
    screenshot(page, "run-console")

    page.goto(f"{web.url}/p/shapes-segmentation/compare?runs={ids[0]},{ids[1]}")
    page.get_by_test_id("config-diff").wait_for()
    screenshot(page, "compare")
