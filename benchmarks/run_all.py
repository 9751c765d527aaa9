"""Run every benchmark and print their figures (not pass/fail; see README.md here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = [
    ["bench_import.py"],
    ["bench_log.py"],
    ["bench_many_runs.py"],
    ["bench_ingest.py"],
    ["bench_series.py"],
    ["compare_anchors.py"],
]


def main() -> None:
    extra = sys.argv[1:]
    for bench in BENCHES:
        print(f"== {bench[0]}", flush=True)
        subprocess.run([sys.executable, str(HERE / bench[0]), *bench[1:], *extra], check=False)


if __name__ == "__main__":
    main()
