"""Run every benchmark and print their figures (not pass/fail; see README.md here).

    python benchmarks/run_all.py [--ui] [options passed to every benchmark, e.g. --json]

``--ui`` adds the web app benchmark (``bench_ui.py``: headless Chromium, a built web app and a
2.5 GB generated store, ~5 min the first time); it gets only ``--json`` of the options.
"""

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
    ["bench_media.py"],
    ["compare_anchors.py"],
]
OPT_IN = {"--ui": ["bench_ui.py"]}


def main() -> None:
    extra = [a for a in sys.argv[1:] if a not in OPT_IN]
    benches = [b + extra for b in BENCHES]
    benches += [bench + [a for a in extra if a == "--json"]
                for flag, bench in OPT_IN.items() if flag in sys.argv[1:]]
    for bench in benches:
        print(f"== {bench[0]}", flush=True)
        subprocess.run([sys.executable, str(HERE / bench[0]), *bench[1:]], check=False)


if __name__ == "__main__":
    main()
