"""Time ``make test-fast`` against the command line it replaced, interleaved in one run.

    python bench/test_fast_bench.py [--runs 3]

Before: the fast suite as it ran until pytest-xdist (one process, the 60 generated configs, the README
walk-through included). After: ``make test-fast`` as the Makefile runs it now. Each run times the two back to
back, so both see the same machine load; the report gives each wall time with the load average at its start,
and the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from synth_bench import machine

ROOT = Path(__file__).resolve().parents[1]
BEFORE = [
    sys.executable,
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "-m",
    "not runtime and not apiserver and not browser and not package",
]
AFTER = ["make", "--no-print-directory", "test-fast", "PYTEST_ADDOPTS=-q -p no:cacheprovider"]


def run_once(command: list[str]) -> tuple[float, float]:
    """Wall time of ``command`` in the repository and the 1-minute load average when it started."""
    load = os.getloadavg()[0]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_K8S_GENERATED_EXAMPLES"}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for _ in range(args.runs):
        for case, command in (("before", BEFORE), ("after", AFTER)):
            times[case].append(run_once(command))
            print(f"  {case}: {times[case][-1][0]:6.1f}s (load {times[case][-1][1]:.1f})", flush=True)
    print(f"`make test-fast`, {args.runs} interleaved runs; {machine()}")
    for case, runs in times.items():
        each = ", ".join(f"{wall:.0f}s (load {load:.1f})" for wall, load in runs)
        print(f"  {case:<6}  median {statistics.median(w for w, _ in runs):6.1f}s  runs: {each}")


if __name__ == "__main__":
    main()
