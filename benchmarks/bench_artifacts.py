"""Artifacts: logging 10,000 small files and one large file through a real server.

For each artifact: time from ``log_artifact`` (hashing, staging) to the version committed
(``wait()``: uploaded, verified, committed), peak memory of the training process and of the
sender process; then the same content logged again (bytes uploaded must be 0: the server
already has every blob), and a second download of a cached version (verified from the local
cache, no bytes fetched).

    python benchmarks/bench_artifacts.py [--small 10000] [--big-mb 2048] [--json]
"""

from __future__ import annotations

from common import fresh_home, report, running_server

import argparse
import os
import resource
import threading
import time


def _uploaded_bytes(home: str) -> int:
    total = 0
    for root, _, files in os.walk(os.path.join(home, "blobs")):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


class PeakRss:
    """Peak resident memory of other processes (the sender), sampled every 20 ms."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import psutil

        while not self._stop.is_set():
            for child in self.me.children(recursive=True):
                try:
                    name = "sender" if "sender" in " ".join(child.cmdline()) else "child"
                    rss = child.memory_info().rss
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak.get(name, 0), rss)
            self._stop.wait(0.02)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return self.peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big-mb", type=int, default=2048)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = fresh_home()
    server_home = os.path.join(home, "server")
    os.makedirs(server_home)
    work = os.path.join(home, "work")
    small_dir = os.path.join(work, "small")
    os.makedirs(small_dir)
    for i in range(args.small):
        with open(os.path.join(small_dir, f"{i:05d}.txt"), "wb") as fh:
            fh.write(os.urandom(512) + f"file {i}".encode())
    big = os.path.join(work, "big.bin")
    with open(big, "wb") as fh:
        for _ in range(args.big_mb):
            fh.write(os.urandom(1024 * 1024))
    result: dict[str, float] = {"small_files": float(args.small), "big_mb": float(args.big_mb)}
    with running_server(server_home) as url:
        os.environ["KISEKI_BASE_URL"] = url
        import kiseki

        for label, build in (("small", lambda a: a.add_dir(small_dir)),
                             ("big", lambda a: a.add_file(big))):
            for attempt in ("first", "again"):
                before = _uploaded_bytes(server_home)
                peaks = PeakRss()
                run = kiseki.init(project="bench-artifacts", dir=work,
                                  settings={"capture_console": False, "finish_timeout": 3600})
                t0 = time.perf_counter()
                art = kiseki.Artifact(f"{label}-set", type="dataset")
                build(art)
                run.log_artifact(art)
                art.wait(timeout=3600)
                result[f"{label}_{attempt}_log_to_committed_s"] = time.perf_counter() - t0
                run.finish()
                peak = peaks.stop()
                result[f"{label}_{attempt}_sender_peak_rss_mb"] = peak.get("sender", 0) / 2**20
                result[f"{label}_{attempt}_bytes_uploaded"] = float(
                    _uploaded_bytes(server_home) - before)
                result[f"{label}_{attempt}_version"] = float(art.version.lstrip("v"))
            api = kiseki.Api()
            art = api.artifact(f"bench-artifacts/{label}-set:latest")
            for attempt in ("first", "cached"):
                t0 = time.perf_counter()
                art.download(os.path.join(work, f"dl-{label}-{attempt}"))
                result[f"{label}_download_{attempt}_s"] = time.perf_counter() - t0
            api.close()
    result["training_process_peak_rss_mb"] = resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024
    report(result, args.json)


if __name__ == "__main__":
    main()
