"""100 runs x 1,000 steps x 5 metrics, each run from init() to finish(), in one process.

finish() returns once the sender has stored the run (embedded default store), so the total
includes ingest. Prints the total and per-run figures.

    python benchmarks/bench_many_runs.py [--runs 100] [--steps 1000] [--json]
"""

from __future__ import annotations

from common import fresh_home, report

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = fresh_home()
    import kiseki

    t0 = time.perf_counter()
    ids = []
    for r in range(args.runs):
        run = kiseki.init(project="many", config={"run": r}, dir=home)
        for step in range(args.steps):
            run.log({"a": step * 0.1, "b": r + step, "c": 1.0 / (step + 1), "d": 0.5, "e": -1.0})
        run.finish()
        ids.append(run.id)
    total = time.perf_counter() - t0
    api = kiseki.Api()
    try:
        stored = sum(1 for r in api.runs("many", per_page=1000) if r.last_step == args.steps - 1)
    except kiseki.NotFoundError:  # offline mode: nothing is stored until `kiseki sync`
        stored = 0
    result = {"runs": args.runs, "steps": args.steps, "metrics": 5, "total_s": total,
              "per_run_ms": total / args.runs * 1000, "runs_fully_stored": stored}
    report(result, args.json)


if __name__ == "__main__":
    main()
