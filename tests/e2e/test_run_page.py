"""The run page and the compare view, against a real server fed by real SDK scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

import kiseki
from tests.conftest import ServerProcess, run_script
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import log_runs, open_app

SDK_ENV = {"KISEKI_CAPTURE_SYSTEM": "false"}


def run_ids(web: ServerProcess, project: str) -> dict[str, str]:
    """Run name -> run id (empty while the project does not exist yet)."""
    response = httpx.get(f"{web.url}/api/v1/projects/{project}/runs")
    if response.status_code == 404:
        return {}
    response.raise_for_status()
    return {r["name"]: r["id"] for r in response.json()["items"]}


def wait_for(predicate: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_compare_view_marks_differing_config(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
for lr in (0.1, 0.01):
    with kiseki.init(project="cmp", name=f"lr-{lr}",
                     config={"lr": lr, "batch": 32, "opt": {"name": "adam"}}) as run:
        for step in range(20):
            run.log({"train/loss": lr * 10 / (step + 1)}, step=step)
""")
    ids = run_ids(web, "cmp")
    a, b = ids["lr-0.1"], ids["lr-0.01"]
    open_app(page, web, f"/p/cmp/compare?runs={a},{b}")
    table = page.locator("[data-testid=config-diff]")
    lr = table.locator("tr[data-key='lr']")
    lr.wait_for()
    assert lr.get_attribute("data-differs") == "true"
    assert lr.locator(f"td[data-run='{a}']").inner_text() == "0.1"
    assert lr.locator(f"td[data-run='{b}']").inner_text() == "0.01"
    batch = table.locator("tr[data-key='batch']")
    assert batch.get_attribute("data-differs") == "false"
    assert batch.locator(f"td[data-run='{a}']").inner_text() == "32"
    assert table.locator("tr[data-key='opt.name']").get_attribute("data-differs") == "false"
    # The overlaid chart of the metric both runs logged draws both.
    panel = page.locator("[data-testid='compare-charts'] [data-testid='panel-train/loss']")
    panel.scroll_into_view_if_needed()
    expect(panel).to_have_attribute("data-runs", "2", timeout=15_000)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "compare")
    # Only differences: the equal rows go, the lr row stays; the toggle is in the URL.
    page.get_by_test_id("only-diffs").check()
    page.wait_for_url("**diff=1**")
    assert table.locator("tr[data-key='batch']").count() == 0
    assert table.locator("tr[data-key='lr']").count() == 1


def test_run_page_config_notes_and_tags(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
with kiseki.init(project="rp", name="cfg",
                 config={"lr": 0.1, "opt": {"name": "adam", "betas": [0.9, 0.99]},
                         "bad": float("nan"), "markup": "<b>x</b>"}) as run:
    run.log({"loss": 1.0})
    run.summary["best"] = float("inf")
    open("url.txt", "w").write(run.url)
""")
    run = run_ids(web, "rp")["cfg"]
    # run.url (training side) and the read API's url are the run's page in the web app
    url = (tmp_path / "url.txt").read_text()
    assert url == f"{web.url}/p/rp/r/{run}"
    assert kiseki.Api(settings={"base_url": web.url}).run(f"rp/{run}").url == url
    page.goto(url + "?tab=config")
    tree = page.locator("[data-testid=config-tree]")
    tree.locator("[data-key='lr'] .tree-value").wait_for()
    assert tree.locator("[data-key='lr'] .tree-value").inner_text() == "0.1"
    assert tree.locator("[data-key='opt.name'] .tree-value").inner_text() == "adam"
    assert tree.locator("[data-key='opt.betas'] .tree-value").inner_text() == "[0.9,0.99]"
    assert tree.locator("[data-key='bad'] .tree-value").inner_text() == "NaN"
    assert tree.locator("[data-key='markup'] .tree-value").inner_text() == "<b>x</b>"
    assert tree.locator("b").count() == 0
    summary = page.locator("[data-testid=summary-tree]")
    assert summary.locator("[data-key='best'] .tree-value").inner_text() == "inf"
    # The search keeps matching values with the path to them.
    page.get_by_test_id("config-search").fill("ada")
    tree.locator("[data-key='lr']").wait_for(state="detached")
    assert tree.locator("[data-key='opt.name']").count() == 1
    assert tree.locator("[data-key='opt']").count() == 1

    # Notes: edited, saved, still there after a reload, markup shown as text.
    page.get_by_test_id("tab-overview").click()
    page.get_by_test_id("notes-edit").click()
    page.get_by_test_id("notes-input").fill("<b>x</b> tried a higher lr")
    page.get_by_test_id("notes-save").click()
    page.locator("[data-testid=notes-text]", has_text="tried a higher lr").wait_for()
    # Tags: added with Enter, removed with its button.
    page.get_by_test_id("tag-input").fill("best")
    page.get_by_test_id("tag-input").press("Enter")
    page.locator("[data-testid=tags] [data-tag='best']").wait_for()
    page.reload()
    notes = page.get_by_test_id("notes-text")
    notes.wait_for()
    assert notes.inner_text() == "<b>x</b> tried a higher lr"
    assert notes.locator("b").count() == 0
    assert page.locator("[data-testid=tags] [data-tag='best']").count() == 1
    assert httpx.get(f"{web.url}/api/v1/projects/rp/runs/{run}").json()["notes"] == \
        "<b>x</b> tried a higher lr"
    screenshot(page, "run-overview")
    page.get_by_role("button", name="Remove tag best").click()
    page.locator("[data-testid=tags] [data-tag='best']").wait_for(state="detached")
    assert httpx.get(f"{web.url}/api/v1/projects/rp/runs/{run}").json()["tags"] == []


def test_console_shows_printed_lines(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    log_runs(web, tmp_path, """
import sys
with kiseki.init(project="rp", name="printer") as run:
    for i in range(40):
        print(f"epoch {i} <i>done</i>")
    print("something went wrong", file=sys.stderr)
""")
    run = run_ids(web, "rp")["printer"]
    open_app(page, web, f"/p/rp/r/{run}?tab=console")
    console = page.get_by_test_id("console")
    console.locator("[data-line='1']").wait_for()
    assert console.locator("[data-line='1'] .console-text").inner_text() == "epoch 0 <i>done</i>"
    assert console.locator("i").count() == 0
    last = console.locator("[data-line='41']")
    last.wait_for()
    assert last.get_attribute("data-stream") == "stderr"
    assert last.locator(".console-text").inner_text() == "something went wrong"
    assert console.get_attribute("data-total") == "41"
    # A server-side search: only matching lines, with their own line numbers.
    page.get_by_test_id("console-search").fill("epoch 3")
    page.wait_for_url("**cq=epoch**")
    console.locator("[data-line='4']").wait_for()
    console.locator("[data-line='1']").wait_for(state="detached")
    shown = console.locator("[data-line]")
    texts = [shown.nth(i).locator(".console-text").inner_text() for i in range(shown.count())]
    assert texts == ["epoch 3 <i>done</i>"] + [f"epoch {i} <i>done</i>" for i in range(30, 40)]


def test_console_streams_a_running_run(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    script = tmp_path / "streamer.py"
    script.write_text(textwrap.dedent(f"""
        import os, time, kiseki
        with kiseki.init(project="rp", name="streamer") as run:
            print("\\n".join(f"setup {{i}}" for i in range(100)), flush=True)
            for i in range(600):
                print(f"tick {{i}}", flush=True)
                run.log({{"x": i}})
                if os.path.exists({str(stop)!r}):
                    break
                time.sleep(0.2)
    """))
    env = {**os.environ, "KISEKI_BASE_URL": web.url, **SDK_ENV}
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        run = wait_for(lambda: run_ids(web, "rp").get("streamer"), what="the run to start")
        console_url = f"{web.url}/api/v1/projects/rp/runs/{run}/console"
        wait_for(lambda: httpx.get(console_url).json()["total"] > 100, what="console output")
        open_app(page, web, f"/p/rp/r/{run}?tab=console")
        console = page.get_by_test_id("console")
        console.locator("[data-line='101']").wait_for()
        assert page.get_by_test_id("run-state").inner_text() == "running"
        seen = int(console.get_attribute("data-total") or "0")
        # Lines printed after the page loaded appear without a reload, and the view follows
        # them (100 lines of setup are more than the console shows at once).
        later = seen + 5
        line = console.locator(f"[data-line='{later}']")
        line.wait_for()
        assert line.locator(".console-text").inner_text() == f"tick {later - 101}"
        # scrolled into the console's view (not merely rendered below it)
        assert line.evaluate("""el => {
            const box = el.getBoundingClientRect();
            const view = el.closest('[data-testid=console]').getBoundingClientRect();
            return box.top >= view.top && box.bottom <= view.bottom;
        }""")
        screenshot(page, "run-console-live")
    finally:
        stop.write_text("")
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # When the run ends, the page says so and the console has every line.
    page.locator("[data-testid=run-state]", has_text="finished").wait_for()
    total = httpx.get(console_url).json()["total"]
    console.locator(f"[data-line='{total}']").wait_for()


def test_failed_run_shows_traceback(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    proc = run_script("""
import kiseki
with kiseki.init(project="rp", name="crasher") as run:
    run.log({"loss": 1.0})
    raise ValueError("boom <b>bad</b>")
""", tmp_path, env={"KISEKI_BASE_URL": web.url, **SDK_ENV}, check=False)
    assert proc.returncode == 1
    run = run_ids(web, "rp")["crasher"]
    open_app(page, web, f"/p/rp/r/{run}")
    error = page.get_by_test_id("run-error")
    error.wait_for()
    text = error.inner_text()
    assert "Traceback (most recent call last)" in text
    assert 'raise ValueError("boom <b>bad</b>")' in text
    assert text.rstrip().endswith("ValueError: boom <b>bad</b>")
    assert page.get_by_test_id("run-state").inner_text() == "failed"
    assert page.get_by_test_id("run-exit-code").inner_text() == "1"
    assert page.locator("[data-testid=run-failure] b").count() == 0
    screenshot(page, "run-failed")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_environment_tab_shows_git_state(page: Any, web: ServerProcess, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "model.py").write_text("HIDDEN = 64\n")
    git(repo, "add", "model.py")
    git(repo, "commit", "-q", "-m", "first")
    commit = git(repo, "rev-parse", "HEAD")
    (repo / "model.py").write_text("HIDDEN = 128\n")  # uncommitted
    log_runs(web, repo, """
with kiseki.init(project="rp", name="in-git") as run:
    run.log({"loss": 1.0})
""")
    run = run_ids(web, "rp")["in-git"]
    open_app(page, web, f"/p/rp/r/{run}?tab=environment")
    page.get_by_test_id("git-commit").wait_for()
    assert page.get_by_test_id("git-commit").inner_text() == commit
    assert page.get_by_test_id("git-branch").inner_text() == "main"
    assert "uncommitted" in page.get_by_test_id("git-dirty").inner_text()
    diff = page.get_by_test_id("git-diff")
    assert diff.locator("[data-kind=del]").all_inner_texts() == ["-HIDDEN = 64"]
    assert diff.locator("[data-kind=add]").all_inner_texts() == ["+HIDDEN = 128"]
    # The captured script is shown, and so are the Python version and host.
    assert "kiseki.init" in page.get_by_test_id("code-view").inner_text()
    assert page.get_by_test_id("python-version").inner_text().count(".") >= 1
    screenshot(page, "run-environment")
    # The files tab offers the same diff as a file.
    page.get_by_test_id("tab-files").click()
    page.locator("[data-file='diff.patch']").click()
    page.wait_for_url("**file=diff.patch**")
    assert page.get_by_test_id("file-content").locator("[data-kind=add]").all_inner_texts() == \
        ["+HIDDEN = 128"]
