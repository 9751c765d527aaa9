"""series(buckets=1000) latency for metrics of 10k, 1M and 10M points.

Fills a store directly through the ingest path (big batches), then times the store call and
the HTTP round trip through a real `kiseki server`. The figure to watch: the 1M-point query
(target <= 20 ms in the server) and the 10M / 10k ratio (target <= 2x).

    python benchmarks/bench_series.py [--sizes 10000,1000000,10000000] [--database URL] [--json]
"""

from __future__ import annotations

from common import fresh_home, report, running_server

import argparse
import statistics
import sys
import time

import numpy as np


def fill(store, run_id: str, n: int, batch: int = 200_000) -> None:  # type: ignore[no-untyped-def]
    from kiseki.core import records as rec

    seq = 1
    store.ingest("series", run_id, "s", [(seq, rec.RunStart(project="series", run_id=run_id,
                                                            name=run_id, created_at=time.time()))])
    rng = np.random.default_rng(0)
    t0 = time.time()
    for start in range(0, n, batch):
        values = rng.normal(size=min(batch, n - start)).tolist()
        if start == 0:
            values[n // 2 - start if n // 2 < batch else 0] = 1e6  # a spike
        entries = []
        for i, v in enumerate(values):
            seq += 1
            entries.append((seq, rec.Metrics(start + i, t0 + (start + i) * 1e-3, {"loss": v})))
        store.ingest("series", run_id, "s", entries)


def timed(fn, repeat: int = 21) -> float:  # type: ignore[no-untyped-def]
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,1000000,10000000")
    parser.add_argument("--database", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from kiseki.store.sqlstore import SQLStore

    home = fresh_home()
    url = args.database or f"sqlite:///{home}/kiseki.db"
    store = SQLStore.open(url)
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        t = time.perf_counter()
        fill(store, f"n{n}", n)
        print(f"filled {n} points in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    result: dict[str, float] = {}
    for n in sizes:
        result[f"store_ms_{n}"] = timed(lambda: store.series("series", f"n{n}", "loss",
                                                             buckets=1000))
        cols = store.series("series", f"n{n}", "loss", buckets=1000)
        result[f"spike_visible_{n}"] = float(max(cols["max"]) == 1e6)
    store.close()
    result.update(_http(url, home, sizes))
    if len(sizes) > 1:
        result["ratio_largest_to_smallest_http"] = (result[f"http_ms_{sizes[-1]}"]
                                                    / result[f"http_ms_{sizes[0]}"])
    report(result, args.json)


def _http(url: str, home: str, sizes: list[int]) -> dict[str, float]:
    import httpx

    with running_server(home, "--database", url) as server, httpx.Client(timeout=30) as client:
        base = f"{server}/api/v1"
        out = {}
        for n in sizes:
            path = f"{base}/projects/series/runs/n{n}/series"
            out[f"http_ms_{n}"] = timed(lambda: client.get(
                path, params={"key": "loss", "buckets": 1000}).raise_for_status())
        return out


if __name__ == "__main__":
    main()
