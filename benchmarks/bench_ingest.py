"""Server ingest throughput: 4 concurrent writers posting batches to a real `kiseki server`.

Each writer is its own process with its own run and pre-encoded gzip msgpack batches (as the
SDK's sender sends them: 2,000 entries x 10 metrics = 20,000 points per request), so the
figure measures the server: points stored per second of wall time, from the first request to
the last answer.

    python benchmarks/bench_ingest.py [--writers 4] [--batches 25] [--database URL]
        [--workers-server N] [--json]
"""

from __future__ import annotations

from common import fresh_home, report, running_server

import argparse
import gzip
import multiprocessing as mp
import time
import uuid

ENTRIES = 2_000
KEYS = 10


PROJECT = f"ingest-{uuid.uuid4().hex[:8]}"  # a fresh project: nothing is deduplicated away


def _bodies(writer: int, batches: int, project: str = PROJECT) -> list[bytes]:
    import msgspec

    from kiseki.core import records as rec

    out = []
    seq = 0
    names = [f"m{i}" for i in range(KEYS)]
    for b in range(batches):
        raws = []
        if b == 0:
            seq += 1
            raws.append(msgspec.Raw(rec.encode_entry(seq, rec.RunStart(
                project=project, run_id=f"w{writer}", name=f"w{writer}", created_at=time.time()))))
        for i in range(ENTRIES):
            seq += 1
            step = b * ENTRIES + i
            raws.append(msgspec.Raw(rec.encode_entry(seq, rec.Metrics(
                step, time.time(), {n: step * 0.001 + k for k, n in enumerate(names)}))))
        batch = rec.IngestBatch(project, f"w{writer}", "stream", raws)
        out.append(gzip.compress(rec.encode(batch), compresslevel=1))
    return out


def _writer(url: str, writer: int, batches: int, project: str, ready: mp.Barrier,  # type: ignore[type-arg]
            out: mp.Queue) -> None:  # type: ignore[type-arg]
    import httpx

    bodies = _bodies(writer, batches, project)
    headers = {"Content-Type": "application/x-msgpack", "Content-Encoding": "gzip"}
    with httpx.Client(timeout=120) as client:
        ready.wait()
        t0 = time.time()
        for body in bodies:
            client.post(f"{url}/api/v1/ingest", content=body, headers=headers).raise_for_status()
        out.put((t0, time.time()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--batches", type=int, default=25)
    parser.add_argument("--workers-server", type=int, default=1,
                        help="`kiseki server --workers` (worker processes)")
    parser.add_argument("--database", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = fresh_home()
    extra = ["--workers", str(args.workers_server)]
    if args.database:
        extra += ["--database", args.database]
    with running_server(home, *extra) as url:
        ready = mp.Barrier(args.writers)
        out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        procs = [mp.Process(target=_writer, args=(url, w, args.batches, PROJECT, ready, out))
                 for w in range(args.writers)]
        for p in procs:
            p.start()
        spans = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
        wall = max(s[1] for s in spans) - min(s[0] for s in spans)
        points = args.writers * args.batches * ENTRIES * KEYS
        result = {"writers": args.writers, "server_workers": args.workers_server,
                  "points": points, "wall_s": wall,
                  "points_per_s": points / wall,
                  "database": args.database or "sqlite (default)"}
        report(result, args.json)


if __name__ == "__main__":
    main()
