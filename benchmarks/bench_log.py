"""log() latency and time-to-queryable: one run, 100,000 steps x 10 float scalars.

Measured in the default mode (embedded store, sender process busy ingesting while the loop
runs). Prints median/p99/max of log() in microseconds, checks that every returned record is in
the run log, and how long after the loop all 1,000,000 points are queryable in the store.

    python benchmarks/bench_log.py [--steps 100000] [--keys 10] [--json]
"""

from __future__ import annotations

from common import fresh_home, report

import argparse
import statistics
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = fresh_home()
    import kiseki
    from kiseki.core.records import Metrics
    from kiseki.sdk.runlog import RunLogReader

    names = [f"metric_{i}" for i in range(args.keys)]
    run = kiseki.init(project="bench", dir=home,
                      settings={"capture_console": False, "finish_timeout": 600})
    clock = time.perf_counter_ns
    lat = [0] * args.steps
    log = run.log
    t_loop = time.perf_counter()
    for step in range(args.steps):
        x = step * 1e-5
        data = {name: x + i for i, name in enumerate(names)}
        t0 = clock()
        log(data)
        lat[step] = clock() - t0
    loop_s = time.perf_counter() - t_loop
    t_end = time.perf_counter()
    lat.sort()
    n_logged = sum(1 for e in RunLogReader(run.log_path).read_all(final=False)
                   if isinstance(e.record, Metrics))
    run_id = run.id
    queryable_s = _wait_queryable(kiseki, run_id, args.steps, t_end)
    run.finish()
    result = {
        "log_median_us": lat[len(lat) // 2] / 1000, "log_p99_us": lat[int(len(lat) * 0.99)] / 1000,
        "log_max_us": lat[-1] / 1000, "log_mean_us": statistics.fmean(lat) / 1000,
        "loop_s": loop_s, "records_in_log": n_logged, "steps": args.steps,
        "points": args.steps * args.keys, "all_points_queryable_after_loop_s": queryable_s,
    }
    report(result, args.json)
    if n_logged != args.steps:
        sys.exit("records missing from the run log")


def _wait_queryable(kiseki, run_id: str, steps: int, t_end: float) -> float:  # type: ignore[no-untyped-def]
    from kiseki.store.sqlstore import SQLStore
    from kiseki.sdk.settings import load_settings

    store = SQLStore.open(load_settings().store_url())
    try:
        while True:
            try:
                run = store.get_run("bench", run_id)
                if run["last_step"] == steps - 1:
                    counts = store.series("bench", run_id, "metric_9", buckets=1)["count"]
                    if sum(counts) == steps:
                        return time.perf_counter() - t_end
            except kiseki.KisekiError:
                pass
            time.sleep(0.02)
    finally:
        store.close()


if __name__ == "__main__":
    main()
