"""The tracking core end to end: a wandb-style script, the real server, the read API."""

from __future__ import annotations

import math
from pathlib import Path

import kiseki
from tests.conftest import ServerProcess, run_script

SCRIPT = """
import math, kiseki
run = kiseki.init(project="e2e", name="first", config={"lr": 0.01, "model": {"depth": 4}},
                  tags=["baseline"], group="g1", job_type="train")
run.define_metric("val/acc", summary="max")
for step in range(300):
    run.log({"train/loss": 1.0 / (step + 1), "val/acc": math.sin(step / 50)})
run.summary["note"] = "done"
print("training complete")
run.finish()
print("RUN_ID", run.id)
"""


def _run_id(stdout: str) -> str:
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("RUN_ID"))


def test_script_logs_to_server_and_reads_back(tmp_path: Path, any_server: ServerProcess) -> None:
    proc = run_script(SCRIPT, tmp_path, env={"KISEKI_BASE_URL": any_server.url})
    run_id = _run_id(proc.stdout)
    api = kiseki.Api(settings={"base_url": any_server.url})
    run = api.run(f"e2e/{run_id}")
    assert run.state == "finished"
    assert run.name == "first" and run.tags == ["baseline"] and run.group == "g1"
    assert run.config == {"lr": 0.01, "model": {"depth": 4}}
    assert run.summary["train/loss"] == 1.0 / 300
    assert run.summary["val/acc"] == max(math.sin(s / 50) for s in range(300))
    assert run.summary["note"] == "done"
    rows = list(run.scan_history(keys=["train/loss"], page_size=64))
    assert [r["_step"] for r in rows] == list(range(300))
    assert rows[10]["train/loss"] == 1.0 / 11
    series = run.series("train/loss", buckets=10)
    assert sum(series["count"]) == 300 and series["max"][0] == 1.0
    assert any("training complete" in line["text"] for line in run.console())
    assert run.metadata["command"]["program"].endswith(".py")
    api.close()


def test_embedded_default_without_server(tmp_path: Path) -> None:
    proc = run_script(SCRIPT, tmp_path)
    run = kiseki.Api().run(f"e2e/{_run_id(proc.stdout)}")
    assert run.state == "finished"
    assert run.last_step == 299
    assert len(list(run.scan_history())) == 300
