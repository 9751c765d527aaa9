"""The same workloads through wandb (offline) and MLflow (SQLite), when they are installed.

Workload A: one run, N steps x 10 float scalars: per-call log latency (median, p99).
Workload B: R runs x S steps x 5 metrics, each from start to end: total seconds.
Prints kiseki's figures beside each installed anchor's and the ratios. Anchors that are not
importable are reported as "not installed" (install them in this environment to compare:
`pip install wandb mlflow`).

    python benchmarks/compare_anchors.py [--steps 20000] [--runs 20] [--run-steps 1000] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import textwrap

LOG_LOOP = """
import json, os, sys, time
names = [f"metric_{{i}}" for i in range(10)]
{setup}
lat = []
clock = time.perf_counter_ns
for step in range({steps}):
    data = {{n: step * 1e-5 + i for i, n in enumerate(names)}}
    t0 = clock()
    {log_call}
    lat.append(clock() - t0)
{teardown}
lat.sort()
print(json.dumps({{"median_us": lat[len(lat)//2] / 1000, "p99_us": lat[int(len(lat)*0.99)] / 1000}}))
"""

MANY_RUNS = """
import json, time
t0 = time.perf_counter()
for r in range({runs}):
    {start}
    for step in range({steps}):
        {log_many}
    {end}
print(json.dumps({{"total_s": time.perf_counter() - t0}}))
"""

TOOLS = {
    "kiseki": {
        "module": "kiseki",
        "setup": "import kiseki; run = kiseki.init(project='cmp', settings={'capture_console': False})",
        "log_call": "run.log(data)",
        "teardown": "run.finish()",
        "start": "import kiseki; run = kiseki.init(project='cmp-many')",
        "log_many": "run.log({'a': step, 'b': 0.5, 'c': 1.0, 'd': 2.0, 'e': 3.0})",
        "end": "run.finish()",
    },
    "wandb": {
        "module": "wandb",
        "setup": "import wandb; run = wandb.init(project='cmp', mode='offline')",
        "log_call": "run.log(data)",
        "teardown": "run.finish()",
        "start": "import wandb; run = wandb.init(project='cmp-many', mode='offline')",
        "log_many": "run.log({'a': step, 'b': 0.5, 'c': 1.0, 'd': 2.0, 'e': 3.0})",
        "end": "run.finish()",
    },
    "mlflow": {
        "module": "mlflow",
        "setup": ("import mlflow; mlflow.set_tracking_uri('sqlite:///' + os.path.join(os.getcwd(), "
                  "'mlflow.db')); mlflow.start_run()"),
        "log_call": "mlflow.log_metrics(data, step=step)",
        "teardown": "mlflow.end_run()",
        "start": ("import mlflow, os; mlflow.set_tracking_uri('sqlite:///' + os.path.join(os.getcwd(),"
                  " 'mlflow.db')); mlflow.start_run()"),
        "log_many": "mlflow.log_metrics({'a': step, 'b': 0.5, 'c': 1.0, 'd': 2.0, 'e': 3.0}, step=step)",
        "end": "mlflow.end_run()",
    },
}


def _run(code: str) -> dict[str, float]:
    work = tempfile.mkdtemp(prefix="kiseki-cmp-")
    env = {**os.environ, "KISEKI_ROOT_DIR": os.path.join(work, "home"), "WANDB_DIR": work,
           "WANDB_SILENT": "true"}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=work, env=env,
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}  # type: ignore[dict-item]
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--run-steps", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, float | str]] = {}
    for name, t in TOOLS.items():
        if importlib.util.find_spec(t["module"]) is None:
            results[name] = {"status": "not installed"}
            continue
        a = _run(LOG_LOOP.format(steps=args.steps, **t))
        b = _run(MANY_RUNS.format(runs=args.runs, steps=args.run_steps, **t))
        results[name] = {**{f"log_{k}": v for k, v in a.items()},
                         **{f"many_runs_{k}": v for k, v in b.items()}}
    base = results["kiseki"]
    for name, res in results.items():
        if name == "kiseki" or "log_median_us" not in res:
            continue
        for key in ("log_median_us", "log_p99_us", "many_runs_total_s"):
            if isinstance(res.get(key), float) and isinstance(base.get(key), float):
                res[f"{key}_ratio_vs_kiseki"] = res[key] / base[key]  # type: ignore[operator]
    print(json.dumps(results, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
