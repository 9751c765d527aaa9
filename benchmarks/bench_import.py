"""Time of `import kiseki` in fresh interpreters (median of N).

    python benchmarks/bench_import.py [--n 15] [--json]
"""

from __future__ import annotations

from common import report

import argparse
import statistics
import subprocess
import sys

CODE = ("import time; t = time.perf_counter(); import kiseki; "
        "print((time.perf_counter() - t) * 1000)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    times = [float(subprocess.check_output([sys.executable, "-c", CODE], text=True))
             for _ in range(args.n)]
    result = {"import_kiseki_median_ms": statistics.median(times), "min_ms": min(times),
              "max_ms": max(times), "n": args.n}
    report(result, args.json)


if __name__ == "__main__":
    main()
